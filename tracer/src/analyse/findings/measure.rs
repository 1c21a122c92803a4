//! Measurements: each figure of the findings computed from a [`Snapshot`], or the reason it
//! could not be ([`Measured::NotMeasured`], never a 0). Nothing here knows a threshold or
//! writes a message: [`super::messages`] judges and words what comes out.
//!
//! Shares of on-CPU time are stack membership over all samples of the node: the share of
//! samples whose stack contains one of the figure's functions (perf's "Children" column),
//! what the original read off `perf report`.

use std::fmt::Write as _;

use super::functions::{classify_futex, functions, is_raft_frame, FutexWait};
use super::{lifecycle, state_files};
use crate::analyse::{cpu, roles, spinning, syscalls, time_split};
use crate::model::{FdKind, Snapshot, StackRecord};
use crate::profile::pattern::{any_matches, Pattern};

/// Result of measuring one figure.
pub enum Measured {
    Value(f64, String),
    /// A share of samples, in percent: `hits` of `samples`. Judged only when its confidence
    /// bound lies on one side of the threshold (see [`super::messages`]): a share of a handful
    /// of samples is no evidence either way.
    Share {
        hits: u64,
        samples: u64,
        detail: String,
    },
    NotMeasured(String),
}

/// A figure is a share of samples only with at least this many samples of the node.
pub const MIN_SAMPLES: u64 = 20;

/// One figure of one node, device or data dir.
pub struct Measurement {
    /// The node (pid) the figure is about; None for run-wide figures (devices).
    pub node: Option<u32>,
    /// What else it is about: a device or data dir.
    pub subject: Option<String>,
    pub measured: Measured,
}

impl Measurement {
    fn of_node(pid: u32, measured: Measured) -> Measurement {
        Measurement {
            node: Some(pid),
            subject: None,
            measured,
        }
    }

    fn run_wide(measured: Measured) -> Measurement {
        Measurement {
            node: None,
            subject: None,
            measured,
        }
    }
}

/// The figure `id` of every node (per device or data dir for the disk ones).
pub fn measure(snapshot: &Snapshot, nodes: &[roles::Node], id: &str) -> Vec<Measurement> {
    match id {
        "log_io.device_await" => device_await(snapshot),
        "log_io.data_growth" => data_growth(snapshot, nodes),
        "consensus.heartbeat_rate" => heartbeat_rate(snapshot, nodes),
        _ => nodes
            .iter()
            .map(|n| Measurement::of_node(n.pid, measure_node(snapshot, n, id)))
            .collect(),
    }
}

/// Figures computed from syscall accounting: not measured when it was off.
const SYSCALL_FIGURES: &[&str] = &[
    "log_io.fsync_rate",
    "log_io.bytes_per_flush",
    "log_io.io_wait_share",
    "disk.fsync_latency",
    "disk.write_fsync_ratio",
    "disk.flush_time_share",
    "durability.unflushed_writes",
];

/// A per-node figure of one node.
fn measure_node(snapshot: &Snapshot, node: &roles::Node, id: &str) -> Measured {
    if SYSCALL_FIGURES.contains(&id) {
        if let Some(why) = snapshot.syscalls_missing() {
            return Measured::NotMeasured(why.into());
        }
        if !snapshot.syscalls.iter().any(|r| r.pid == node.pid) {
            return Measured::NotMeasured("no syscalls of this node were recorded".into());
        }
    }
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
        "cpu.spinning_thread" => spinning(snapshot, node),
        "durability.truncate_rewrite" => state_files::truncate_rewrite(snapshot, node),
        "log_io.reopens" => state_files::reopens(snapshot, node),
        "process.memory_growth" => lifecycle::memory_growth(snapshot, node),
        "process.thread_churn" => lifecycle::thread_churn(snapshot, node),
        "process.crashes" => lifecycle::crashes(snapshot, node),
        other => Measured::NotMeasured(format!("no measurement for {other}")),
    }
}

/// The node's own samples: those inside tracer's work (its BPF programs, uprobe handling) are
/// tracer's cost, not the node's, and stay out of every share.
fn node_stacks(snapshot: &Snapshot, pid: u32) -> Option<Vec<&StackRecord>> {
    let p = snapshot.profile.as_ref()?;
    Some(
        p.stacks
            .iter()
            .filter(|s| s.pid == pid && !time_split::is_tracer_stack(s))
            .collect(),
    )
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
    Measured::Share {
        hits: s.total_samples,
        samples: s.samples,
        detail: format!(
            "{} of {} on-CPU samples have {} on the stack (self {:.1}%)",
            s.total_samples,
            s.samples,
            names.join(" / "),
            s.self_pct
        ),
    }
}

/// The `m_mtx` lock share: the time threads of the node spent blocked waiting for a mutex
/// inside Raft code, in thread-seconds per second of the node's lifetime, as a percentage:
/// off-CPU records with reason `futex` whose innermost recognised libc/libstdc++ frame is a
/// mutex lock (not a condition-variable wait: an idle applier waiting for work is not
/// contention) and that have a `Raft::` frame or were recorded inside the consensus layer.
/// 20% means that, on average, a fifth of a thread was always waiting for the lock. Without
/// off-CPU data (`--no-offcpu`) it is not measured: on-CPU samples cannot see a thread that
/// waits (issue 10: no verdict without evidence).
fn lock_share(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    let in_raft = |frames: &[String], layer: Option<&str>| {
        frames.iter().any(|f| is_raft_frame(f)) || layer == Some("consensus")
    };
    if snapshot.offcpu_missing().is_none() {
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
    Measured::NotMeasured(format!(
        "{}: lock waits are blocked time, which only off-CPU accounting sees",
        snapshot.offcpu_missing().unwrap_or("no off-CPU data")
    ))
}

fn io_wait(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    let mut ns = 0u64;
    let mut calls = 0u64;
    for r in snapshot.syscalls.iter().filter(|r| r.pid == node.pid) {
        // Every syscall on files: on file fds (close included), flushes, and by path (opens).
        if r.fd_kind == FdKind::File
            || syscalls::FLUSH_SYSCALLS.contains(&r.name.as_str())
            || syscalls::PATH_SYSCALLS.contains(&r.name.as_str())
        {
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

/// Path fragments of persister/data files, besides files under a node's data dirs.
pub const PERSISTER_MARKERS: &[&str] = &["persist", "raftstate", "raft_state", "snapshot"];

/// File names that are logs (stdout redirected to a file, a log file), never raft state.
pub const LOG_MARKERS: &[&str] = &[".log", ".out", ".err", "stdout", "stderr", "nohup"];

/// Whether a file name reads as a log (see [`LOG_MARKERS`]).
pub fn is_log_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    LOG_MARKERS.iter().any(|m| name.contains(m))
        && !PERSISTER_MARKERS.iter().any(|m| name.contains(m))
}

/// The files the node wrote or opened inside the log & I/O layer's functions (the persister's
/// own calls), or None when no file syscall of the node carries a layer (uprobes off, the
/// persister functions not found, a session of an older tracer).
fn written_in_log_io(snapshot: &Snapshot, pid: u32) -> Option<Vec<&str>> {
    let mut layered = false;
    let mut out = Vec::new();
    for r in snapshot.files.iter().filter(|r| r.pid == pid) {
        let Some(layer) = &r.layer else { continue };
        layered = true;
        if layer == "log_io" && !out.contains(&r.path.as_str()) {
            out.push(r.path.as_str());
        }
    }
    (layered && !out.is_empty()).then_some(out)
}

/// Whether `path` is one of the node's raft-state (persister) files. When the kernel saw the
/// node's file syscalls inside the log & I/O layer's probed functions, those files and only
/// those are (what the persister writes, wherever it lives). Otherwise: under the node's data
/// directories or named like one. Never a log (a node's stdout in its working directory is no
/// raft state).
pub fn is_persister_file(snapshot: &Snapshot, pid: u32, path: &str) -> bool {
    if is_log_file(path) {
        return false;
    }
    if let Some(files) = written_in_log_io(snapshot, pid) {
        return files.contains(&path);
    }
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

/// Await of every block device that served requests during the run.
fn device_await(snapshot: &Snapshot) -> Vec<Measurement> {
    let Some(disk) = &snapshot.disk else {
        return vec![Measurement::run_wide(Measured::NotMeasured(
            "no disk report in this session (block-device figures not collected)".into(),
        ))];
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
        return vec![Measurement::run_wide(Measured::NotMeasured(why))];
    }
    let mut out = Vec::new();
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
        out.push(Measurement {
            node: None,
            subject: Some(d.name.clone()),
            measured: Measured::Value(d.await_ms(), detail),
        });
    }
    out
}

/// Growth of every data directory of a node over the node's lifetime.
fn data_growth(snapshot: &Snapshot, nodes: &[roles::Node]) -> Vec<Measurement> {
    let dirs = snapshot.disk.as_ref().map(|d| &d.data_dirs);
    let Some(dirs) = dirs.filter(|d| !d.is_empty()) else {
        return vec![Measurement::run_wide(Measured::NotMeasured(
            "no data directories recorded in this session".into(),
        ))];
    };
    // A directory is reported once, however many processes wrote there (three nodes and a
    // launcher sharing a working directory): its size before is the earliest recorded.
    let mut by_path: Vec<(&str, Vec<&crate::model::DataDir>)> = Vec::new();
    for dd in dirs {
        match by_path.iter_mut().find(|(p, _)| *p == dd.path) {
            Some((_, v)) => v.push(dd),
            None => by_path.push((dd.path.as_str(), vec![dd])),
        }
    }
    let mut out = Vec::new();
    for (path, seen) in by_path {
        let lifetime = seen
            .iter()
            .map(|dd| {
                nodes
                    .iter()
                    .find(|n| n.pid == dd.pid)
                    .map_or(snapshot.duration_s, |n| n.lifetime_s)
            })
            .fold(0.0, f64::max);
        let after = seen.iter().map(|dd| dd.bytes_after).max().unwrap_or(0);
        let before = seen.iter().filter_map(|dd| dd.bytes_before).min();
        let m = match before {
            Some(before) => Measured::Value(
                (after as f64 - before as f64) / lifetime.max(1e-9),
                format!("{before} → {after} bytes in {lifetime:.1} s"),
            ),
            None => Measured::NotMeasured(format!(
                "directory found only during the run: no size before ({after} bytes after)"
            )),
        };
        let pids: Vec<u32> = seen.iter().map(|dd| dd.pid).collect();
        out.push(Measurement {
            // A directory of several processes belongs to none of them.
            node: (pids.len() == 1).then_some(pids[0]),
            subject: Some(path.to_string()),
            measured: m,
        });
    }
    out
}

/// Heartbeat calls per second of every node that was leader, from the role detector, or from
/// the probed heartbeat function's entries when roles are not available.
fn heartbeat_rate(snapshot: &Snapshot, nodes: &[roles::Node]) -> Vec<Measurement> {
    let mut out = Vec::new();
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
                None => Measured::NotMeasured(match snapshot.uprobes_missing() {
                    Some(why) => format!("leader, but heartbeat calls are not counted: {why}"),
                    None => "leader, but the heartbeat function was not seen (not probed?)".into(),
                }),
            };
            // Calls counted only until the heartbeat function was unprobed (over the probe
            // budget): a rate over the whole run would be too low.
            let m = match unprobed_heartbeat(snapshot, n.pid) {
                Some(at) => Measured::NotMeasured(format!(
                    "the heartbeat function was unprobed at {at:.1} s (over the probe budget): \
                     its calls after that are not counted"
                )),
                None => m,
            };
            out.push(Measurement::of_node(n.pid, m));
        }
        if out.is_empty() {
            out.push(Measurement::run_wide(Measured::NotMeasured(
                "no node was seen as leader".into(),
            )));
        }
        return out;
    }
    for n in nodes {
        let Some(f) = snapshot.functions.iter().find(|f| {
            f.pid == n.pid && functions().do_heartbeat.matches(&f.function) && f.entries > 0
        }) else {
            continue;
        };
        let secs = f.detached_at_s.unwrap_or(n.lifetime_s).max(1e-9);
        out.push(Measurement::of_node(
            n.pid,
            Measured::Value(
                f.entries as f64 / secs,
                format!(
                    "{} calls of {} in {secs:.1} s (no role data: any node calling it counts)",
                    f.entries, f.function
                ),
            ),
        ));
    }
    if out.is_empty() {
        out.push(Measurement::run_wide(Measured::NotMeasured(
            match snapshot.uprobes_missing() {
                Some(why) => format!("no role data and no probed Raft::doHeartBeat calls: {why}"),
                None => "no role data and no probed Raft::doHeartBeat calls (not found)".into(),
            },
        )));
    }
    out
}

/// When the node's heartbeat function was unprobed for being over the probe budget, if it was.
fn unprobed_heartbeat(snapshot: &Snapshot, pid: u32) -> Option<f64> {
    snapshot
        .functions
        .iter()
        .filter(|f| f.pid == pid && any_matches(&functions().heartbeat, &f.function))
        .find_map(|f| f.detached_at_s)
}

/// The busiest thread of the node whose syscalls mostly return at once: the share of the run
/// it was on a CPU or runnable (see [`spinning`]). A measured 0 when no thread polls.
fn spinning(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    if let Some(why) = samples_missing(snapshot, node.pid) {
        return Measured::NotMeasured(why);
    }
    if let Some(why) = snapshot.syscalls_missing() {
        return Measured::NotMeasured(format!(
            "{why}: whether a thread's calls return at once is unknown"
        ));
    }
    let threads = spinning::threads(snapshot, node.pid, node.lifetime_s);
    let blocked = |t: &spinning::ThreadBusy| match t.blocked_pct {
        Some(b) => format!("blocked {b:.1}%"),
        None => "blocked time not measured (--no-offcpu)".into(),
    };
    match threads.iter().find(|t| t.polls()) {
        Some(t) => {
            let calls: Vec<String> = t
                .syscalls
                .iter()
                .take(3)
                .map(|s| {
                    format!(
                        "{} {:.0}/s ({:.0}% within {} µs, p50 {:.1} µs, {} errors)",
                        s.name,
                        s.per_s,
                        s.quick_pct,
                        spinning::QUICK_NS / 1000,
                        s.p50_us,
                        s.errors
                    )
                })
                .collect();
            let frames: Vec<String> = t
                .top_frames
                .iter()
                .map(|(f, pct)| format!("{f} {pct:.0}%"))
                .collect();
            Measured::Value(
                t.busy_pct,
                format!(
                    "thread {}: {:.0}% on CPU, {} of {:.1} s; {}; top frames: {}",
                    t.thread,
                    t.on_cpu_pct,
                    blocked(t),
                    node.lifetime_s,
                    calls.join(", "),
                    frames.join(", ")
                ),
            )
        }
        None => Measured::Value(
            0.0,
            match threads.first() {
                Some(t) => format!(
                    "no thread's syscalls mostly return at once; busiest thread {} ({:.0}% on CPU, {})",
                    t.thread,
                    t.on_cpu_pct,
                    blocked(t)
                ),
                None => "no thread's syscalls mostly return at once".into(),
            },
        ),
    }
}
