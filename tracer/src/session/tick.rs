//! One poll of a running session ([`Session::tick`]): a list of named steps, each a few lines
//! over one watcher. A step that has nothing due returns at once; the poll runs every 50 ms.

use anyhow::Result;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::processes::{discover, live, refresh_name};
use super::{overhead, status_line, Session, StopReason};
use crate::kernel::maps;
use crate::messages;
use crate::target::TargetSpec;

/// How often `--comm` looks for new processes of that name.
const COMM_RESCAN: Duration = Duration::from_millis(500);
/// How long after discovery a process's maps are re-read every poll.
const YOUNG: Duration = Duration::from_secs(2);
/// How often cached memory maps of live processes are refreshed for symbolisation.
const MAP_REFRESH: Duration = Duration::from_secs(2);

impl Session<'_> {
    /// One poll. Returns whether to go on; once it returns false, [`Session::collect`].
    pub(super) fn tick(&mut self) -> Result<bool> {
        self.bpf_cost.tick(&self.attached);
        self.check_probe_budget()?;
        self.follow_new_processes()?;
        self.follow_discovery()?;
        self.keep_young_maps_fresh();
        self.probe_late_objects()?;
        let periodic = self.last_map_refresh.elapsed() >= MAP_REFRESH;
        self.refresh_names(periodic);
        if periodic {
            self.refresh_maps_and_io();
        }
        self.track_roles()?;
        self.sample_memory();
        self.close_due_window()?;
        self.reap_exits()?;
        self.draw_status_line();
        self.stop = self.stop_reason()?;
        Ok(self.stop.is_none())
    }

    /// Resident memory of the live processes, once a second (`memory_watch.rs`).
    fn sample_memory(&mut self) {
        let live = live(&self.processes);
        self.memory.tick(self.start, live.into_iter(), false);
    }

    /// `--probe-budget`: unprobes functions called too often (see `budget.rs`).
    fn check_probe_budget(&mut self) -> Result<()> {
        match self.plan.budget {
            Some(limit) if self.plan.uprobes => {
                self.budget
                    .check(&mut self.attached, &self.plan, limit, self.start)
            }
            _ => Ok(()),
        }
    }

    /// Starts following processes that joined: children the kernel added to `TARGETS` on
    /// fork, and with `--comm NAME` processes of that name that started later (a restarted
    /// node). `TARGETS` is re-read only when something was added (one syscall per entry).
    fn follow_new_processes(&mut self) -> Result<()> {
        let adds = maps::target_adds(&self.attached)?;
        let mut rediscover = self.known_adds != Some(adds);
        self.known_adds = Some(adds);
        rediscover |= self.rescan_comm()?;
        if !rediscover {
            return Ok(());
        }
        for pid in discover(&mut self.attached, &mut self.processes, &self.symbolizer)? {
            self.exits.watch(pid);
            self.disk.on_process(pid);
            self.young.insert(pid, Instant::now());
            // Like strace -f's "Process N attached": a process that joined after the start
            // (a child, or a restarted node found by --comm).
            let is_held = self.held.as_ref().is_some_and(|h| h.pid == pid);
            if !self.initial.contains(&pid) && !is_held {
                messages::say(&format!(
                    "now tracing pid {pid} ({})",
                    self.processes
                        .get(&pid)
                        .map(|p| p.comm.as_str())
                        .unwrap_or("?")
                ));
            }
        }
        Ok(())
    }

    /// `--comm NAME`, every [`COMM_RESCAN`]: adds processes of that name not traced yet.
    /// Returns whether it added any.
    fn rescan_comm(&mut self) -> Result<bool> {
        let TargetSpec::Comm(name) = &self.opts.target.spec else {
            return Ok(false);
        };
        if self.last_comm_scan.elapsed() < COMM_RESCAN {
            return Ok(false);
        }
        let mut added = false;
        for pid in self.comm_scan.scan(name) {
            if !self.processes.contains_key(&pid) {
                self.attached
                    .add_target(pid, pid, self.opts.target.follows_children())?;
                added = true;
            }
        }
        self.last_comm_scan = Instant::now();
        Ok(added)
    }

    /// A process just seen may still be exec'ing or loading its libraries: its maps are
    /// re-read every poll during its first seconds, so that its stacks resolve even if it
    /// exits before the end of the run.
    fn keep_young_maps_fresh(&mut self) {
        let symbolizer = &self.symbolizer;
        self.young.retain(|pid, seen| {
            symbolizer.remember_process(*pid);
            seen.elapsed() < YOUNG
        });
    }

    /// Libraries `dlopen`ed (or a program `exec`ed) since the start: the profile is resolved in
    /// them and their functions probed (see `late_objects.rs`).
    fn probe_late_objects(&mut self) -> Result<()> {
        let young: Vec<u32> = self.young.keys().copied().collect();
        let live = live(&self.processes);
        self.late
            .check(&mut self.attached, &mut self.plan, &young, &live)
    }

    /// A held child execs after we first saw it: names that still show the fork are
    /// refreshed while a process is young, and every process's now and then (a later exec).
    fn refresh_names(&mut self, every_process: bool) {
        for p in self.processes.values_mut().filter(|p| {
            p.exited_at_s.is_none() && (every_process || self.young.contains_key(&p.pid))
        }) {
            refresh_name(p, &self.symbolizer);
        }
    }

    /// Processes may map libraries late (dlopen): the cached maps are refreshed now and then,
    /// with the processes' I/O counters.
    fn refresh_maps_and_io(&mut self) {
        let live = live(&self.processes);
        for &pid in &live {
            self.symbolizer.remember_process(pid);
        }
        self.disk.tick(live.into_iter());
        self.last_map_refresh = Instant::now();
    }

    /// Node roles: which node acted as leader in each half second (see `role_watch.rs`).
    fn track_roles(&mut self) -> Result<()> {
        let live = live(&self.processes);
        self.roles
            .tick(&self.attached, &self.plan, self.start, &live, false)
    }

    /// Continuous mode: writes a window when `--interval` has passed since the last, and
    /// gives the metrics endpoint the run so far.
    fn close_due_window(&mut self) -> Result<()> {
        if self.windows.last.elapsed() < self.opts.session.interval {
            return Ok(());
        }
        let cur = self.windows.close(
            &mut self.attached,
            &self.plan,
            &self.budget.detached,
            &self.processes,
            &mut self.symbolizer,
            &self.bpf_cost,
        )?;
        if let Some(why) = self.windows.take_write_error() {
            self.plan
                .warnings
                .warn(format!("a window snapshot was not written: {why}"));
        }
        if let Some(metrics) = &self.metrics {
            let mut so_far = self.windows.cumulative(
                cur,
                &self.plan,
                &self.budget.detached,
                &self.processes,
                self.start,
            );
            // `tracer_node_role`: every node's roles up to the last role window.
            so_far.roles = self.roles.so_far();
            let cost = overhead::measure(&self.bpf_cost);
            metrics.publish(crate::output::metrics::render(&so_far, Some(&cost)));
        }
        Ok(())
    }

    /// Marks processes that exited (our own child is reaped here, for its exit status), stops
    /// tracing their pids, which may be reused by unrelated processes, and moves their kernel
    /// state to user space so the kernel maps stay bounded however many processes come and go.
    fn reap_exits(&mut self) -> Result<()> {
        let elapsed = self.start.elapsed().as_secs_f64();
        let exited = self.exits.exited();
        let mut gone_now = std::collections::HashSet::new();
        for p in self
            .processes
            .values_mut()
            .filter(|p| p.exited_at_s.is_none())
        {
            let gone = match self.held.as_mut().filter(|h| h.pid == p.pid) {
                Some(h) => h.try_reap(),
                None => exited.contains(&p.pid),
            };
            if gone {
                p.exited_at_s = Some(elapsed);
                self.attached.remove_target(p.pid)?;
                gone_now.insert(p.pid);
                messages::say(&format!(
                    "pid {} ({}) exited after {elapsed:.1} s",
                    p.pid, p.comm
                ));
            }
        }
        self.windows.retire(&mut self.attached, &gone_now)
    }

    fn draw_status_line(&mut self) {
        let live = live(&self.processes);
        self.status.tick(
            &self.attached,
            &status_line::Status {
                nodes: live.len(),
                leader: self.roles.current_leader(&live),
                windows: self.windows.written() as usize,
            },
        );
    }

    /// Why to stop now, if so: a signal, every traced process gone (unless `--comm` waits
    /// for a node to come back), or the duration over.
    fn stop_reason(&self) -> Result<Option<StopReason>> {
        if self.stop_flag.load(Ordering::Relaxed) {
            return Ok(Some(StopReason::Signal));
        }
        let waits_for_new = matches!(
            self.opts.target.spec,
            TargetSpec::Comm(_) | TargetSpec::Discover(_)
        );
        if !waits_for_new
            && !self.processes.is_empty()
            && self.processes.values().all(|p| p.exited_at_s.is_some())
            // A forked child may be in TARGETS but not yet seen; look once more.
            && maps::targets(&self.attached)?.is_empty()
        {
            return Ok(Some(StopReason::AllExited));
        }
        match self.opts.session.duration {
            Some(d) if self.start.elapsed() >= d => Ok(Some(StopReason::Duration)),
            _ => Ok(None),
        }
    }
}
