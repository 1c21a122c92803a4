//! The run loop of `tracer run`: the pipeline in motion.
//!
//! In: [`RunOptions`] (the target, the [`ProbePlan`] built by `profile/`, what to collect).
//! Out: the session folder on disk and a [`RunOutcome`] holding the final [`Snapshot`].
//!
//! Reads as the pipeline: preflight (`target/`) → attach (`kernel/`) → poll until the
//! duration ends, the user interrupts, or every traced process has exited (following new
//! processes, the probe budget, closing windows, roles, disk, exits, the status line) →
//! collect and assemble (`kernel/`, `model/`) → write (`output/`). The watchers it polls live
//! beside it, one file each (the disk view is `target/disk_watch.rs`). It never parses flags
//! (`cli/`) and never formats an output file (`output/`).

pub mod budget;
pub mod exits;
pub mod metrics_server;
pub mod overhead;
pub mod role_watch;
pub mod status_line;
pub mod windows;

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kernel::attach::{self, Attached};
use crate::kernel::maps;
use crate::model::assemble;
use crate::model::{ProcessInfo, Snapshot};
use crate::output::session_folder;
use crate::profile::probe_plan::ProbePlan;
use crate::symbols::symbolize::StackSymbolizer;
use crate::target::disk_watch::DiskWatch;
use crate::target::{self, preflight, procfs, HeldChild, TargetSpec};
use budget::BudgetWatch;
use role_watch::RoleWatch;
use status_line::StatusLine;
use windows::WindowCloser;

/// Everything `tracer run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub target: TargetSpec,
    /// None: until Ctrl-C / SIGTERM (or until the traced command exits).
    pub duration: Option<Duration>,
    /// The session folder to write.
    pub out_dir: PathBuf,
    /// Trace processes forked by the targets too (always on for `-- CMD`).
    pub follow_children: bool,
    /// On-CPU stack sampling frequency per CPU (perf's `-F`); None: no sampling.
    pub sample_freq: Option<u64>,
    /// Layers and the functions to probe.
    pub plan: ProbePlan,
    /// Syscall accounting (the strace -c tables).
    pub syscalls: bool,
    /// Off-CPU (blocked time) accounting.
    pub offcpu: bool,
    /// Length of a window: every interval a window snapshot is written (continuous mode).
    pub interval: Duration,
    /// Window snapshots kept on disk (older ones are removed).
    pub keep_windows: usize,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464), updated every window.
    pub metrics: Option<String>,
    /// How `tracer` was invoked, recorded in the report.
    pub invocation: Vec<String>,
}

/// Why tracing stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Duration,
    Signal,
    AllExited,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub snapshot: Snapshot,
    pub out_dir: PathBuf,
    pub stop: StopReason,
    /// Exit status of the traced command (`-- CMD` mode).
    pub command_status: Option<i32>,
}

/// How often the watcher looks for new and exited processes.
const POLL: Duration = Duration::from_millis(50);
/// How often `--comm` looks for new processes of that name.
const COMM_RESCAN: Duration = Duration::from_millis(500);
/// How long after discovery a process's maps are re-read every poll.
const YOUNG: Duration = Duration::from_secs(2);
/// How often cached memory maps of live processes are refreshed for symbolisation.
const MAP_REFRESH: Duration = Duration::from_secs(2);

/// Runs a whole tracing session and writes its folder.
pub fn run(opts: &RunOptions) -> Result<RunOutcome> {
    // Checks that can fail without tracing anything come first, so a doomed run costs nothing.
    preflight::require_root()?;
    let existing = target::resolve_existing(&opts.target)?;
    preflight::prepare_output_dir(&opts.out_dir)?;
    preflight::ensure_tracefs()?;

    let stop_flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop_flag))
            .context("installing the signal handler")?;
    }

    let mut plan = opts.plan.clone();
    let mut skip: Vec<&str> = Vec::new();
    if !opts.syscalls {
        skip.extend(attach::SYSCALL_PROGRAMS);
    }
    if !opts.offcpu {
        skip.extend(attach::OFFCPU_PROGRAMS);
    }
    // Before anything is attached: a metrics address that is taken fails the run at once.
    let metrics_body = Arc::new(std::sync::Mutex::new(String::new()));
    let _metrics_server = match &opts.metrics {
        Some(addr) => {
            let server = metrics_server::MetricsServer::start(addr, metrics_body.clone())?;
            eprintln!("tracer: metrics on http://{}/metrics", server.local_addr());
            Some(server)
        }
        None => None,
    };
    let mut attached = Attached::load(plan.uprobes, &skip)?;
    if plan.uprobes {
        for (id, p) in plan.probes.iter().enumerate() {
            // One function that cannot be probed must not cost the whole run.
            if let Err(err) = attached.probe_function(
                &p.binary,
                p.file_offset,
                id as u32,
                p.layer_id,
                p.entry_only,
            ) {
                let why = if format!("{err:#}").contains("os error 524") {
                    "the kernel cannot place a uprobe on its first instruction (e.g. a \
                     LOCK-prefixed atomic); it is attributed by stack only"
                        .to_string()
                } else {
                    format!("{err:#}")
                };
                let msg = format!("cannot probe {}: {why}", p.demangled);
                eprintln!("tracer: warning: {msg}");
                plan.warnings.push(msg);
            }
        }
    }
    let symbolizer = StackSymbolizer::new();
    let mut held = None;
    let follow = opts.follow_children || matches!(opts.target, TargetSpec::Command(_));
    match &opts.target {
        TargetSpec::Command(argv) => {
            let child = HeldChild::spawn(argv)?;
            attached.add_target(child.pid, child.pid, true)?;
            held = Some(child);
        }
        _ => {
            for &pid in &existing {
                attached.add_target(pid, pid, follow)?;
            }
        }
    }

    if let Some(freq) = opts.sample_freq {
        attached.start_sampling(freq)?;
    }

    let started_at = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let start = Instant::now();
    let mut processes: BTreeMap<u32, ProcessInfo> = BTreeMap::new();
    let mut notes = Vec::new();
    if let Some(child) = held.as_mut() {
        child.release()?;
    }
    // Tests and scripts wait for this line: from here on nothing the targets do is missed.
    eprintln!(
        "tracer: tracing {} (Ctrl-C to stop), output in {}",
        match &opts.target {
            TargetSpec::Command(argv) => format!("`{}`", argv.join(" ")),
            _ => format!(
                "pid {}",
                existing
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        opts.out_dir.display()
    );

    let mut symbolizer = symbolizer;
    if opts.sample_freq.is_some() {
        symbolizer.warm_kernel();
    }
    let mut last_map_refresh = Instant::now();
    let mut young: std::collections::HashMap<u32, Instant> = Default::default();
    let mut last_comm_scan = Instant::now();
    let mut budget = BudgetWatch::new();
    let mut disk = DiskWatch::start();
    let mut roles = RoleWatch::new();
    let mut closer = WindowCloser::new(opts);
    let mut status = StatusLine::new();
    let mut bpf_cost = overhead::BpfCostMeter::new();
    let mut exits = exits::ExitWatch::new();
    let mut comm_scan = procfs::CommScan::default();
    // `TARGETS` is re-read when the kernel added children (`target_adds` changed) or user
    // space added targets: not every poll (one syscall per entry).
    let mut known_adds = None;
    let initial: Vec<u32> = existing.clone();
    let stop = loop {
        bpf_cost.tick(&attached);
        let adds = maps::target_adds(&attached)?;
        let mut rediscover = known_adds != Some(adds);
        known_adds = Some(adds);
        // `--comm NAME` also means processes of that name that start later (a restarted node).
        if let TargetSpec::Comm(name) = &opts.target {
            if last_comm_scan.elapsed() >= COMM_RESCAN {
                for pid in comm_scan.scan(name) {
                    if !processes.contains_key(&pid) {
                        attached.add_target(pid, pid, follow)?;
                        rediscover = true;
                    }
                }
                last_comm_scan = Instant::now();
            }
        }
        if plan.uprobes {
            if let Some(limit) = plan.budget {
                budget.check(&mut attached, &plan, limit, start, &mut status)?;
            }
        }
        let new = if rediscover {
            discover(&mut attached, &mut processes, &symbolizer)?
        } else {
            Vec::new()
        };
        for pid in new {
            exits.watch(pid);
            disk.on_process(pid);
            young.insert(pid, Instant::now());
            // Like strace -f's "Process N attached": a process that joined after the start
            // (a child, or a restarted node found by --comm).
            let is_held = held.as_ref().is_some_and(|h| h.pid == pid);
            if !initial.contains(&pid) && !is_held {
                status.println(&format!(
                    "tracer: now tracing pid {pid} ({})",
                    processes.get(&pid).map(|p| p.comm.as_str()).unwrap_or("?")
                ));
            }
        }
        // A process just seen may still be exec'ing or loading its libraries: re-read its
        // maps every poll during its first seconds, so that its stacks resolve even if it
        // exits before the end of the run.
        young.retain(|pid, seen| {
            symbolizer.remember_process(*pid);
            seen.elapsed() < YOUNG
        });
        // A held child execs after we first saw it: names that still show the fork are
        // refreshed while a process is young, and every process's now and then (a later exec).
        let all = last_map_refresh.elapsed() >= MAP_REFRESH;
        for p in processes
            .values_mut()
            .filter(|p| p.exited_at_s.is_none() && (all || young.contains_key(&p.pid)))
        {
            refresh_name(p, &symbolizer);
        }
        // Processes may map libraries late (dlopen): refresh the cached maps now and then.
        if all {
            for p in processes.values().filter(|p| p.exited_at_s.is_none()) {
                symbolizer.remember_process(p.pid);
            }
            disk.tick(live(&processes).into_iter());
            last_map_refresh = Instant::now();
        }
        roles.tick(&attached, &plan, start, &live(&processes), false)?;
        if closer.last.elapsed() >= opts.interval {
            let cur = closer.close(
                &mut attached,
                &plan,
                &budget.detached,
                &processes,
                &mut symbolizer,
                &bpf_cost,
            )?;
            if opts.metrics.is_some() {
                let so_far = closer.cumulative(cur, &plan, &budget.detached, &processes, start);
                let body =
                    crate::output::metrics::render(&so_far, Some(&overhead::measure(&bpf_cost)));
                *metrics_body.lock().unwrap_or_else(|e| e.into_inner()) = body;
            }
        }
        let elapsed = start.elapsed();
        let exited = exits.exited();
        for p in processes.values_mut().filter(|p| p.exited_at_s.is_none()) {
            let gone = match held.as_mut().filter(|h| h.pid == p.pid) {
                // Our own child: reaped here, for its exit status.
                Some(h) => h.try_reap(),
                None => exited.contains(&p.pid),
            };
            if gone {
                p.exited_at_s = Some(elapsed.as_secs_f64());
                attached.remove_target(p.pid)?;
                status.println(&format!(
                    "tracer: pid {} ({}) exited after {:.1} s",
                    p.pid,
                    p.comm,
                    elapsed.as_secs_f64()
                ));
            }
        }
        let live_now = live(&processes);
        status.tick(
            &attached,
            &status_line::Status {
                nodes: live_now.len(),
                leader: roles.current_leader(&live_now),
                windows: closer.written() as usize,
            },
        );
        if stop_flag.load(Ordering::Relaxed) {
            break StopReason::Signal;
        }
        // With --comm, a node that exits may come back (restart): keep watching.
        let waits_for_new = matches!(opts.target, TargetSpec::Comm(_));
        if !waits_for_new
            && !processes.is_empty()
            && processes.values().all(|p| p.exited_at_s.is_some())
        {
            // A forked child may be in TARGETS but not yet seen; look once more.
            if maps::targets(&attached)?.is_empty() {
                break StopReason::AllExited;
            }
        }
        if let Some(d) = opts.duration {
            if elapsed >= d {
                break StopReason::Duration;
            }
        }
        std::thread::sleep(POLL);
    };
    status.clear();
    let duration_s = start.elapsed().as_secs_f64();
    let stopped = Instant::now();
    disk.tick(live(&processes).into_iter());
    roles.tick(&attached, &plan, start, &live(&processes), true)?;
    bpf_cost.finish(&attached);
    // Stop recording before reading, so the counters read agree with each other.
    attached.clear_targets()?;
    let kernel = closer.close(
        &mut attached,
        &plan,
        &budget.detached,
        &processes,
        &mut symbolizer,
        &bpf_cost,
    )?;
    let collected = Instant::now();
    let cost = overhead::measure(&bpf_cost);
    // Detach at once so the targets run untraced again, on a thread of its own: removing
    // uprobes waits for the kernel (tens of ms each) and the session need not wait for it.
    let detach = std::thread::spawn(move || drop(attached));

    for p in processes.values() {
        if let Some(t) = p.exited_at_s {
            if stop != StopReason::AllExited || held.is_none() {
                notes.push(format!(
                    "{} (pid {}) exited {:.1} s into the run; its data up to then is included",
                    p.comm, p.pid, t
                ));
            }
        }
    }
    match stop {
        StopReason::Signal => notes.push("stopped by a signal (Ctrl-C / SIGTERM)".into()),
        StopReason::AllExited if held.is_none() => {
            notes.push("every traced process exited before the end of the run".into())
        }
        _ => {}
    }
    if plan.uprobes && opts.sample_freq.is_some() {
        notes.push(
            "CPU samples cannot be taken while tracer's own BPF programs run: time spent in \
             uprobe handling (~10 us per probed call here) is missing from the on-CPU profile, \
             so probed code weighs a little less than perf would show; --no-uprobes removes \
             the effect"
                .into(),
        );
    }
    let command_status = held.as_ref().and_then(|h| h.exit_status);
    if let Some(status) = command_status {
        notes.push(format!("the traced command exited with status {status}"));
    }

    // The whole run: cumulative counters from the last read, samples and off-CPU summed
    // over the windows.
    let block_latency = kernel.block_latency.clone();
    let (profile, offcpu) = closer.totals(opts.sample_freq.is_some());
    let folded = closer.profile.folded_samples();
    if let Some(p) = profile.as_ref().filter(|_| folded > 0) {
        notes.push(format!(
            "{folded} of {} CPU samples lost stack detail to keep memory bounded over the run: \
             past {} distinct stacks the rarest had their kernel frames (or whole stack) folded \
             into one frame; their counts per process, thread and layer are exact, and every \
             window file keeps its stacks in full",
            p.samples,
            windows::MAX_ACCUMULATED_STACKS
        ));
    }
    let mut snapshot: Snapshot = assemble::build_snapshot(
        kernel,
        &plan,
        &budget.detached,
        processes.into_values().collect(),
        notes,
        started_at,
        duration_s,
        opts.invocation.clone(),
    );
    snapshot.profile = profile;
    snapshot.offcpu = offcpu;
    snapshot.roles = roles.finish();
    snapshot.disk = Some(disk.finish(duration_s, &snapshot.files, &block_latency));
    let cost_line = overhead::describe(&cost, duration_s);
    eprintln!("tracer: {cost_line}");
    snapshot.notes.push(cost_line);
    snapshot.self_cost = Some(cost);
    if closer.written() > 1 {
        snapshot.notes.push(format!(
            "{} windows of {:.0} s in {}/ (the last {} kept)",
            closer.written(),
            opts.interval.as_secs_f64(),
            windows::WINDOWS_DIR,
            opts.keep_windows
        ));
    }
    let assembled = Instant::now();
    session_folder::save_snapshot(&snapshot, &opts.out_dir)?;
    session_folder::render(&snapshot, &opts.out_dir)?;
    let rendered = Instant::now();
    let _ = detach.join();
    eprintln!(
        "tracer: session written in {:.2} s after stop (collect {:.2} s, symbolise {:.2} s, \
         render {:.2} s); programs detached after {:.2} s",
        (rendered - stopped).as_secs_f64(),
        (collected - stopped).as_secs_f64(),
        (assembled - collected).as_secs_f64(),
        (rendered - assembled).as_secs_f64(),
        stopped.elapsed().as_secs_f64()
    );
    Ok(RunOutcome {
        snapshot,
        out_dir: opts.out_dir.clone(),
        stop,
        command_status,
    })
}

/// Pids of the processes still alive.
fn live(processes: &BTreeMap<u32, ProcessInfo>) -> Vec<u32> {
    processes
        .values()
        .filter(|p| p.exited_at_s.is_none())
        .map(|p| p.pid)
        .collect()
}

/// Adds processes the kernel started tracing (forked children) to `processes`, naming them and
/// classifying the fds they inherited. Returns the pids seen for the first time.
fn discover(
    attached: &mut Attached,
    processes: &mut BTreeMap<u32, ProcessInfo>,
    symbolizer: &StackSymbolizer,
) -> Result<Vec<u32>> {
    let mut new = Vec::new();
    for (pid, info) in maps::targets(attached)? {
        if processes.contains_key(&pid) {
            continue;
        }
        new.push(pid);
        attached.seed_fds(pid)?;
        symbolizer.remember_process(pid);
        processes.insert(
            pid,
            ProcessInfo {
                pid,
                comm: procfs::comm(pid).unwrap_or_else(|| "?".into()),
                cmdline: procfs::cmdline(pid),
                root_pid: info.root_tgid,
                exited_at_s: None,
            },
        );
    }
    Ok(new)
}

/// Takes the name and command line a process has now (it exec'd since we named it).
fn refresh_name(p: &mut ProcessInfo, symbolizer: &StackSymbolizer) {
    if let Some(comm) = procfs::comm(p.pid) {
        if comm != p.comm {
            p.comm = comm;
            p.cmdline = procfs::cmdline(p.pid);
            // It exec'd: its memory maps are new.
            symbolizer.remember_process(p.pid);
        }
    }
}
