//! The per-thread view: CPU samples and blocked (off-CPU) time per thread name of each node.
//!
//! A spinning scheduler thread shows up as a thread with a large CPU share and almost no
//! blocked time; a thread-per-request pattern as many short-lived threads. Those threads get
//! a fresh numbered name each time (`hb-send-17`), so names are grouped with digits replaced
//! by `*` ([`cpu::group_digits`]); `names` says how many distinct names a row stands for.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::analyse::cpu;
use crate::model::Snapshot;

/// One (node, thread-name group) row.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ThreadRow {
    pub pid: u32,
    /// Thread name with digit runs replaced by `*`.
    pub thread: String,
    /// Distinct thread names grouped into this row.
    pub names: usize,
    pub cpu_samples: u64,
    /// Share of the node's on-CPU samples.
    pub cpu_pct: f64,
    /// CPU seconds estimated from samples (samples / frequency).
    pub cpu_s: f64,
    /// Blocked (asleep) time, thread-seconds: futex waits, and any other reason (syscall
    /// names). Preemptions are not blocked time: the kernel side never records them.
    pub offcpu_s: f64,
    pub futex_s: f64,
    /// Blocked in any other syscall (I/O, sleeps, epoll).
    pub other_blocked_s: f64,
}

#[derive(Default)]
struct Acc {
    names: BTreeSet<String>,
    row: ThreadRow,
}

/// Rows of node `pid`, most CPU first, then most blocked time.
pub fn rows(snapshot: &Snapshot, pid: u32) -> Vec<ThreadRow> {
    let mut by: BTreeMap<String, Acc> = BTreeMap::new();
    let freq = snapshot.profile.as_ref().map_or(0, |p| p.freq_hz);
    let mut node_samples = 0u64;
    for s in snapshot
        .profile
        .iter()
        .flat_map(|p| p.stacks.iter())
        .filter(|s| s.pid == pid)
    {
        node_samples += s.count;
        let acc = by.entry(cpu::group_digits(&s.thread)).or_default();
        acc.names.insert(s.thread.clone());
        acc.row.cpu_samples += s.count;
    }
    for o in snapshot.offcpu.iter().filter(|o| o.pid == pid) {
        let acc = by.entry(cpu::group_digits(&o.thread)).or_default();
        acc.names.insert(o.thread.clone());
        let s = o.total_ns as f64 / 1e9;
        acc.row.offcpu_s += s;
        match o.reason.as_str() {
            "futex" => acc.row.futex_s += s,
            _ => acc.row.other_blocked_s += s,
        }
    }
    let mut out: Vec<ThreadRow> = by
        .into_iter()
        .map(|(thread, acc)| {
            let mut row = acc.row;
            row.pid = pid;
            row.thread = thread;
            row.names = acc.names.len();
            row.cpu_pct = 100.0 * row.cpu_samples as f64 / node_samples.max(1) as f64;
            row.cpu_s = if freq > 0 {
                row.cpu_samples as f64 / freq as f64
            } else {
                0.0
            };
            row
        })
        .collect();
    out.sort_by(|a, b| {
        b.cpu_samples
            .cmp(&a.cpu_samples)
            .then(b.offcpu_s.total_cmp(&a.offcpu_s))
            .then(a.thread.cmp(&b.thread))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned::Canned;

    #[test]
    fn short_lived_threads_group_and_blocked_time_splits_by_reason() {
        let s = Canned::new(10.0)
            .node(1)
            .samples(1, "hb-send-1", &["Raft::doHeartBeat()"], 3)
            .samples(1, "hb-send-22", &["Raft::doHeartBeat()"], 3)
            .samples(1, "sched", &["Scheduler::run()"], 4)
            .offcpu(1, "sched", &["[libc.so.6]"], None, "futex", 2_000_000_000)
            .offcpu(1, "sched", &["usleep"], None, "nanosleep", 1_000_000_000)
            .offcpu(1, "hb-send-3", &["x"], None, "epoll_wait", 500_000_000)
            .build();
        let r = rows(&s, 1);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].thread, "hb-send-*");
        assert_eq!((r[0].names, r[0].cpu_samples), (3, 6));
        assert_eq!((r[0].futex_s, r[0].other_blocked_s), (0.0, 0.5));
        assert_eq!(r[1].thread, "sched");
        assert_eq!((r[1].futex_s, r[1].other_blocked_s), (2.0, 1.0));
        assert_eq!(r[1].cpu_pct, 40.0);
    }
}
