//! The thresholds as data: one row per figure, in report order, with its unit, limit,
//! meaning and advice. A reviewer reads every threshold of the findings in [`THRESHOLDS`];
//! changing one is editing a number here, nothing else.

use serde::Serialize;

/// When a figure is a warning.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Warning when the value is greater than this.
    Above(f64),
    /// Warning when the value is less than this.
    Below(f64),
    /// No threshold: the figure is information.
    None,
}

impl Limit {
    /// Whether `value` is on the warning side of the limit (never for [`Limit::None`]).
    pub fn is_warning(self, value: f64) -> bool {
        match self {
            Limit::Above(x) => value > x,
            Limit::Below(x) => value < x,
            Limit::None => false,
        }
    }
}

/// Which of the original four tests (or the durability check) a figure belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    Network,
    LogIo,
    Consensus,
    Disk,
    Durability,
    /// Where the CPU goes, beyond the four layers (spinning threads).
    Cpu,
    /// The node as a process: memory, threads, crashes.
    Process,
}

impl Test {
    pub fn title(self) -> &'static str {
        match self {
            Test::Network => "Network layer",
            Test::LogIo => "Log & I/O layer",
            Test::Consensus => "Consensus layer",
            Test::Disk => "Disk I/O",
            Test::Durability => "Durability",
            Test::Cpu => "CPU",
            Test::Process => "Process health",
        }
    }
}

/// One row of the thresholds table.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Threshold {
    pub id: &'static str,
    pub test: Test,
    /// What is measured, as the message starts: "send/recv share".
    pub figure: &'static str,
    pub unit: &'static str,
    pub limit: Limit,
    /// What a warning means.
    pub meaning: &'static str,
    /// What to do about it.
    pub advice: &'static str,
    /// What the figure means when it is not a warning (or for information figures).
    pub ok_meaning: &'static str,
    /// `spec` (the original script's threshold, "script" in the README) or `tracer` (added by
    /// tracer, see meaning).
    pub origin: &'static str,
}

/// Every figure, in report order. Edit thresholds here.
pub const THRESHOLDS: &[Threshold] = &[
    Threshold {
        id: "network.send_recv_share",
        test: Test::Network,
        figure: "send/recv share of on-CPU time",
        unit: "%",
        limit: Limit::Above(10.0),
        meaning: "send/recv cost far more than the expected < 5%: the coroutine hook is probably not working and threads block in the kernel",
        advice: "check that the hooked send/recv (not libc's) are linked and called on coroutines",
        ok_meaning: "network I/O is cheap (expected < 5% with the coroutine hook)",
        origin: "spec",
    },
    Threshold {
        id: "network.get_connection_share",
        test: Test::Network,
        figure: "ConnectionPool::getConnection share",
        unit: "%",
        limit: Limit::Above(5.0),
        meaning: "getting a pooled connection is expensive: lock contention in the pool",
        advice: "shard the pool or keep a connection per peer/thread",
        ok_meaning: "no contention on the connection pool",
        origin: "spec",
    },
    Threshold {
        id: "network.serialize_share",
        test: Test::Network,
        figure: "protobuf SerializeToString share",
        unit: "%",
        limit: Limit::Above(10.0),
        meaning: "serialisation is too expensive",
        advice: "serialise once per batch, reuse buffers (SerializeToArray), send fewer/larger messages",
        ok_meaning: "serialisation cost is small",
        origin: "spec",
    },
    Threshold {
        id: "log_io.fsync_rate",
        test: Test::LogIo,
        figure: "fsync+fdatasync rate",
        unit: "/s",
        limit: Limit::Above(1000.0),
        meaning: "flushes too frequent",
        advice: "batch them (group commit: one fdatasync for many appends)",
        ok_meaning: "flush rate is moderate",
        origin: "spec",
    },
    Threshold {
        id: "log_io.bytes_per_flush",
        test: Test::LogIo,
        figure: "average bytes per flush",
        unit: "B",
        limit: Limit::None,
        meaning: "",
        advice: "",
        ok_meaning: "bytes written to files per fsync/fdatasync; tiny values mean each flush carries little data",
        origin: "spec",
    },
    Threshold {
        id: "log_io.io_wait_share",
        test: Test::LogIo,
        figure: "time waiting for file I/O",
        unit: "%",
        limit: Limit::None,
        meaning: "",
        advice: "",
        ok_meaning: "thread-seconds in file syscalls (every syscall on a file fd, close included, flushes, and opens, stats, renames and unlinks by path) per second of the run; 100% = one thread always waiting on file I/O",
        origin: "spec",
    },
    Threshold {
        id: "log_io.reopens",
        test: Test::LogIo,
        figure: "raft-state file opens",
        unit: "/s",
        limit: Limit::Above(1.0),
        meaning: "the node reopens its raft-state file for every save: an open (path lookup, permission check, a new file description) and a close per write",
        advice: "open the state file once and keep the descriptor; write (and fsync) through it",
        ok_meaning: "the raft-state file stays open between writes",
        origin: "tracer",
    },
    Threshold {
        id: "log_io.device_await",
        test: Test::LogIo,
        figure: "device await",
        unit: "ms",
        limit: Limit::Above(10.0),
        meaning: "block requests wait too long: the disk is a bottleneck",
        advice: "move the data dir to a faster device or write less (batch flushes, compact the log)",
        ok_meaning: "the device answers quickly",
        origin: "spec",
    },
    Threshold {
        id: "log_io.data_growth",
        test: Test::LogIo,
        figure: "data dir growth",
        unit: "B/s",
        limit: Limit::None,
        meaning: "",
        advice: "",
        ok_meaning: "growth of the node's data dir over the run; steady fast growth without bound means the log is never compacted (snapshots)",
        origin: "spec",
    },
    Threshold {
        id: "consensus.lock_share",
        test: Test::Consensus,
        figure: "m_mtx lock wait",
        unit: "%",
        limit: Limit::Above(20.0),
        meaning: "threads spend too long waiting for the Raft lock: the lock is too coarse",
        advice: "hold m_mtx for less (no I/O, sleeps or RPCs under it), split it",
        ok_meaning: "little waiting for the Raft lock",
        origin: "spec",
    },
    Threshold {
        id: "consensus.heartbeat_share",
        test: Test::Consensus,
        figure: "heartbeat ticker share",
        unit: "%",
        limit: Limit::Above(15.0),
        meaning: "heartbeats take too much CPU: they are too frequent",
        advice: "raise the heartbeat interval (typically 50–100 ms, well below the election timeout)",
        ok_meaning: "heartbeats are cheap",
        origin: "spec",
    },
    Threshold {
        id: "consensus.heartbeat_rate",
        test: Test::Consensus,
        figure: "heartbeat frequency",
        unit: "/s",
        limit: Limit::Above(100.0),
        meaning: "the leader heartbeats more than every 10 ms: heartbeats are too frequent (tracer's threshold; the original asks whether the frequency is reasonable)",
        advice: "raise the heartbeat interval (typically 50–100 ms)",
        ok_meaning: "heartbeat calls per second while leader",
        origin: "tracer",
    },
    Threshold {
        id: "consensus.applier_share",
        test: Test::Consensus,
        figure: "applier share",
        unit: "%",
        // The original warned below 5%, but an applier that keeps up sleeps most of the time:
        // little CPU is not lag, and on an idle follower the share rests on a few samples and
        // flipped between runs (issue 10). Information, not a verdict.
        limit: Limit::None,
        meaning: "",
        advice: "",
        ok_meaning: "share of the node's on-CPU samples with the applier on the stack; little CPU is not lag (an applier that keeps up sleeps), so the original's < 5% warning is not applied",
        origin: "spec",
    },
    Threshold {
        id: "disk.fsync_latency",
        test: Test::Disk,
        figure: "mean fsync latency",
        unit: "ms",
        limit: Limit::None,
        meaning: "",
        advice: "",
        ok_meaning: "mean time of one fsync/fdatasync call",
        origin: "spec",
    },
    Threshold {
        id: "disk.write_fsync_ratio",
        test: Test::Disk,
        figure: "writes per flush",
        unit: "writes",
        limit: Limit::Below(10.0),
        meaning: "one fsync per fewer than 10 writes: every write is flushed",
        advice: "flush once per batch of appends, not per write",
        ok_meaning: "several writes share one flush",
        origin: "spec",
    },
    Threshold {
        id: "disk.flush_time_share",
        test: Test::Disk,
        figure: "fsync share of syscall time",
        unit: "%",
        limit: Limit::Above(30.0),
        meaning: "flushing dominates the time spent in syscalls",
        advice: "batch the flushes",
        ok_meaning: "flushes are a small part of syscall time",
        origin: "spec",
    },
    Threshold {
        id: "durability.unflushed_writes",
        test: Test::Durability,
        figure: "persister writes never flushed",
        unit: "writes",
        limit: Limit::Above(0.0),
        meaning: "raft state is not durable: the node writes its persister files but never calls fsync/fdatasync, so a crash or power loss loses acknowledged entries",
        advice: "fsync/fdatasync the persister file before answering (batched is fine)",
        ok_meaning: "persister writes are flushed",
        origin: "tracer",
    },
    Threshold {
        id: "cpu.spinning_thread",
        test: Test::Cpu,
        figure: "busiest polling thread never blocks",
        unit: "%",
        limit: Limit::Above(90.0),
        meaning: "a thread is on a CPU (or waiting for one) nearly all the run while its syscalls return at once (zero-timeout polls, EAGAIN reads): it busy-polls and burns a core doing nothing",
        advice: "block in the poll (a timeout until the next timer, or -1) or park the thread when it has no work",
        ok_meaning: "share of the run the busiest thread whose syscalls return at once (zero-timeout polls, EAGAIN reads) was on a CPU or runnable; no thread busy-polls",
        origin: "tracer",
    },
    Threshold {
        id: "durability.truncate_rewrite",
        test: Test::Durability,
        figure: "raft state truncated and rewritten in place",
        unit: "/s",
        limit: Limit::Above(0.0),
        meaning: "the node empties its raft-state file (open with O_TRUNC) and rewrites it without fsync or an atomic rename: a crash between the truncate and the write leaves an empty or partial file and loses the whole raft state — worse than an unflushed append",
        advice: "write the new state to a temporary file, fsync it, rename it over the old one and fsync the directory (or append and fsync, never truncate in place)",
        ok_meaning: "raft-state files are never emptied in place without a flush or an atomic rename",
        origin: "tracer",
    },
    Threshold {
        id: "process.memory_growth",
        test: Test::Process,
        figure: "RSS growth",
        unit: "MiB/min",
        limit: Limit::Above(10.0),
        meaning: "the node's resident memory grows steadily: a leak, or state kept without bound (an uncompacted log in memory), until the machine or its cgroup runs out",
        advice: "find what grows (heaptrack / valgrind massif on one node; is the log compacted by snapshots?)",
        ok_meaning: "least-squares slope of the node's RSS over the run (sampled every second)",
        origin: "tracer",
    },
    Threshold {
        id: "process.thread_churn",
        test: Test::Process,
        figure: "threads created",
        unit: "/s",
        limit: Limit::Above(50.0),
        meaning: "the node creates threads at a high rate (a thread per request or per heartbeat): each costs a clone, a stack mapping and scheduler work, and they pile up when peers are slow",
        advice: "reuse threads: a pool per peer or an event loop for RPCs and heartbeats",
        ok_meaning: "threads created per second of the node's lifetime, with where",
        origin: "tracer",
    },
    Threshold {
        id: "process.crashes",
        test: Test::Process,
        figure: "crashes",
        unit: "crashes",
        limit: Limit::Above(0.0),
        meaning: "the node died of a fatal signal (SIGSEGV, SIGABRT, ...): the thread and its last user frames say where",
        advice: "fix the crash at the frames shown; enable core dumps (ulimit -c) to inspect it",
        ok_meaning: "no fatal signal; how the node exited, if it did",
        origin: "tracer",
    },
];

/// The threshold row of `id` (panics on an unknown id: ids are compile-time constants).
pub fn threshold(id: &str) -> &'static Threshold {
    THRESHOLDS
        .iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("unknown finding id {id}"))
}
