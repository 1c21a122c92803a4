//! Spinning threads: a thread that never blocks — on a CPU, or runnable and waiting for one,
//! nearly the whole run — while the syscalls it makes return at once (zero-timeout polls,
//! `EAGAIN` reads). Such a thread burns a core doing nothing: the fiber scheduler of the
//! KVstorageBaseRaft-cpp forks polls `epoll_wait` with a zero timeout whenever it has timers
//! pending (issue 10).
//!
//! In: a [`Snapshot`] with stack samples and syscall accounting. Out: [`ThreadBusy`] per
//! thread of a node, busiest first. Never: a verdict (the finding `cpu.spinning_thread` judges).
//!
//! How: a thread's busy share is the part of the run it did not block. Off-CPU accounting
//! records blocked time (sleeps, waits), not preemptions, so a thread on a CPU most of the run
//! (≥ [`MIN_ON_CPU_PCT`]: it existed all along) that never blocked was runnable the rest,
//! waiting for a CPU: on a crowded machine a spinner is on CPU 70% of the time and never
//! blocks, and counts as 100% busy. Without off-CPU data it is the on-CPU share alone. Syscalls are accounted per process, not per thread, so a
//! thread's syscalls are the ones its sampled stacks are in (kernel entry frames
//! `__x64_sys_NAME`, or the libc wrapper `NAME` as a frame), with the process's counts and
//! latencies of those syscalls.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analyse::{cpu, threads};
use crate::model::{Snapshot, Stats, KERNEL_SUFFIX};

/// A call that completes within this is one that "returned at once": a zero-timeout poll or
/// an `EAGAIN` read takes about a microsecond; a poll that waits, at least a timer tick.
pub const QUICK_NS: u64 = 16_384;

/// On-CPU share above which a thread counts as present the whole run, so the time it was
/// neither on a CPU nor blocked was time waiting for a CPU.
pub const MIN_ON_CPU_PCT: f64 = 50.0;

/// A syscall a thread is sampled in, with the process's counts of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolledSyscall {
    pub name: String,
    pub calls: u64,
    pub per_s: f64,
    /// Share of the calls that returned within [`QUICK_NS`].
    pub quick_pct: f64,
    /// Calls that failed (`EAGAIN` and others).
    pub errors: u64,
    pub p50_us: f64,
}

/// One thread of a node: how busy it was and what it polls.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThreadBusy {
    pub pid: u32,
    pub thread: String,
    /// Share of the node's lifetime on a CPU (samples / frequency).
    pub on_cpu_pct: f64,
    /// Share of the node's lifetime blocked (off CPU, not runnable); None without off-CPU data.
    pub blocked_pct: Option<f64>,
    /// The share of the run it did not block: `100 - blocked_pct` for a thread on a CPU at
    /// least [`MIN_ON_CPU_PCT`] of the run, else (or without off-CPU data) `on_cpu_pct`.
    pub busy_pct: f64,
    pub samples: u64,
    /// The syscalls its stacks are in, most calls first.
    pub syscalls: Vec<PolledSyscall>,
    /// Its functions with the most samples (self), with their share of its samples.
    pub top_frames: Vec<(String, f64)>,
}

impl ThreadBusy {
    /// Its syscalls mostly return at once: ≥ 90% of the calls of the syscalls it is sampled in
    /// return within [`QUICK_NS`], at ≥ 1000 calls/s (a loop, not an occasional check).
    pub fn polls(&self) -> bool {
        let calls: u64 = self.syscalls.iter().map(|s| s.calls).sum();
        let quick: f64 = self
            .syscalls
            .iter()
            .map(|s| s.quick_pct / 100.0 * s.calls as f64)
            .sum();
        calls > 0 && quick >= 0.9 * calls as f64 && self.polls_per_s() >= 1000.0
    }

    /// Calls per second of the syscalls it is sampled in (process-wide counts).
    pub fn polls_per_s(&self) -> f64 {
        self.syscalls.iter().map(|s| s.per_s).sum()
    }
}

/// The syscall a frame is the kernel entry (`__x64_sys_epoll_wait_[k]`, `__do_sys_…`,
/// `__se_sys_…`) or libc wrapper (`epoll_wait`) of, if any.
fn syscall_of_frame<'a>(frame: &'a str, known: &BTreeMap<&'a str, Stats>) -> Option<&'a str> {
    if let Some(k) = frame.strip_suffix(KERNEL_SUFFIX) {
        let name = ["__x64_sys_", "__do_sys_", "__se_sys_", "__ia32_sys_"]
            .iter()
            .find_map(|p| k.strip_prefix(p))?;
        return known.contains_key(name).then_some(name);
    }
    let name = frame.trim_start_matches("__libc_");
    known.get_key_value(name).map(|(k, _)| *k)
}

/// Every thread of node `pid` with samples, busiest first. `lifetime_s` is the node's time
/// under tracing.
pub fn threads(snapshot: &Snapshot, pid: u32, lifetime_s: f64) -> Vec<ThreadBusy> {
    let Some(profile) = &snapshot.profile else {
        return Vec::new();
    };
    let mut by_name: BTreeMap<&str, Stats> = BTreeMap::new();
    for r in snapshot.syscalls.iter().filter(|r| r.pid == pid) {
        by_name.entry(r.name.as_str()).or_default().merge(&r.stats);
    }
    let offcpu = snapshot.offcpu_missing().is_none();
    let life = lifetime_s.max(1e-9);
    let mut out: Vec<ThreadBusy> = threads::rows(snapshot, pid)
        .into_iter()
        // A row of several names is several threads (`worker-*`): none of them is one spinner.
        .filter(|r| r.names == 1 && r.cpu_samples > 0)
        .map(|r| {
            let stacks: Vec<_> = profile
                .stacks
                .iter()
                .filter(|s| s.pid == pid && cpu::group_digits(&s.thread) == r.thread)
                .collect();
            let mut in_syscall: BTreeMap<&str, u64> = BTreeMap::new();
            for s in &stacks {
                if let Some(name) = s
                    .frames
                    .iter()
                    .rev()
                    .find_map(|f| syscall_of_frame(f, &by_name))
                {
                    *in_syscall.entry(name).or_default() += s.count;
                }
            }
            let mut syscalls: Vec<PolledSyscall> = in_syscall
                .keys()
                .map(|&name| {
                    let st = &by_name[name];
                    let quick: u64 = st
                        .hist
                        .iter()
                        .enumerate()
                        .take_while(|&(i, _)| st.scale.bounds(i).1 <= QUICK_NS as f64)
                        .map(|(_, n)| n)
                        .sum();
                    PolledSyscall {
                        name: name.to_string(),
                        calls: st.count,
                        per_s: st.count as f64 / life,
                        quick_pct: 100.0 * quick as f64 / st.hist.iter().sum::<u64>().max(1) as f64,
                        errors: st.errors,
                        p50_us: st.quantile_ns(0.5) / 1e3,
                    }
                })
                .collect();
            syscalls.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.name.cmp(&b.name)));
            let costs = cpu::symbol_costs(stacks.iter().copied());
            let top_frames = cpu::top_by_self(&costs, 3)
                .into_iter()
                .map(|c| (c.symbol.clone(), c.self_pct))
                .collect();
            let on_cpu_pct = 100.0 * r.cpu_s / life;
            let blocked_pct = offcpu.then(|| 100.0 * r.offcpu_s / life);
            let busy_pct = match blocked_pct {
                Some(b) if on_cpu_pct >= MIN_ON_CPU_PCT => (100.0 - b).max(on_cpu_pct),
                _ => on_cpu_pct,
            };
            ThreadBusy {
                pid,
                thread: r.thread,
                on_cpu_pct,
                blocked_pct,
                busy_pct,
                samples: r.cpu_samples,
                syscalls,
                top_frames,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.busy_pct
            .total_cmp(&a.busy_pct)
            .then(a.thread.cmp(&b.thread))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned::{stats, Canned};
    use crate::model::FdKind;

    #[test]
    fn a_thread_in_quick_polls_all_run_polls_and_a_blocking_one_does_not() {
        // 10 s at 99 Hz: 990 samples = a whole CPU.
        let s = Canned::new(10.0)
            .node(1)
            .samples(
                1,
                "sched-poll",
                &[
                    "IOManager::idle()",
                    "epoll_wait",
                    "__x64_sys_epoll_wait_[k]",
                ],
                800,
            )
            .samples(1, "sched-poll", &["IOManager::idle()"], 100)
            .samples(1, "io", &["Loop::run()", "read", "__x64_sys_read_[k]"], 50)
            .offcpu(1, "sched-poll", &["x"], None, "epoll_wait", 10_000_000)
            .syscall(1, "epoll_wait", FdKind::None, stats(4_000_000, 900, 0))
            .syscall(1, "read", FdKind::Socket, stats(500, 2_000_000, 10))
            .build();
        let t = threads(&s, 1, 10.0);
        assert_eq!(t[0].thread, "sched-poll");
        // 900 samples / 99 Hz = 9.09 s on CPU, blocked 0.01 s of 10 s: runnable the rest.
        assert!((t[0].busy_pct - 99.9).abs() < 0.01, "{}", t[0].busy_pct);
        assert_eq!(
            t[1].busy_pct, t[1].on_cpu_pct,
            "on CPU 5%: not there all along"
        );
        assert_eq!(t[0].syscalls[0].name, "epoll_wait");
        assert_eq!(t[0].syscalls[0].per_s, 400_000.0);
        assert!(t[0].polls());
        assert_eq!(t[0].top_frames[0].0, "__x64_sys_epoll_wait_[k]");
        assert_eq!(t[1].thread, "io");
        assert!(!t[1].polls(), "its reads block for 2 ms");
    }
}
