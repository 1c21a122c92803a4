//! Measurements: each figure of the findings computed from a [`Snapshot`], or the reason it
//! could not be ([`Measured::NotMeasured`], never a 0). Nothing here knows a threshold or
//! writes a message: [`super::messages`] judges and words what comes out.
//!
//! Shares of on-CPU time are stack membership over all samples of the node: the share of
//! samples whose stack contains one of the figure's functions (perf's "Children" column),
//! what the original read off `perf report`.

use std::fmt::Write as _;

use super::functions::{classify_futex, functions, is_raft_frame, FutexWait};
use crate::analyse::{cpu, roles, syscalls};
use crate::model::{FdKind, Snapshot, StackRecord};
use crate::profile::pattern::{any_matches, Pattern};

/// Result of measuring one figure.
pub enum Measured {
    Value(f64, String),
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

/// A per-node figure of one node.
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

/// The `m_mtx` lock share: the time threads of the node spent blocked waiting for a mutex
/// inside Raft code, in thread-seconds per second of the node's lifetime, as a percentage:
/// off-CPU records with reason `futex` whose innermost recognised libc/libstdc++ frame is a
/// mutex lock (not a condition-variable wait: an idle applier waiting for work is not
/// contention) and that have a `Raft::` frame or were recorded inside the consensus layer.
/// 20% means that, on average, a fifth of a thread was always waiting for the lock. Without
/// off-CPU data the on-CPU share of samples inside mutex-lock functions under Raft code is used
/// instead, and the detail says so.
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

/// Whether `path` is one of the node's persister/data files: under its data directories or
/// named like one, and not a log (a node's stdout in its working directory is no raft state).
pub fn is_persister_file(snapshot: &Snapshot, pid: u32, path: &str) -> bool {
    if is_log_file(path) {
        return false;
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
                None => Measured::NotMeasured(
                    "leader, but the heartbeat function was not seen (not probed?)".into(),
                ),
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
            "no role data and no probed Raft::doHeartBeat calls (uprobes off or not found)".into(),
        )));
    }
    out
}
