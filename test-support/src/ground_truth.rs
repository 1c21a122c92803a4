//! The JSON each fixture node writes to `<data-dir>/ground_truth.json` when
//! it stops: exact in-process counts to compare a tracer's output against.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Traced methods whose entries each node counts (keys of `calls`) in the mprpc builds
/// (`Variant::{Fp, NoFp, SharedLib}`).
pub const TRACED_METHODS: &[&str] = &[
    "MprpcChannel::CallMethod",
    "MprpcChannel::sendRpcRequest",
    "ConnectionPool::getConnection",
    "Persister::saveRaftState",
    "Persister::readRaftState",
    "Raft::AppendEntries1",
    "Raft::RequestVote",
    "Raft::leaderElectionTicker",
    "Raft::sendAppendEntries",
    "Raft::applier",
    "Raft::leaderHearBeatTicker",
    "Raft::doHeartBeat",
    "Raft::sendRequestVote",
    "Raft::burnCpu",
    "RpcProvider::OnMessage",
    "RpcProvider::SendRpcResponse",
    "Raft::Start",
    "KvServer::PutAppend",
    "KvServer::Get",
];

/// Keys of `calls` in the gRPC builds (`Variant::{Grpc, GrpcSharedLib}`): the Raft core's
/// methods, the fork's persister spelling, and per RPC method the client stub calls (counted
/// by the caller: only the node calls its stubs) and the server handler entries. The mprpc
/// methods do not exist there and are absent (not 0).
pub const GRPC_TRACED_METHODS: &[&str] = &[
    "Persister::SaveRaftState",
    "Persister::ReadRaftState",
    "Raft::AppendEntries1",
    "Raft::RequestVote",
    "Raft::leaderElectionTicker",
    "Raft::sendAppendEntries",
    "Raft::applier",
    "Raft::leaderHearBeatTicker",
    "Raft::doHeartBeat",
    "Raft::sendRequestVote",
    "Raft::burnCpu",
    "raftrpc::RaftService::Stub::AppendEntries",
    "raftrpc::RaftService::Stub::RequestVote",
    "RaftGrpcService::AppendEntries",
    "RaftGrpcService::RequestVote",
    "KvServer::Put",
    "KvServer::Get",
    "KvServer::Status",
    "Raft::Start",
];

#[derive(Debug, Clone, Deserialize)]
pub struct GroundTruth {
    pub node_id: usize,
    pub pid: u32,
    /// Entry counts per demangled method name (see TRACED_METHODS).
    pub calls: BTreeMap<String, u64>,
    pub persister_io: PersisterIo,
    pub net_io: NetIo,
    /// gRPC builds only: gRPC's own socket I/O, counted by the sendmsg/recvmsg hooks.
    #[serde(default)]
    pub msg_io: Option<MsgIo>,
    pub rpc: RpcCounts,
    pub role_changes: Vec<RoleChange>,
    pub final_role: String,
    /// False if some thread was still busy when the counters were read; the
    /// counts may then miss a few events that happened after the snapshot.
    pub quiesced: bool,
    /// Every thread the node started, by name, and where (always present).
    #[serde(default)]
    pub threads: Threads,
    /// `--busy-poll`: the spinning `sched-poll` thread's own figures.
    #[serde(default)]
    pub busy_poll: Option<BusyPoll>,
    /// `--leak-mb-per-s N`: bytes leaked and RSS samples.
    #[serde(default)]
    pub leak: Option<Leak>,
    /// `--log-file PATH`: writes to the node's stdout log (never counted in `persister_io`).
    #[serde(default)]
    pub log_io: Option<LogIo>,
    /// `--persist-sleep-after-ms` / `--save-timings`: per-phase save durations.
    #[serde(default)]
    pub persist_timing: Option<PersistTiming>,
    /// `--fiber-rpc`: the RPC handler fibers' send/recv on the `sched` thread.
    #[serde(default)]
    pub fiber_rpc: Option<FiberRpc>,
    /// `--entry-log FILE`: where the per-entry timeline went (see `EntryLog`).
    #[serde(default)]
    pub entry_log: Option<EntryLogInfo>,
}

impl GroundTruth {
    /// Entry count of a traced method (0 if unknown).
    pub fn calls(&self, method: &str) -> u64 {
        self.calls.get(method).copied().unwrap_or(0)
    }
}

/// write/writev/fsync/fdatasync syscalls on the persister's files, counted by
/// the interposed libc functions (each is exactly one syscall).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PersisterIo {
    pub write: u64,
    pub writev: u64,
    pub write_bytes: u64,
    pub fsync: u64,
    pub fdatasync: u64,
    /// Opens of the state file for writing (one openat each): 1 in the default mode (kept
    /// open), one per save with `--persist-reopen` / `--persist-truncate`.
    #[serde(default)]
    pub opens: u64,
    /// Those of `opens` with O_TRUNC (`--persist-truncate`: std::ofstream's default mode).
    #[serde(default)]
    pub truncating_opens: u64,
    /// Closes of the state file by the Persister (one close syscall each).
    #[serde(default)]
    pub closes: u64,
    /// "keep" (default), "reopen" or "truncate".
    #[serde(default)]
    pub mode: String,
    pub files: Vec<String>,
}

/// Calls of the hooked send()/recv() (one sendto/recvfrom syscall each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NetIo {
    pub send: u64,
    pub recv: u64,
    pub send_bytes: u64,
    pub recv_bytes: u64,
}

/// Calls of the hooked sendmsg()/recvmsg() (one syscall each) in the gRPC builds: every
/// socket read and write gRPC's I/O threads did until the counters were read at SIGTERM.
/// Connection teardown while the process exits may add a few calls after that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MsgIo {
    pub sendmsg: u64,
    pub recvmsg: u64,
    pub send_bytes: u64,
    pub recv_bytes: u64,
}

/// RPCs sent as a client (MprpcChannel::CallMethod; gRPC: Raft service stub calls) and
/// handled as a server (every method, client Put/Get/Status included); `failed`: sent calls
/// that got no reply (a failed call may still have been handled by its server).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RpcCounts {
    pub sent: u64,
    pub received: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoleChange {
    /// Wall-clock (Unix epoch) milliseconds.
    pub t_ms: u64,
    pub role: String,
    pub term: i64,
}

/// Threads a node started (`stats::nameThread`): counted at thread start, by comm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Threads {
    /// Threads created per name, e.g. `hb-send` (one per follower per AppendEntries round).
    pub created: BTreeMap<String, u64>,
    /// Where each name's threads are created.
    pub sites: BTreeMap<String, ThreadSite>,
}

impl Threads {
    /// Threads created with this name (0 if none).
    pub fn created(&self, name: &str) -> u64 {
        self.created.get(name).copied().unwrap_or(0)
    }

    /// All threads the node created.
    pub fn total(&self) -> u64 {
        self.created.values().sum()
    }
}

/// The function that constructs a thread (`std::thread` → `pthread_create` → `clone3`) and
/// its caller ("" when not recorded), e.g. `Raft::spawnSender` called by
/// `Raft::replicateRound` for `hb-send`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ThreadSite {
    pub function: String,
    pub caller: String,
}

/// The `sched-poll` thread of `--busy-poll`, measured by itself between its first and last
/// poll: `cpu_ns` from CLOCK_THREAD_CPUTIME_ID, `run_delay_ns` (runnable but waiting for a
/// CPU) from /proc/thread-self/schedstat, so `cpu_ns + run_delay_ns ≈ wall_ns` for a thread
/// that never blocks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BusyPoll {
    pub thread: String,
    pub tid: u32,
    /// The spinning function (`IOManager::idle`).
    pub function: String,
    pub epoll_wait_calls: u64,
    /// Polls that returned no event (zero timeout: at once).
    pub zero_returns: u64,
    /// Polls that returned the timerfd's event.
    pub event_returns: u64,
    pub errors: u64,
    /// read(2)s of the timerfd (one per event return).
    pub timer_reads: u64,
    pub tick_ms: u64,
    pub cpu_ns: u64,
    pub wall_ns: u64,
    pub run_delay_ns: u64,
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
    /// Unix epoch ms of the first and last poll.
    pub start_t_ms: u64,
    pub end_t_ms: u64,
    /// (Unix epoch ms, calls so far) every ~20 ms: the call rate of any window.
    #[serde(default)]
    pub series: Vec<(u64, u64)>,
}

impl BusyPoll {
    /// Calls so far at epoch ms `t`, interpolated linearly between the series' points.
    pub fn calls_at(&self, t_ms: f64) -> Option<f64> {
        let i = self.series.partition_point(|&(ms, _)| (ms as f64) < t_ms);
        if i == 0 || i == self.series.len() {
            return None;
        }
        let ((t0, c0), (t1, c1)) = (self.series[i - 1], self.series[i]);
        let f = (t_ms - t0 as f64) / (t1 - t0).max(1) as f64;
        Some(c0 as f64 + f * (c1 as f64 - c0 as f64))
    }

    /// epoll_wait calls per second between epoch ms `from` and `to` (None outside the series).
    pub fn calls_per_s_between(&self, from_ms: f64, to_ms: f64) -> Option<f64> {
        let n = self.calls_at(to_ms)? - self.calls_at(from_ms)?;
        Some(n * 1000.0 / (to_ms - from_ms).max(1.0))
    }

    /// Share of its wall time the thread was on a CPU.
    pub fn on_cpu_share(&self) -> f64 {
        self.cpu_ns as f64 / self.wall_ns.max(1) as f64
    }

    /// epoll_wait calls per second of wall time.
    pub fn calls_per_s(&self) -> f64 {
        self.epoll_wait_calls as f64 * 1e9 / self.wall_ns.max(1) as f64
    }
}

/// `--leak-mb-per-s N` (MiB: 2^20 bytes): what was leaked and the process's RSS sampled by
/// the leaking thread every 500 ms.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Leak {
    pub mib_per_s: u64,
    /// Bytes allocated, touched and never freed.
    pub bytes: u64,
    pub chunks: u64,
    pub chunk_every_ms: u64,
    /// The allocating function (`MemoryLeak::leakChunk`).
    pub function: String,
    pub rss_samples: Vec<RssSample>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct RssSample {
    /// Unix epoch ms.
    pub t_ms: u64,
    /// Resident set size from /proc/self/statm.
    pub rss_bytes: u64,
}

impl Leak {
    /// Least-squares slope of RSS over time, in bytes per second (None with < 2 samples).
    pub fn rss_slope_bytes_per_s(&self) -> Option<f64> {
        let pts: Vec<(f64, f64)> = self
            .rss_samples
            .iter()
            .map(|s| (s.t_ms as f64 / 1000.0, s.rss_bytes as f64))
            .collect();
        crate::stats_util::slope(&pts)
    }
}

/// Writes to the node's stdout log (`--log-file`), by the hooked write/writev.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LogIo {
    /// Absolute path of the log file.
    pub path: String,
    pub write: u64,
    pub writev: u64,
    pub write_bytes: u64,
}

/// Save durations (whole `Persister::saveRaftState`, entry to return, as a uprobe/uretprobe
/// pair sees it) per phase: before and after `--persist-sleep-after-ms`. Per-save lines are
/// in `saves_file` (see `PersistTiming::saves`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PersistTiming {
    /// -1 without a switch (`--save-timings` alone).
    pub sleep_after_ms: i64,
    /// Unix epoch ms of the switch (None without one).
    pub switch_t_ms: Option<u64>,
    pub saves_file: String,
    pub saves_recorded: u64,
    pub saves_dropped: u64,
    pub phases: Vec<PersistPhase>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PersistPhase {
    /// The sleep configured for this phase.
    pub sleep_us: u64,
    pub saves: u64,
    pub mean_us: u64,
    pub min_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// One save from `persist_saves.tsv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveTiming {
    pub start_unix_ns: u64,
    pub duration_ns: u64,
    /// Sleep inside this save (phase sleep + any follower delay).
    pub slept_us: u64,
    /// 0 before the switch, 1 after.
    pub phase: u8,
}

impl PersistTiming {
    /// Every recorded save, in order.
    pub fn saves(&self) -> anyhow::Result<Vec<SaveTiming>> {
        use anyhow::Context;
        let text = std::fs::read_to_string(&self.saves_file)
            .with_context(|| format!("reading {}", self.saves_file))?;
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<u64> = l
                    .split('\t')
                    .map(|v| v.parse::<u64>())
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("bad line {l:?} in {}", self.saves_file))?;
                anyhow::ensure!(f.len() == 4, "bad line {l:?} in {}", self.saves_file);
                Ok(SaveTiming {
                    start_unix_ns: f[0],
                    duration_ns: f[1],
                    slept_us: f[2],
                    phase: f[3] as u8,
                })
            })
            .collect()
    }
}

/// `--fiber-rpc`: RPC connections served by fibers on the `sched` thread (where the ticker
/// fibers `Raft::leaderElectionTicker` / `Raft::leaderHearBeatTicker` live and never
/// return), with the hooked send/recv calls those handler fibers made. Every one of them is
/// one sendto/recvfrom syscall by thread `tid`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FiberRpc {
    pub thread: String,
    pub tid: u32,
    pub connections: u64,
    pub requests: u64,
    pub send: u64,
    pub send_bytes: u64,
    /// All recv calls: `recv_data + recv_eagain + recv_eof + recv_error`.
    pub recv: u64,
    pub recv_data: u64,
    /// Nonblocking reads with nothing there (the fiber then yields).
    pub recv_eagain: u64,
    pub recv_eof: u64,
    pub recv_error: u64,
    pub recv_bytes: u64,
}

/// Where `--entry-log` wrote its events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EntryLogInfo {
    pub path: String,
    pub events: u64,
}

/// `<data-dir>/crash.json`, written by the crashing thread just before the crash.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CrashReport {
    pub node_id: usize,
    pub pid: u32,
    pub tid: u32,
    /// Thread name (comm), e.g. "applier".
    pub thread: String,
    /// e.g. "Raft::debugPrint" (SIGSEGV) or "Raft::applySnapshot" (SIGABRT).
    pub function: String,
    /// "SIGSEGV" or "SIGABRT".
    pub signal: String,
    pub signo: i32,
    /// Unix epoch ms.
    pub t_ms: u64,
}
