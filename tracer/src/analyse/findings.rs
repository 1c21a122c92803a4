//! Findings: every key figure of the original script's four tests (network, log & I/O,
//! consensus, disk I/O; listed with their thresholds in the README's findings table), measured
//! on the session and judged against its threshold, with one line of meaning and one of advice.
//!
//! The thresholds are data ([`THRESHOLDS`]) so a reviewer reads them in one table. Each
//! figure is evaluated per node where it is a per-node figure (per device / data dir for the
//! disk ones) and always yields a finding: `ok`, `warning`, `info` (a key figure the original
//! names without a threshold, e.g. bytes per flush) or `not_measured` with the reason. Nothing
//! is silently left out, so a reader can tell "fine" from "not looked at".
//!
//! Shares of on-CPU time are stack membership over all samples of the node: the share of
//! samples whose stack contains one of the figure's functions (perf's "Children" column),
//! what the original read off `perf report`.
//!
//! The `m_mtx` lock share is defined as the time threads of the node spent blocked waiting for
//! a mutex inside Raft code, in thread-seconds per second of the node's lifetime, as a
//! percentage: off-CPU records with reason `futex` whose innermost recognised libc/libstdc++
//! frame is a mutex lock (not a condition-variable wait: an idle applier waiting for work is
//! not contention) and that have a `Raft::` frame or were recorded inside the consensus layer.
//! 20% means that, on average, a fifth of a thread was always waiting for the lock. Without
//! off-CPU data the on-CPU share of samples inside mutex-lock functions under Raft code is used
//! instead, and the finding says so.

use std::fmt::Write as _;

use serde::Serialize;

use crate::analyse::{cpu, roles, syscalls};
use crate::model::{FdKind, Snapshot, StackRecord};
use crate::profile::pattern::{any_matches, parse_all, Pattern};

#[doc(hidden)]
pub mod canned;
#[cfg(test)]
mod tests;

/// Verdict of one finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warning,
    /// A key figure without a threshold: reported with its number, never judged.
    Info,
    NotMeasured,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Info => "info",
            Status::NotMeasured => "not measured",
        }
    }
}

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

/// Which of the original four tests (or the durability check) a figure belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    Network,
    LogIo,
    Consensus,
    Disk,
    Durability,
}

impl Test {
    pub fn title(self) -> &'static str {
        match self {
            Test::Network => "Network layer",
            Test::LogIo => "Log & I/O layer",
            Test::Consensus => "Consensus layer",
            Test::Disk => "Disk I/O",
            Test::Durability => "Durability",
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
        ok_meaning: "thread-seconds in file syscalls (read/write/fsync on files) per second of the run; 100% = one thread always waiting on file I/O",
        origin: "spec",
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
        limit: Limit::Below(5.0),
        meaning: "the applier gets little CPU: the state machine may be too slow to keep up with commits",
        advice: "check the applier is not starved or blocked (lock, I/O); apply in batches",
        ok_meaning: "the applier gets CPU to apply committed entries",
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
];

/// The threshold row of `id` (panics on an unknown id: ids are compile-time constants).
pub fn threshold(id: &str) -> &'static Threshold {
    THRESHOLDS
        .iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("unknown finding id {id}"))
}

/// One evaluated figure.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub test: Test,
    pub figure: &'static str,
    /// The node (pid) the figure is about; None for run-wide figures (devices).
    pub node: Option<u32>,
    /// What else it is about: a device or data dir.
    pub subject: Option<String>,
    pub status: Status,
    pub value: Option<f64>,
    pub unit: &'static str,
    /// `> 10%`, `< 5%`, or empty without a threshold.
    pub threshold: String,
    /// One line: figure, number, comparison, meaning and advice (or why not measured).
    pub message: String,
    pub meaning: String,
    pub advice: String,
    /// How the number was obtained (samples, counts, seconds).
    pub detail: String,
}

/// Result of measuring one figure.
enum Measured {
    Value(f64, String),
    NotMeasured(String),
}

/// A figure is a share of samples only with at least this many samples of the node.
pub const MIN_SAMPLES: u64 = 20;

// Function names of the figures, as profile patterns ([`Pattern`]): a qualified name matches
// in any scope and whatever its signature's decorations; `::name` is a C function in the global
// scope (`::send` is the hooked send, never `Socket::send`).
pub const SEND_RECV: &[&str] = &[
    "::send",
    "::recv",
    "::sendto",
    "::recvfrom",
    "::sendmsg",
    "::recvmsg",
    "::__libc_send",
    "::__libc_recv",
    "::__send",
    "::__recv",
];
pub const GET_CONNECTION: &[&str] = &["ConnectionPool::getConnection"];
pub const SERIALIZE: &[&str] = &[
    "google::protobuf::MessageLite::SerializeToString",
    "google::protobuf::MessageLite::SerializeAsString",
    "google::protobuf::MessageLite::SerializePartialToString",
    "google::protobuf::MessageLite::SerializeToArray",
];
pub const HEARTBEAT: &[&str] = &[
    "Raft::leaderHearBeatTicker",
    "Raft::leaderHeartBeatTicker",
    "Raft::doHeartBeat",
];
pub const APPLIER: &[&str] = &["Raft::applier", "Raft::applierTicker"];
/// Frames of a mutex acquisition (glibc's slow path and its callers).
pub const LOCK_FRAMES: &[&str] = &[
    "::__lll_lock_wait",
    "::__lll_lock_wait_private",
    "::pthread_mutex_lock",
    "::___pthread_mutex_lock",
    "::__pthread_mutex_lock",
    "::__pthread_mutex_lock_full",
    "::pthread_mutex_timedlock",
    "::__pthread_mutex_cond_lock",
    "std::mutex::lock",
    "std::unique_lock<std::mutex>::lock",
    "::__gthread_mutex_lock",
];
/// Frames of a condition-variable (or semaphore) wait: waiting for work, not for a lock.
pub const CONDVAR_FRAMES: &[&str] = &[
    "::pthread_cond_wait",
    "::___pthread_cond_wait",
    "::__pthread_cond_wait",
    "::pthread_cond_timedwait",
    "::___pthread_cond_timedwait",
    "::pthread_cond_clockwait",
    "::___pthread_cond_clockwait",
    "::__pthread_cond_wait_common",
    "std::condition_variable::wait",
    "std::condition_variable::wait_until",
    "std::condition_variable::wait_for",
    "std::condition_variable::__wait_until_impl",
    "std::condition_variable_any::wait",
    "::sem_wait",
    "::sem_timedwait",
    "::sem_clockwait",
];
/// Path fragments of persister/data files, besides files under a node's data dirs.
pub const PERSISTER_MARKERS: &[&str] = &["persist", "raftstate", "raft_state", "snapshot"];

/// The function lists above as patterns, parsed once.
struct Functions {
    send_recv: Vec<Pattern>,
    get_connection: Vec<Pattern>,
    serialize: Vec<Pattern>,
    heartbeat: Vec<Pattern>,
    applier: Vec<Pattern>,
    lock: Vec<Pattern>,
    condvar: Vec<Pattern>,
    do_heartbeat: Pattern,
}

fn functions() -> &'static Functions {
    static FUNCTIONS: std::sync::LazyLock<Functions> = std::sync::LazyLock::new(|| Functions {
        send_recv: parse_all(SEND_RECV),
        get_connection: parse_all(GET_CONNECTION),
        serialize: parse_all(SERIALIZE),
        heartbeat: parse_all(HEARTBEAT),
        applier: parse_all(APPLIER),
        lock: parse_all(LOCK_FRAMES),
        condvar: parse_all(CONDVAR_FRAMES),
        do_heartbeat: parse_all(&["Raft::doHeartBeat"]).remove(0),
    });
    &FUNCTIONS
}

/// A frame of Raft code: `Raft::...`, in any namespace.
pub fn is_raft_frame(frame: &str) -> bool {
    !frame.ends_with(crate::model::KERNEL_SUFFIX)
        && (frame.starts_with("Raft::") || frame.contains("::Raft::") || frame.contains(" Raft::"))
}

/// What kind of futex wait a stack is, by its innermost recognised frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexWait {
    Mutex,
    CondVar,
    Unknown,
}

pub fn classify_futex(frames: &[String]) -> FutexWait {
    for f in frames.iter().rev() {
        if any_matches(&functions().lock, f) {
            return FutexWait::Mutex;
        }
        if any_matches(&functions().condvar, f) {
            return FutexWait::CondVar;
        }
    }
    FutexWait::Unknown
}

/// Evaluates every figure of [`THRESHOLDS`] on `snapshot`.
pub fn evaluate(snapshot: &Snapshot) -> Vec<Finding> {
    let nodes = roles::nodes(snapshot);
    let mut out = Vec::new();
    for t in THRESHOLDS {
        match t.id {
            "log_io.device_await" => device_await(snapshot, t, &mut out),
            "log_io.data_growth" => data_growth(snapshot, &nodes, t, &mut out),
            "consensus.heartbeat_rate" => heartbeat_rate(snapshot, &nodes, t, &mut out),
            _ => {
                for n in &nodes {
                    let m = measure_node(snapshot, n, t.id);
                    out.push(finding(t, Some(n.pid), None, m));
                }
            }
        }
    }
    out
}

/// The warnings among `findings`.
pub fn warnings(findings: &[Finding]) -> impl Iterator<Item = &Finding> {
    findings.iter().filter(|f| f.status == Status::Warning)
}

fn measure_node(snapshot: &Snapshot, node: &roles::Node, id: &str) -> Measured {
    match id {
        "network.send_recv_share" => cpu_share(snapshot, node.pid, &functions().send_recv),
        "network.get_connection_share" => {
            cpu_share(snapshot, node.pid, &functions().get_connection)
        }
        "network.serialize_share" => cpu_share(snapshot, node.pid, &functions().serialize),
        "consensus.heartbeat_share" => cpu_share(snapshot, node.pid, &functions().heartbeat),
        "consensus.applier_share" => cpu_share(snapshot, node.pid, &functions().applier),
        "consensus.lock_share" => lock_share(snapshot, node),
        "log_io.fsync_rate" => {
            let d = syscalls::disk_figures(snapshot, &[node.pid]);
            Measured::Value(
                d.flushes as f64 / node.lifetime_s.max(1e-9),
                format!(
                    "{} fsync+fdatasync in {:.1} s, mean {:.0} µs, p99 {:.0} µs",
                    d.flushes, node.lifetime_s, d.mean_flush_us, d.p99_flush_us
                ),
            )
        }
        "log_io.bytes_per_flush" => {
            let d = syscalls::disk_figures(snapshot, &[node.pid]);
            match d.bytes_per_flush {
                Some(b) => Measured::Value(
                    b,
                    format!(
                        "{} bytes in {} file writes, {} flushes",
                        d.file_write_bytes, d.file_writes, d.flushes
                    ),
                ),
                None => Measured::NotMeasured("no fsync/fdatasync calls".into()),
            }
        }
        "log_io.io_wait_share" => io_wait(snapshot, node),
        "disk.fsync_latency" => {
            let d = syscalls::disk_figures(snapshot, &[node.pid]);
            if d.flushes == 0 {
                Measured::NotMeasured("no fsync/fdatasync calls".into())
            } else {
                Measured::Value(
                    d.mean_flush_us / 1e3,
                    format!(
                        "{} flushes, p99 {:.2} ms, max {:.2} ms",
                        d.flushes,
                        d.p99_flush_us / 1e3,
                        d.max_flush_us / 1e3
                    ),
                )
            }
        }
        "disk.write_fsync_ratio" => write_fsync_ratio(snapshot, node.pid),
        "disk.flush_time_share" => {
            let d = syscalls::disk_figures(snapshot, &[node.pid]);
            if d.total_syscall_s == 0.0 {
                Measured::NotMeasured("no syscall time recorded".into())
            } else {
                Measured::Value(
                    d.flush_time_share_pct,
                    format!(
                        "{:.3} s flushing of {:.3} s in traced syscalls (blocking waits included)",
                        d.flush_time_share_pct / 100.0 * d.total_syscall_s,
                        d.total_syscall_s
                    ),
                )
            }
        }
        "durability.unflushed_writes" => durability(snapshot, node.pid),
        other => Measured::NotMeasured(format!("no measurement for {other}")),
    }
}

fn node_stacks(snapshot: &Snapshot, pid: u32) -> Option<Vec<&StackRecord>> {
    let p = snapshot.profile.as_ref()?;
    Some(p.stacks.iter().filter(|s| s.pid == pid).collect())
}

/// Not measured because of the samples, or None when there are enough.
fn samples_missing(snapshot: &Snapshot, pid: u32) -> Option<String> {
    let Some(stacks) = node_stacks(snapshot, pid) else {
        return Some("stack sampling was off (--no-sample)".into());
    };
    let n: u64 = stacks.iter().map(|s| s.count).sum();
    (n < MIN_SAMPLES).then(|| {
        format!("only {n} on-CPU samples of this node (need ≥ {MIN_SAMPLES}): idle or too short")
    })
}

fn cpu_share(snapshot: &Snapshot, pid: u32, functions: &[Pattern]) -> Measured {
    if let Some(why) = samples_missing(snapshot, pid) {
        return Measured::NotMeasured(why);
    }
    let stacks = node_stacks(snapshot, pid).unwrap_or_default();
    let s = cpu::share(stacks.iter().copied(), |f| any_matches(functions, f));
    // Named as readers know them: `send`, not the `::send` that anchors the pattern.
    let names: Vec<&str> = functions
        .iter()
        .map(|p| p.text.trim_start_matches("::"))
        .collect();
    Measured::Value(
        s.total_pct,
        format!(
            "{} of {} on-CPU samples have {} on the stack (self {:.1}%)",
            s.total_samples,
            s.samples,
            names.join(" / "),
            s.self_pct
        ),
    )
}

/// See the module documentation for the definition.
fn lock_share(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    let in_raft = |frames: &[String], layer: Option<&str>| {
        frames.iter().any(|f| is_raft_frame(f)) || layer == Some("consensus")
    };
    if !snapshot.offcpu.is_empty() {
        let (mut mutex_ns, mut condvar_ns, mut unknown_ns, mut waits) = (0u64, 0u64, 0u64, 0u64);
        let mut unattributed_ns = 0u64;
        for o in snapshot
            .offcpu
            .iter()
            .filter(|o| o.pid == node.pid && o.reason == "futex")
        {
            // Stacks of futex waits usually stop inside libc (no frame pointers there): the
            // futex operation then tells a mutex wait (FUTEX_WAIT) from a condition wait
            // (FUTEX_WAIT_BITSET), as glibc issues them.
            let kind = match (classify_futex(&o.frames), o.futex_op.as_deref()) {
                (FutexWait::Unknown, Some("wait" | "lock_pi" | "lock_pi2")) => FutexWait::Mutex,
                (FutexWait::Unknown, Some("wait_bitset" | "wait_requeue_pi")) => FutexWait::CondVar,
                (k, _) => k,
            };
            match kind {
                FutexWait::Mutex if in_raft(&o.frames, o.layer.as_deref()) => {
                    mutex_ns += o.total_ns;
                    waits += o.count;
                }
                // A mutex wait whose stack and layer say nothing about the lock: in a node
                // whose main lock is m_mtx, counted as such (the detail says how much).
                FutexWait::Mutex if o.layer.is_none() => {
                    mutex_ns += o.total_ns;
                    unattributed_ns += o.total_ns;
                    waits += o.count;
                }
                FutexWait::Mutex => {}
                FutexWait::CondVar => condvar_ns += o.total_ns,
                FutexWait::Unknown => unknown_ns += o.total_ns,
            }
        }
        let secs = mutex_ns as f64 / 1e9;
        return Measured::Value(
            100.0 * secs / node.lifetime_s.max(1e-9),
            format!(
                "{secs:.3} thread-seconds in {waits} mutex waits under Raft code over {:.1} s \
                 ({:.3} s of them with no frame or layer naming the lock, counted as m_mtx; \
                 not counted: {:.3} s condition-variable waits, {:.3} s futex waits of unknown \
                 kind)",
                node.lifetime_s,
                unattributed_ns as f64 / 1e9,
                condvar_ns as f64 / 1e9,
                unknown_ns as f64 / 1e9
            ),
        );
    }
    if let Some(why) = samples_missing(snapshot, node.pid) {
        return Measured::NotMeasured(format!("no off-CPU data and {why}"));
    }
    let stacks = node_stacks(snapshot, node.pid).unwrap_or_default();
    let s = cpu::share(
        stacks
            .iter()
            .copied()
            .filter(|st| in_raft(&st.frames, st.layer.as_deref())),
        |f| any_matches(&functions().lock, f),
    );
    let all: u64 = stacks.iter().map(|s| s.count).sum();
    Measured::Value(
        100.0 * s.total_samples as f64 / all.max(1) as f64,
        format!(
            "no off-CPU data: on-CPU share instead, {} of {all} samples in mutex-lock functions under Raft code",
            s.total_samples
        ),
    )
}

fn io_wait(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    let mut ns = 0u64;
    let mut calls = 0u64;
    for r in snapshot.syscalls.iter().filter(|r| r.pid == node.pid) {
        if r.fd_kind == FdKind::File || syscalls::FLUSH_SYSCALLS.contains(&r.name.as_str()) {
            ns += r.stats.total_ns;
            calls += r.stats.count;
        }
    }
    let secs = ns as f64 / 1e9;
    Measured::Value(
        100.0 * secs / node.lifetime_s.max(1e-9),
        format!(
            "{secs:.3} thread-seconds in {calls} file syscalls over {:.1} s",
            node.lifetime_s
        ),
    )
}

/// Writes per flush over the files that are flushed (so log files written without flushing
/// do not dilute "every write is flushed").
fn write_fsync_ratio(snapshot: &Snapshot, pid: u32) -> Measured {
    let files = syscalls::files(snapshot, &[pid]);
    let (mut writes, mut flushes) = (0u64, 0u64);
    for f in files.iter().filter(|f| f.flushes().count > 0) {
        writes += f.writes().count;
        flushes += f.flushes().count;
    }
    if flushes == 0 {
        let d = syscalls::disk_figures(snapshot, &[pid]);
        return match d.writes_per_flush {
            // Flushes on fds whose path is unknown: the node-wide ratio is the best there is.
            Some(r) => Measured::Value(
                r,
                format!(
                    "{} file writes, {} flushes (node-wide: no flushed file has a path)",
                    d.file_writes, d.flushes
                ),
            ),
            None => Measured::NotMeasured("no fsync/fdatasync calls".into()),
        };
    }
    Measured::Value(
        writes as f64 / flushes as f64,
        format!("{writes} writes and {flushes} flushes on the flushed files"),
    )
}

/// Whether `path` is one of the node's persister/data files.
pub fn is_persister_file(snapshot: &Snapshot, pid: u32, path: &str) -> bool {
    let in_data_dir = snapshot.disk.as_ref().is_some_and(|d| {
        d.data_dirs.iter().any(|dd| {
            dd.pid == pid && {
                let dir = dd.path.trim_end_matches('/');
                !dir.is_empty() && path.starts_with(&format!("{dir}/"))
            }
        })
    });
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    in_data_dir || PERSISTER_MARKERS.iter().any(|m| name.contains(m))
}

fn durability(snapshot: &Snapshot, pid: u32) -> Measured {
    let files: Vec<_> = syscalls::files(snapshot, &[pid])
        .into_iter()
        .filter(|f| is_persister_file(snapshot, pid, &f.path) && f.writes().count > 0)
        .collect();
    if files.is_empty() {
        return Measured::NotMeasured(
            "no writes to persister/data files (files under the node's data dirs or named \
             *persist*, *raftstate*, *snapshot*)"
                .into(),
        );
    }
    let writes: u64 = files.iter().map(|f| f.writes().count).sum();
    let flushes: u64 = files.iter().map(|f| f.flushes().count).sum();
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).take(3).collect();
    let node_flushes = syscalls::disk_figures(snapshot, &[pid]).flushes;
    Measured::Value(
        if flushes == 0 { writes as f64 } else { 0.0 },
        format!(
            "{writes} writes and {flushes} fsync/fdatasync on {} ({node_flushes} flushes by the node in all)",
            names.join(", ")
        ),
    )
}

fn device_await(snapshot: &Snapshot, t: &Threshold, out: &mut Vec<Finding>) {
    let Some(disk) = &snapshot.disk else {
        out.push(finding(
            t,
            None,
            None,
            Measured::NotMeasured(
                "no disk report in this session (block-device figures not collected)".into(),
            ),
        ));
        return;
    };
    let busy: Vec<_> = disk
        .devices
        .iter()
        .filter(|d| d.reads + d.writes > 0)
        .collect();
    if busy.is_empty() {
        let why = if disk.devices.is_empty() {
            "no block device found".to_string()
        } else {
            "no block-device requests during the run (writes stayed in the page cache, or the \
             data dir is on tmpfs)"
                .to_string()
        };
        out.push(finding(t, None, None, Measured::NotMeasured(why)));
        return;
    }
    for d in busy {
        let mut detail = format!(
            "{} reads + {} writes: r/s {:.1}, w/s {:.1}, wkB/s {:.1}, %util {:.1}",
            d.reads,
            d.writes,
            d.r_per_s(),
            d.w_per_s(),
            d.write_kb_per_s(),
            d.util_pct()
        );
        if let Some(l) = &d.request_latency {
            let _ = write!(
                detail,
                "; block request latency p50 {:.2} ms, p99 {:.2} ms",
                l.quantile_ns(0.5) / 1e6,
                l.quantile_ns(0.99) / 1e6
            );
        }
        out.push(finding(
            t,
            None,
            Some(d.name.clone()),
            Measured::Value(d.await_ms(), detail),
        ));
    }
}

fn data_growth(snapshot: &Snapshot, nodes: &[roles::Node], t: &Threshold, out: &mut Vec<Finding>) {
    let dirs = snapshot.disk.as_ref().map(|d| &d.data_dirs);
    let Some(dirs) = dirs.filter(|d| !d.is_empty()) else {
        out.push(finding(
            t,
            None,
            None,
            Measured::NotMeasured("no data directories recorded in this session".into()),
        ));
        return;
    };
    for dd in dirs {
        let lifetime = nodes
            .iter()
            .find(|n| n.pid == dd.pid)
            .map_or(snapshot.duration_s, |n| n.lifetime_s);
        let m = match dd.bytes_before {
            Some(before) => Measured::Value(
                (dd.bytes_after as f64 - before as f64) / lifetime.max(1e-9),
                format!("{before} → {} bytes in {lifetime:.1} s", dd.bytes_after),
            ),
            None => Measured::NotMeasured(format!(
                "directory found only during the run: no size before ({} bytes after)",
                dd.bytes_after
            )),
        };
        out.push(finding(t, Some(dd.pid), Some(dd.path.clone()), m));
    }
}

/// Heartbeat calls per second of every node that was leader, from the role detector, or from
/// the probed heartbeat function's entries when roles are not available.
fn heartbeat_rate(
    snapshot: &Snapshot,
    nodes: &[roles::Node],
    t: &Threshold,
    out: &mut Vec<Finding>,
) {
    let before = out.len();
    if !snapshot.roles.is_empty() {
        for n in nodes {
            let Some(r) = roles::of(snapshot, n.pid).filter(|r| roles::was_leader(r)) else {
                continue;
            };
            let m = match r.heartbeat_per_s {
                Some(hz) => Measured::Value(
                    hz,
                    format!(
                        "while leader ({:.1} s of the run): one heartbeat every {:.1} ms",
                        roles::time_in(r, roles::LEADER),
                        1000.0 / hz.max(1e-9)
                    ),
                ),
                None => Measured::NotMeasured(
                    "leader, but the heartbeat function was not seen (not probed?)".into(),
                ),
            };
            out.push(finding(t, Some(n.pid), None, m));
        }
        if out.len() == before {
            out.push(finding(
                t,
                None,
                None,
                Measured::NotMeasured("no node was seen as leader".into()),
            ));
        }
        return;
    }
    for n in nodes {
        let Some(f) = snapshot.functions.iter().find(|f| {
            f.pid == n.pid && functions().do_heartbeat.matches(&f.function) && f.entries > 0
        }) else {
            continue;
        };
        let secs = f.detached_at_s.unwrap_or(n.lifetime_s).max(1e-9);
        out.push(finding(
            t,
            Some(n.pid),
            None,
            Measured::Value(
                f.entries as f64 / secs,
                format!(
                    "{} calls of {} in {secs:.1} s (no role data: any node calling it counts)",
                    f.entries, f.function
                ),
            ),
        ));
    }
    if out.len() == before {
        out.push(finding(
            t,
            None,
            None,
            Measured::NotMeasured(
                "no role data and no probed Raft::doHeartBeat calls (uprobes off or not found)"
                    .into(),
            ),
        ));
    }
}

/// Formats a number with sensible precision for its size.
pub fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || v == v.trunc() && a < 1e15 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `12.3%`, `1450/s`, `3.1 ms`.
pub fn with_unit(v: f64, unit: &str) -> String {
    match unit {
        "%" | "/s" => format!("{}{unit}", fmt_value(v)),
        _ => format!("{} {unit}", fmt_value(v)),
    }
}

fn threshold_text(t: &Threshold) -> String {
    match t.limit {
        Limit::Above(x) => format!("> {}", with_unit(x, t.unit)),
        Limit::Below(x) => format!("< {}", with_unit(x, t.unit)),
        Limit::None => String::new(),
    }
}

fn finding(t: &Threshold, node: Option<u32>, subject: Option<String>, m: Measured) -> Finding {
    let mut f = Finding {
        id: t.id,
        test: t.test,
        figure: t.figure,
        node,
        subject,
        status: Status::NotMeasured,
        value: None,
        unit: t.unit,
        threshold: threshold_text(t),
        message: String::new(),
        meaning: String::new(),
        advice: String::new(),
        detail: String::new(),
    };
    match m {
        Measured::NotMeasured(why) => {
            f.message = format!("{}: not measured — {why}", t.figure);
            f.meaning = why.clone();
            f.detail = why;
        }
        Measured::Value(v, detail) => {
            let shown = with_unit(v, t.unit);
            let (warn, ok_cmp) = match t.limit {
                Limit::Above(x) => (v > x, format!("≤ {}", with_unit(x, t.unit))),
                Limit::Below(x) => (v < x, format!("≥ {}", with_unit(x, t.unit))),
                Limit::None => (false, String::new()),
            };
            f.value = Some(v);
            f.detail = detail;
            if t.limit == Limit::None {
                f.status = Status::Info;
                f.meaning = t.ok_meaning.into();
                f.message = format!("{} {shown}", t.figure);
            } else if warn {
                f.status = Status::Warning;
                f.meaning = t.meaning.into();
                f.advice = t.advice.into();
                f.message = format!(
                    "{} {shown} {}: {} — {}",
                    t.figure, f.threshold, t.meaning, t.advice
                );
            } else {
                f.status = Status::Ok;
                f.meaning = t.ok_meaning.into();
                f.message = format!("{} {shown} {ok_cmp}: {}", t.figure, t.ok_meaning);
            }
        }
    }
    f
}
