//! The end of a session: stop recording, read what the kernel aggregated
//! ([`Session::collect`]), then assemble the run's [`Snapshot`] with its notes
//! ([`Collected::assemble`]). The programs detach on a thread of their own meanwhile.

use anyhow::Result;
use std::collections::BTreeMap;
use std::thread::JoinHandle;

use super::processes::live;
use super::{overhead, windows, RunOptions, Session, StopReason};
use crate::kernel::collect::KernelData;
use crate::model::assemble;
use crate::model::{
    CpuProfile, MemorySeries, NodeRoles, OffCpuRecord, ProcessExit, ProcessInfo, SelfCost,
    Snapshot, ThreadCreation,
};
use crate::profile::probe_plan::{Detached, ProbePlan};
use crate::target::disk_watch::DiskWatch;

/// A stopped session: the last read of the kernel's counters and everything the watchers
/// gathered, which is all the snapshot is assembled from.
pub(super) struct Collected {
    stop: StopReason,
    /// Cumulative counters at the stop.
    kernel: KernelData,
    plan: ProbePlan,
    detached: Vec<Detached>,
    processes: BTreeMap<u32, ProcessInfo>,
    /// Whether the target was a command (`-- CMD`), and its exit status.
    command: bool,
    command_status: Option<i32>,
    /// The command was still running when tracing stopped and was stopped (by this signal).
    command_stopped_by: Option<&'static str>,
    /// The run's profile and off-CPU records, summed over the windows.
    profile: Option<CpuProfile>,
    offcpu: Vec<OffCpuRecord>,
    /// Samples and blocked intervals taken, recorded and lost, summed over the windows.
    accounting: crate::model::Accounting,
    /// Samples whose stacks the running profile folded to stay bounded.
    folded: u64,
    threads_created: Vec<ThreadCreation>,
    exits: Vec<ProcessExit>,
    memory: Vec<MemorySeries>,
    roles: Vec<NodeRoles>,
    disk: DiskWatch,
    cost: SelfCost,
    started_at: String,
    duration_s: f64,
    windows_written: u32,
    /// What discovery found and judged (no target named).
    discovery_notes: Vec<String>,
    /// The programs detaching (removing uprobes waits for the kernel, tens of ms each).
    detach: JoinHandle<()>,
}

/// The assembled session, ready to write.
pub(super) struct Assembled {
    pub(super) snapshot: Snapshot,
    pub(super) stop: StopReason,
    pub(super) command_status: Option<i32>,
    pub(super) detach: JoinHandle<()>,
}

impl Session<'_> {
    /// Stops recording, closes the last window, reads the counters, and starts detaching so
    /// the targets run untraced again at once.
    pub(super) fn collect(mut self) -> Result<Collected> {
        self.status.clear();
        let duration_s = self.start.elapsed().as_secs_f64();
        let live = live(&self.processes);
        self.disk.tick(live.iter().copied());
        self.memory.tick(self.start, live.iter().copied(), true);
        self.roles
            .tick(&self.attached, &self.plan, self.start, &live, true)?;
        self.bpf_cost.finish(&self.attached);
        // Stop recording before reading, so the counters read agree with each other.
        self.attached.clear_targets()?;
        // How full the kernel maps got, before the last read drains what it drains.
        let map_fill = crate::kernel::maps::fill(&self.attached)?;
        let kernel = self.windows.close(
            &mut self.attached,
            &self.plan,
            &self.budget.detached,
            &self.processes,
            &mut self.symbolizer,
            &self.bpf_cost,
        )?;
        let mut cost = overhead::measure(&self.bpf_cost);
        cost.kernel_maps = map_fill
            .into_iter()
            .map(|(map, entries, capacity)| crate::model::MapFill {
                map,
                entries,
                capacity,
            })
            .collect();
        let exits = assemble::build_exits(
            &kernel.exits,
            monotonic_ns(),
            self.start.elapsed().as_secs_f64(),
            &mut self.symbolizer,
        );
        // Children gone before /proc could name them keep the name they had when they exited.
        for (pid, comm) in assemble::exit_names(&kernel.exits) {
            if let Some(p) = self.processes.get_mut(&pid).filter(|p| p.comm == "?") {
                p.comm = comm;
            }
        }
        // `-- CMD` still running (the duration ended, or Ctrl-C): stopped as timeout(1) does,
        // after the counters were read, so its shutdown is not part of the run.
        let command_stopped_by = self
            .held
            .as_mut()
            .and_then(|h| h.stop(crate::target::STOP_GRACE));
        let attached = self.attached;
        let detach = std::thread::spawn(move || drop(attached));
        let (profile, offcpu) = self.windows.totals(self.opts.kernel.sample_freq.is_some());
        let accounting = self.windows.accounting();
        Ok(Collected {
            stop: self.stop.unwrap_or(StopReason::Duration),
            kernel,
            plan: self.plan,
            detached: self.budget.detached,
            processes: self.processes,
            command: self.held.is_some(),
            command_status: self.held.as_ref().and_then(|h| h.exit_status),
            command_stopped_by,
            profile,
            offcpu,
            accounting,
            folded: self.windows.profile.folded_samples(),
            threads_created: self.windows.threads_created(),
            exits,
            memory: self.memory.finish(),
            roles: self.roles.finish(),
            disk: self.disk,
            cost,
            started_at: self.started_at,
            duration_s,
            windows_written: self.windows.written(),
            discovery_notes: self.discovery.map(|d| d.notes).unwrap_or_default(),
            detach,
        })
    }
}

impl Collected {
    /// The run's snapshot: kernel data named and symbolised (`model/assemble`), roles, disk,
    /// tracer's own cost, and the notes that say how the run went.
    pub(super) fn assemble(self, opts: &RunOptions) -> Assembled {
        let notes = self.notes(opts);
        let block_latency = self.kernel.block_latency.clone();
        let mut snapshot = assemble::build_snapshot(
            self.kernel,
            &self.plan,
            &self.detached,
            self.processes.into_values().collect(),
            notes,
            self.started_at,
            self.duration_s,
            opts.output.invocation.clone(),
        );
        snapshot.host = opts.output.host.clone();
        snapshot.collected = Some(opts.kernel.collection());
        snapshot.profile = self.profile;
        snapshot.offcpu = self.offcpu;
        snapshot.accounting = Some(self.accounting);
        snapshot.threads_created = Some(self.threads_created);
        snapshot.exits = Some(self.exits);
        snapshot.memory = Some(self.memory);
        snapshot.roles = self.roles;
        if self.plan.role_funcs.is_empty() {
            infer_roles(&mut snapshot, &self.plan);
        }
        snapshot.disk = Some(
            self.disk
                .finish(self.duration_s, &snapshot.files, &block_latency),
        );
        let cost_line = overhead::describe(&self.cost, self.duration_s);
        snapshot.notes.push(cost_line);
        snapshot.self_cost = Some(self.cost);
        if self.windows_written > 1 {
            snapshot.notes.push(format!(
                "{} windows of {:.0} s in {}/ (the last {} kept)",
                self.windows_written,
                opts.session.interval.as_secs_f64(),
                windows::WINDOWS_DIR,
                opts.output.keep_windows
            ));
        }
        Assembled {
            snapshot,
            stop: self.stop,
            command_status: self.command_status,
            detach: self.detach,
        }
    }

    /// How the run went, for the report: exits, why it stopped, what sampling cannot see,
    /// the command's status, stacks folded to bound memory. (The plan's warnings follow them,
    /// added by `build_snapshot`.)
    fn notes(&self, opts: &RunOptions) -> Vec<String> {
        let mut notes = self.discovery_notes.clone();
        for p in self.processes.values() {
            if let Some(t) = p.exited_at_s {
                if self.stop != StopReason::AllExited || !self.command {
                    notes.push(format!(
                        "{} (pid {}) exited {:.1} s into the run; its data up to then is included",
                        p.comm, p.pid, t
                    ));
                }
            }
        }
        match self.stop {
            StopReason::Signal => notes.push("stopped by a signal (Ctrl-C / SIGTERM)".into()),
            StopReason::AllExited if !self.command => {
                notes.push("every traced process exited before the end of the run".into())
            }
            _ => {}
        }
        if self.plan.uprobes && opts.kernel.sample_freq.is_some() {
            notes.push(
                "CPU samples cannot be taken while tracer's own BPF programs run: time spent in \
                 uprobe handling (~10 us per probed call here) is missing from the on-CPU \
                 profile, so probed code weighs a little less than perf would show; \
                 --no-uprobes removes the effect"
                    .into(),
            );
        }
        match (self.command_stopped_by, self.command_status) {
            (Some(signal), status) => notes.push(format!(
                "the traced command was still running when tracing stopped: it was stopped as \
                 timeout(1) does, {signal} to its process group{}",
                status.map_or(String::new(), |s| format!(" (exit status {s})"))
            )),
            (None, Some(status)) => {
                notes.push(format!("the traced command exited with status {status}"))
            }
            (None, None) => {}
        }
        if let Some(p) = self.profile.as_ref().filter(|_| self.folded > 0) {
            notes.push(format!(
                "{} of {} CPU samples lost stack detail to keep memory bounded over the run: \
                 past {} distinct stacks the rarest had their kernel frames (or whole stack) \
                 folded into one frame; their counts per process, thread and layer are exact, \
                 and every window file keeps its stacks in full",
                self.folded,
                p.samples,
                windows::MAX_ACCUMULATED_STACKS
            ));
        }
        notes
    }
}

/// No role function was probed: the leader is told from the stacks, or the report says why not.
fn infer_roles(snapshot: &mut Snapshot, plan: &ProbePlan) {
    use crate::analyse::role_inference;
    let why = if plan.profile.is_none() {
        "uprobes are off"
    } else {
        "no role function ([roles] leader_if_calls) was found in the targets"
    };
    match role_inference::infer_from_layers(snapshot, &plan.role_patterns) {
        Ok(roles) => {
            snapshot.notes.push(format!(
                "roles were inferred from stacks ({why}): the leader is the node whose stacks \
                 hold the leader-only functions; see each node's role"
            ));
            snapshot.roles = roles;
        }
        Err(e) => snapshot
            .notes
            .push(format!("roles unknown: {why}, and {e}")),
    }
}

/// CLOCK_MONOTONIC now, in ns: the clock of the kernel side's `bpf_ktime_get_ns`.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
