//! The session's data as plain, serialisable values. A [`Snapshot`] is everything "collect"
//! read from the kernel plus what user space knows about the processes; every later stage
//! works on it alone, so `tracer report DIR` can re-render a saved session without BPF.
//!
//! In: [`crate::kernel::collect::KernelData`] plus what user space knows (processes, the probe
//! plan), put together by [`assemble`] (symbolising stacks, naming syscalls, functions and
//! layers). Out: a [`Snapshot`], saved as `snapshot.json`. Never: reads the kernel or /proc
//! itself; after assembly nothing downstream needs more than the Snapshot.

pub mod assemble;
pub mod merge;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the `snapshot.json` layout; bump it when a field changes meaning.
pub const SNAPSHOT_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema_version: u32,
    pub tracer_version: String,
    /// The host the run traced, as `--host-label` named it (default: the hostname), so
    /// sessions, windows, profiles and metrics of several machines can be told apart and
    /// merged (`tracer merge`). Empty in sessions saved before it was recorded.
    #[serde(default)]
    pub host: String,
    /// Local start time, RFC 3339.
    pub started_at: String,
    /// Wall-clock seconds between attaching and the final read of the maps.
    pub duration_s: f64,
    /// The command line of `tracer run` that produced this session.
    pub invocation: Vec<String>,
    pub processes: Vec<ProcessInfo>,
    pub syscalls: Vec<SyscallRecord>,
    pub files: Vec<FileRecord>,
    /// What the kernel side could not record, by reason (see `tracer_common::Drop`).
    pub drops: BTreeMap<String, u64>,
    /// On-CPU stack samples (None when sampling was off).
    #[serde(default)]
    pub profile: Option<CpuProfile>,
    /// The layers of the profile the run used (ids as recorded in the kernel, 1-based).
    #[serde(default)]
    pub layers: Vec<LayerInfo>,
    /// How layers were attributed: "uprobes" (each thread's innermost probed call) or
    /// "stacks" (stack membership, when uprobes were off).
    #[serde(default)]
    pub attribution: String,
    /// Probed functions: calls and latency per process.
    #[serde(default)]
    pub functions: Vec<FunctionRecord>,
    /// Leader/follower per node over time (from the profile's `[roles]` functions).
    #[serde(default)]
    pub roles: Vec<NodeRoles>,
    /// Time threads spent off CPU (blocked), by stack and reason.
    #[serde(default)]
    pub offcpu: Vec<OffCpuRecord>,
    /// Block devices, per-process I/O and data directories.
    #[serde(default)]
    pub disk: Option<DiskReport>,
    /// What tracing cost, measured when the snapshot was taken.
    #[serde(default)]
    pub self_cost: Option<SelfCost>,
    /// Samples and blocked intervals taken, recorded and lost (None in sessions saved before
    /// tracer counted them per window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounting: Option<Accounting>,
    /// Threads the traced processes created, per creating thread and call site (None: not
    /// recorded, a session of an older tracer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_created: Option<Vec<ThreadCreation>>,
    /// How traced processes ended during the run: exit codes, fatal signals with the
    /// receiving thread's last user stack.
    /// None: not recorded (a session of an older tracer), so "no crash" cannot be said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exits: Option<Vec<ProcessExit>>,
    /// Resident memory of every traced process over the run (None: not sampled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Vec<MemorySeries>>,
    /// Things the user must know about this run (processes that exited, unknown fds, ...).
    pub notes: Vec<String>,
    /// Which kinds of data the run collected (`--no-syscalls`, `--no-uprobes`, `--no-offcpu`,
    /// `--no-sample` turn them off), so a figure built on data never collected is shown as
    /// not measured rather than as a zero. None in sessions saved before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected: Option<Collection>,
}

/// Which kinds of data a run collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// Syscall accounting (the strace -c tables, fsync counts).
    pub syscalls: bool,
    /// Uprobes on the profile's functions (calls, latency, layers, roles).
    pub uprobes: bool,
    /// Off-CPU (blocked time) accounting.
    pub offcpu: bool,
    /// On-CPU stack sampling.
    pub sampling: bool,
}

impl Snapshot {
    /// Why syscall data is missing (`--no-syscalls`), or None when it was collected. A session
    /// saved without a collection record counts as collected when it has any syscall.
    pub fn syscalls_missing(&self) -> Option<&'static str> {
        match self.collected {
            Some(c) if !c.syscalls => Some("syscall accounting was off (--no-syscalls)"),
            None if self.syscalls.is_empty() => Some("no syscalls were recorded in this session"),
            _ => None,
        }
    }

    /// Why off-CPU data is missing (`--no-offcpu`), or None when it was collected.
    pub fn offcpu_missing(&self) -> Option<&'static str> {
        match self.collected {
            Some(c) if !c.offcpu => Some("off-CPU accounting was off (--no-offcpu)"),
            None if self.offcpu.is_empty() => Some("no off-CPU data in this session"),
            _ => None,
        }
    }

    /// Why probed-function data is missing (`--no-uprobes`), or None when uprobes were on.
    pub fn uprobes_missing(&self) -> Option<&'static str> {
        match self.collected {
            Some(c) if !c.uprobes => Some("uprobes were off (--no-uprobes)"),
            None if self.attribution == "stacks" => Some("uprobes were off (--no-uprobes)"),
            _ => None,
        }
    }
}

/// One traced process ("node").
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub comm: String,
    pub cmdline: Vec<String>,
    /// The process the user named (or started) that this one descends from; itself for those.
    pub root_pid: u32,
    /// Seconds after the start of tracing at which the process was seen gone.
    pub exited_at_s: Option<f64>,
    /// The host it ran on, set only in a cluster session made by `tracer merge` (one session
    /// per host); empty in a one-host session, whose host is [`Snapshot::host`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
}

impl ProcessInfo {
    /// Short label used in file names and tables: `comm_pid`, and `host.comm_pid` in a merged
    /// cluster session (host first, so a host's files sort together; `.` never occurs in the
    /// `comm_pid` part, so the last `.` separates the two).
    pub fn label(&self) -> String {
        let node = self.node_label();
        if self.host.is_empty() {
            node
        } else {
            format!("{}.{node}", self.host)
        }
    }

    /// `comm_pid`, without the host.
    fn node_label(&self) -> String {
        let comm: String = self
            .comm
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{comm}_{}", self.pid)
    }
}

/// Aggregated cost of one syscall: the user-space mirror of `tracer_common::SyscallStats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub count: u64,
    pub errors: u64,
    pub total_ns: u64,
    pub max_ns: u64,
    pub bytes: u64,
    /// Latency buckets, laid out as `scale` says.
    pub hist: Vec<u64>,
    #[serde(default)]
    pub scale: HistScale,
}

/// Layout of `Stats::hist`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistScale {
    /// `hist[i]` counts calls in `[2^i, 2^(i+1))` ns (syscalls).
    #[default]
    Log2,
    /// 16 linear sub-buckets per power of two (probed functions), see
    /// `tracer_common::fine_bucket`.
    LogLinear,
}

impl HistScale {
    /// Bounds of bucket `i` in ns.
    pub fn bounds(self, i: usize) -> (f64, f64) {
        match self {
            HistScale::Log2 => (
                if i == 0 { 0.0 } else { (1u64 << i) as f64 },
                (1u64 << (i + 1)) as f64,
            ),
            HistScale::LogLinear => {
                let (lo, hi) = tracer_common::fine_bucket_bounds(i);
                (lo as f64, hi as f64)
            }
        }
    }
}

impl Stats {
    /// The bucket that holds quantile `q`, as (low, high) bounds in ns, the high bound no
    /// more than the largest value seen; None without calls. What a log2 histogram knows of a
    /// percentile: the value is somewhere in this range (a factor of two wide).
    pub fn quantile_bucket_ns(&self, q: f64) -> Option<(f64, f64)> {
        let total: u64 = self.hist.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0u64;
        for (i, &n) in self.hist.iter().enumerate() {
            seen += n;
            if n > 0 && seen as f64 >= rank {
                let (lo, hi) = self.scale.bounds(i);
                let hi = if self.max_ns > 0 {
                    hi.min(self.max_ns as f64)
                } else {
                    hi
                };
                return Some((lo.min(hi), hi));
            }
        }
        None
    }

    /// Adds `other` into `self` (sums, max of maxima).
    pub fn merge(&mut self, other: &Stats) {
        self.count += other.count;
        self.errors += other.errors;
        self.total_ns += other.total_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.bytes += other.bytes;
        if self.hist.len() < other.hist.len() {
            self.hist.resize(other.hist.len(), 0);
        }
        for (a, b) in self.hist.iter_mut().zip(&other.hist) {
            *a += b;
        }
    }

    /// Mean latency in nanoseconds (0 for no calls).
    pub fn mean_ns(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_ns as f64 / self.count as f64
        }
    }

    /// Latency at quantile `q` (0..=1), estimated from the buckets by linear interpolation
    /// inside the bucket and clamped to the observed maximum. The true value lies in the same
    /// bucket: within a power of two for log2 buckets, within ~6% for log-linear ones.
    pub fn quantile_ns(&self, q: f64) -> f64 {
        let total: u64 = self.hist.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0u64;
        for (i, &n) in self.hist.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if (seen + n) as f64 >= rank {
                let (lo, hi) = self.scale.bounds(i);
                let frac = (rank - seen as f64) / n as f64;
                return (lo + frac * (hi - lo)).min(self.max_ns as f64);
            }
            seen += n;
        }
        self.max_ns as f64
    }
}

/// What an fd argument referred to, as user space names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FdKind {
    None,
    File,
    Socket,
    Other,
    Unknown,
}

impl From<tracer_common::FdKind> for FdKind {
    fn from(k: tracer_common::FdKind) -> Self {
        match k {
            tracer_common::FdKind::None => FdKind::None,
            tracer_common::FdKind::File => FdKind::File,
            tracer_common::FdKind::Socket => FdKind::Socket,
            tracer_common::FdKind::Other => FdKind::Other,
            tracer_common::FdKind::Unknown => FdKind::Unknown,
        }
    }
}

/// One (process, syscall, fd kind, layer) row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyscallRecord {
    pub pid: u32,
    pub nr: u32,
    pub name: String,
    pub fd_kind: FdKind,
    /// The layer the calling thread was in (innermost probed function active), if any.
    #[serde(default)]
    pub layer: Option<String>,
    pub stats: Stats,
}

/// A layer of the profile, as recorded with the session so it can be re-rendered alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// 1-based id used by the kernel side.
    pub id: u32,
    pub name: String,
    pub title: String,
    /// Output folder (`01_network_layer`, ...).
    pub folder: String,
    /// Function patterns (probed and stack-only): stack membership uses them.
    pub functions: Vec<String>,
    pub syscalls: Vec<String>,
}

/// Calls of one probed function in one process.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub pid: u32,
    /// Demangled name, e.g. `Persister::saveRaftState(std::string const&)`.
    pub function: String,
    /// The profile pattern that matched it.
    pub pattern: String,
    /// The object it was found in (executable or shared library), as the process names it;
    /// empty in sessions saved before objects were recorded.
    #[serde(default)]
    pub object: String,
    pub layer: String,
    pub entries: u64,
    pub returns: u64,
    /// Returns whose entry was not seen (entered before tracing began).
    pub unmatched_returns: u64,
    /// Latency of the calls whose return was seen (count = returns).
    pub latency: Stats,
    /// When its probes were removed for being over the probe budget (counts stop there).
    #[serde(default)]
    pub detached_at_s: Option<f64>,
}

impl FunctionRecord {
    /// The file name of the object it was found in (`libraftcore.so`), `?` when not recorded.
    pub fn object_name(&self) -> &str {
        match self.object.rsplit('/').next() {
            Some(name) if !name.is_empty() => name,
            _ => "?",
        }
    }
}

/// One (process, file, syscall, layer) row, for syscalls on regular files; opens of a file by
/// path are rows too (`openat`, ...), the truncating ones apart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileRecord {
    pub pid: u32,
    /// The path as the process opened it, made absolute with the process's cwd when relative;
    /// `<unknown path>` when the path table was full.
    pub path: String,
    pub syscall: String,
    pub stats: Stats,
    /// The layer the calling thread was in (innermost active probed call), or None.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// An open with `O_TRUNC` (or `creat`): the file was emptied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncating: bool,
}

/// Threads created by one process from one call site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThreadCreation {
    pub pid: u32,
    /// Name of the thread that created them.
    pub thread: String,
    /// The creating thread's user stack at the creation (`clone`/`clone3`), root first; empty
    /// when it could not be walked.
    pub frames: Vec<String>,
    pub count: u64,
}

/// How a traced process ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessExit {
    pub pid: u32,
    /// Seconds after the start of tracing.
    pub at_s: f64,
    /// The thread that called `exit_group` or received the fatal signal (its name and id).
    pub thread: String,
    pub tid: u32,
    /// `exit_group`'s code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed it (`SIGSEGV`), when a signal did.
    pub signal: Option<String>,
    /// The receiving thread's user stack when the signal was delivered, root first.
    #[serde(default)]
    pub frames: Vec<String>,
}

impl ProcessExit {
    /// `exit code 3`, `killed by SIGSEGV`, `ended` (neither seen).
    pub fn how(&self) -> String {
        match (&self.signal, self.exit_code) {
            (Some(s), _) => format!("killed by {s}"),
            (None, Some(c)) => format!("exit code {c}"),
            (None, None) => "ended".into(),
        }
    }
}

/// `SIGSEGV` for 11: the name of a Linux x86-64 signal (`SIG<n>` for one without a name,
/// `SIGRTMIN+<k>` for real-time signals).
pub fn signal_name(signo: i32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match signo {
        1..=31 => NAMES[signo as usize].to_string(),
        34..=64 => format!("SIGRTMIN+{}", signo - 34),
        _ => format!("SIG{signo}"),
    }
}

/// Resident set size of one process sampled over the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemorySeries {
    pub pid: u32,
    /// (seconds after the start of tracing, resident bytes).
    pub samples: Vec<(f64, u64)>,
    /// The memory it can grow into before trouble: the lower of its cgroup's `memory.max`
    /// (less what the cgroup uses) and the machine's `MemAvailable`, at the last sample.
    pub headroom_bytes: Option<u64>,
    /// Where `headroom_bytes` comes from (`MemAvailable`, `cgroup memory.max of /x`).
    #[serde(default)]
    pub headroom_source: String,
}

impl StackRecord {
    /// `count` samples of `thread` in `pid` with these frames (root first), no layer, walk
    /// complete: how tests and canned snapshots write a stack.
    pub fn of(pid: u32, thread: &str, frames: &[&str], count: u64) -> StackRecord {
        StackRecord {
            pid,
            thread: thread.into(),
            frames: frames.iter().map(|f| f.to_string()).collect(),
            count,
            layer: None,
            user_truncated: false,
            walk_broke_in: None,
        }
    }
}

/// Events the kernel side saw, and what became of them: for every window and the whole run,
/// `taken = recorded + lost` (summed over reasons) holds exactly, because the counts and the
/// records of a window are read only once nothing writes them any more
/// (`tracer_common::window`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accounting {
    /// CPU samples that hit a traced process.
    pub samples: Tally,
    /// Blocked intervals of traced threads.
    pub offcpu: Tally,
}

/// One kind of event: how many were taken, how many recorded, how many lost and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub taken: u64,
    pub recorded: u64,
    /// Lost by reason (the `drops` names: `sample_map_full`, `offcpu_map_full`,
    /// `thread_state_failed`).
    pub lost: BTreeMap<String, u64>,
    /// Recorded, but their stack was gone: a thread blocked across two stack epochs (the stack
    /// map it was walked into was reused since).
    #[serde(default)]
    pub stacks_expired: u64,
}

impl Tally {
    /// Adds another window's counts.
    pub fn add(&mut self, o: &Tally) {
        self.taken += o.taken;
        self.recorded += o.recorded;
        self.stacks_expired += o.stacks_expired;
        for (k, v) in &o.lost {
            *self.lost.entry(k.clone()).or_insert(0) += v;
        }
    }
}

impl Accounting {
    /// Adds another window's counts.
    pub fn add(&mut self, o: &Accounting) {
        self.samples.add(&o.samples);
        self.offcpu.add(&o.offcpu);
    }
}

/// On-CPU stack samples of the run, symbolised.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CpuProfile {
    /// Sampling frequency per CPU (perf's `-F`).
    pub freq_hz: u64,
    /// Samples taken in traced processes (including those whose stack was lost).
    pub samples: u64,
    /// Distinct stacks with their sample counts.
    pub stacks: Vec<StackRecord>,
}

/// One distinct stack of one thread and how many samples hit it.
///
/// `frames` run from the outermost caller (root) to the sampled function (leaf), as in
/// FlameGraph's folded format. User frames are demangled C++ names (`Raft::applier()`);
/// kernel frames carry the suffix `_[k]` like perf's stackcollapse; frames that could not be
/// symbolised are `[unknown]` or `[module+0xoffset]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackRecord {
    pub pid: u32,
    /// The thread's name (comm) when it was sampled, e.g. `applier`, `hb-send`. Samples are
    /// keyed by thread name, not id, so the thousands of short-lived threads a leader creates
    /// stay one entry per name.
    pub thread: String,
    pub frames: Vec<String>,
    pub count: u64,
    /// The layer of the thread's innermost active probed call when sampled (uprobes on).
    #[serde(default)]
    pub layer: Option<String>,
    /// The user stack walk ended inside the program's own code (its executable or one of its
    /// libraries), or at an address outside any mapping, instead of at a thread entry or in a
    /// system library: a frame-pointer chain is broken (see `walk_broke_in`), so frames are
    /// missing. Stacks that end in libc/libstdc++ (Debian builds them without frame
    /// pointers) are not truncated: the program's own frames are all there.
    pub user_truncated: bool,
    /// For a truncated walk: the object (path) whose frame chain broke, e.g.
    /// `/usr/lib/x86_64-linux-gnu/libstdc++.so.6` (a library built without frame pointers) or
    /// the executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_broke_in: Option<String>,
}

/// tracer's own cost so far: user-space CPU and memory (from /proc/self), kernel BPF run time
/// (from the kernel's BPF run-time statistics, `kernel.bpf_stats_enabled`). Measured by
/// `session::overhead`, kept in the snapshot and shown by the metrics endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SelfCost {
    /// User + system CPU time of the tracer process.
    pub tracer_cpu_seconds: f64,
    /// Resident set size of the tracer process.
    pub tracer_rss_bytes: u64,
    /// Per eBPF program: (program name, run count, run time in ns) while BPF statistics were
    /// on, which they are only part of the time (they cost a clock read per run; see
    /// `session::overhead::BpfCostMeter`).
    #[serde(default)]
    pub bpf_programs: Vec<(String, u64, u64)>,
    /// Wall time BPF statistics were on: `bpf_programs` covers this much of the run.
    #[serde(default, rename = "bpf_sampled_s")]
    pub bpf_sampled_seconds: f64,
    /// How full the kernel side's hash maps were at the end of the run (empty in windows
    /// and in sessions saved before tracer measured it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_maps: Vec<MapFill>,
}

/// Entries of one kernel map at the end of the run, against its capacity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MapFill {
    pub map: String,
    pub entries: u64,
    pub capacity: u64,
}

/// The roles of one node over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeRoles {
    pub pid: u32,
    /// Consecutive spans, in time order: `leader` while the node called a leader-only function
    /// (e.g. `Raft::doHeartBeat`) in the poll window, `follower` otherwise.
    pub spans: Vec<RoleSpan>,
    /// Calls per second of the heartbeat function while leader (None if never leader).
    pub heartbeat_per_s: Option<f64>,
    /// Set when the role was inferred from stacks because no role function was probed
    /// (`--no-uprobes`, or none resolved): how, in words (see `analyse::role_inference`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inferred: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleSpan {
    pub role: String,
    pub from_s: f64,
    pub to_s: f64,
}

impl NodeRoles {
    /// The role at the end of the run (or when the node exited).
    pub fn final_role(&self) -> Option<&str> {
        self.spans.last().map(|s| s.role.as_str())
    }
}

/// Time threads spent blocked (off CPU), aggregated by where and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffCpuRecord {
    pub pid: u32,
    pub thread: String,
    /// Root first, like `StackRecord::frames` (kernel frames end in `_[k]`): where the thread
    /// blocked.
    pub frames: Vec<String>,
    /// Layer of the thread's innermost probed call when it blocked.
    pub layer: Option<String>,
    /// `futex` (lock or condition waits), another syscall's name (blocked in it), or
    /// `preempted` (runnable, waiting for a CPU).
    pub reason: String,
    /// For futex waits, the operation: `wait` (glibc mutex lock waits), `wait_bitset` (glibc
    /// condition-variable and timed waits), `lock_pi`, ... Stacks of futex waits usually stop
    /// inside libc (built without frame pointers), so this is how lock waits are recognised.
    #[serde(default)]
    pub futex_op: Option<String>,
    pub total_ns: u64,
    /// Times the thread blocked here.
    pub count: u64,
}

/// Name of a futex operation (flags removed).
pub fn futex_op_name(op: u32) -> String {
    match op {
        0 => "wait".into(),
        1 => "wake".into(),
        4 => "cmp_requeue".into(),
        6 => "lock_pi".into(),
        9 => "wait_bitset".into(),
        11 => "wait_requeue_pi".into(),
        13 => "lock_pi2".into(),
        other => format!("op{other}"),
    }
}

/// Disk figures of the run: the iostat, iotop and `du` views of the original script.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskReport {
    pub devices: Vec<DeviceStats>,
    pub processes: Vec<ProcessIo>,
    pub data_dirs: Vec<DataDir>,
}

/// One block device over the run, from /proc/diskstats deltas (what `iostat -x` computes) and
/// block tracepoints (request latency).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceStats {
    pub name: String,
    pub duration_s: f64,
    pub reads: u64,
    pub writes: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    /// Milliseconds spent on reads / writes (diskstats fields 4 and 8): await = ms / requests.
    pub read_ms: u64,
    pub write_ms: u64,
    /// Milliseconds the device was busy (field 10): %util = io_ms / duration.
    pub io_ms: u64,
    pub flushes: u64,
    /// Issue-to-completion latency of block requests (block tracepoints), when available.
    pub request_latency: Option<Stats>,
}

impl DeviceStats {
    pub fn r_per_s(&self) -> f64 {
        self.reads as f64 / self.duration_s.max(1e-9)
    }
    pub fn w_per_s(&self) -> f64 {
        self.writes as f64 / self.duration_s.max(1e-9)
    }
    pub fn read_kb_per_s(&self) -> f64 {
        self.read_bytes as f64 / 1024.0 / self.duration_s.max(1e-9)
    }
    pub fn write_kb_per_s(&self) -> f64 {
        self.write_bytes as f64 / 1024.0 / self.duration_s.max(1e-9)
    }
    /// Mean time per request, queueing included (iostat's await), ms.
    pub fn await_ms(&self) -> f64 {
        let n = self.reads + self.writes;
        if n == 0 {
            0.0
        } else {
            (self.read_ms + self.write_ms) as f64 / n as f64
        }
    }
    pub fn util_pct(&self) -> f64 {
        100.0 * self.io_ms as f64 / (self.duration_s * 1000.0).max(1e-9)
    }
}

/// Bytes a process read and wrote over the run (/proc/PID/io deltas: what iotop shows).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessIo {
    pub pid: u32,
    /// Bytes that reached (or came from) the storage layer.
    pub read_bytes: u64,
    pub write_bytes: u64,
    /// Bytes passed to read/write syscalls of any kind (rchar/wchar).
    pub rchar: u64,
    pub wchar: u64,
}

/// A directory a node keeps its files in, before and after the run (`du`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataDir {
    pub pid: u32,
    pub path: String,
    /// None when the directory was only discovered during the run.
    pub bytes_before: Option<u64>,
    pub bytes_after: u64,
}

/// Suffix of kernel frames in `StackRecord::frames`.
pub const KERNEL_SUFFIX: &str = "_[k]";

/// Name of syscall `nr` on this architecture (`syscall_N` when unknown).
pub fn syscall_name(nr: u32) -> String {
    match syscalls::Sysno::new(nr as usize) {
        Some(s) => s.name().to_string(),
        None => format!("syscall_{nr}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_with(hist: Vec<u64>, max_ns: u64) -> Stats {
        Stats {
            count: hist.iter().sum(),
            max_ns,
            hist,
            ..Stats::default()
        }
    }

    #[test]
    fn quantile_stays_inside_the_bucket_of_the_true_value() {
        // 100 calls in [1024, 2048) ns.
        let mut hist = vec![0; 40];
        hist[10] = 100;
        let s = stats_with(hist, 2000);
        let p50 = s.quantile_ns(0.5);
        assert!((1024.0..2048.0).contains(&p50), "{p50}");
        let (lo, hi) = s.quantile_bucket_ns(0.5).unwrap();
        assert!(
            lo <= p50 && p50 <= hi && hi <= 2.0 * lo.max(1.0),
            "{lo}..{hi}"
        );
        assert_eq!(s.quantile_ns(1.0), 2000.0, "clamped to the max");
    }

    #[test]
    fn quantile_picks_the_right_bucket_of_a_bimodal_distribution() {
        let mut hist = vec![0; 40];
        hist[4] = 90; // 16..32 ns
        hist[20] = 10; // ~1 ms
        let s = stats_with(hist, 2_000_000);
        assert!(s.quantile_ns(0.5) < 32.0);
        assert!(s.quantile_ns(0.99) >= (1u64 << 20) as f64);
    }

    #[test]
    fn log_linear_buckets_are_tight_around_two_ms() {
        // 100 calls of 2.05 ms: p50 must be within 10% (here: within one ~6% bucket).
        let mut hist = vec![0; tracer_common::FINE_BUCKETS];
        let b = tracer_common::fine_bucket(2_050_000);
        hist[b] = 100;
        let (lo, hi) = tracer_common::fine_bucket_bounds(b);
        assert!(lo <= 2_050_000 && 2_050_000 < hi, "{lo} {hi}");
        assert!((hi - lo) as f64 / lo as f64 <= 0.0625);
        let s = Stats {
            count: 100,
            max_ns: 2_060_000,
            hist,
            scale: HistScale::LogLinear,
            ..Stats::default()
        };
        let p50 = s.quantile_ns(0.5);
        assert!((p50 - 2_050_000.0).abs() / 2_050_000.0 < 0.05, "{p50}");
    }

    #[test]
    fn log_linear_bucket_bounds_invert_the_bucket_function() {
        for ns in [
            0u64,
            1,
            15,
            16,
            17,
            31,
            32,
            100,
            1000,
            65_535,
            1 << 20,
            123_456_789,
        ] {
            let (lo, hi) = tracer_common::fine_bucket_bounds(tracer_common::fine_bucket(ns));
            assert!(lo <= ns && ns < hi, "{ns}: [{lo}, {hi})");
        }
    }

    #[test]
    fn merge_sums_and_keeps_the_max() {
        let mut a = Stats {
            count: 2,
            errors: 1,
            total_ns: 10,
            max_ns: 7,
            bytes: 5,
            hist: vec![1, 1],
            scale: HistScale::Log2,
        };
        let b = Stats {
            count: 1,
            errors: 0,
            total_ns: 20,
            max_ns: 20,
            bytes: 1,
            hist: vec![0, 0, 0, 0, 1],
            scale: HistScale::Log2,
        };
        a.merge(&b);
        assert_eq!(
            (a.count, a.errors, a.total_ns, a.max_ns, a.bytes),
            (3, 1, 30, 20, 6)
        );
        assert_eq!(a.hist, vec![1, 1, 0, 0, 1]);
    }

    #[test]
    fn names_x86_64_syscalls() {
        assert_eq!(syscall_name(74), "fsync");
        assert_eq!(syscall_name(1), "write");
        assert_eq!(syscall_name(100_000), "syscall_100000");
    }
}
