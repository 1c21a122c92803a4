//! The run loop of `tracer run`: the pipeline in motion.
//!
//! In: [`RunOptions`] (the target, the [`ProbePlan`] built by `profile/`, what to collect,
//! the session's rhythm, where to write). Out: the session folder on disk and a
//! [`RunOutcome`] holding the final [`Snapshot`].
//!
//! [`run`] reads as the pipeline: preflight (`target/`) → attach (`kernel/`) → a `Session`
//! polled until the duration ends, the user interrupts, or every traced process has exited →
//! collect and assemble (`kernel/`, `model/`) → write (`output/`). The setup steps are in
//! `setup.rs`, the steps of one poll in `tick.rs`, collecting and assembling in `finish.rs`;
//! the watchers a session owns live beside them, one file each (the disk view is
//! `target/disk_watch.rs`). It never parses flags (`cli/`) and never formats an output file
//! (`output/`).

pub mod budget;
mod discovery;
pub mod exits;
mod finish;
pub mod late_objects;
mod memory_watch;
pub mod metrics_server;
pub mod options;
pub mod overhead;
mod processes;
pub mod role_watch;
mod setup;
pub mod status_line;
mod tick;
pub mod windows;

pub use options::{KernelOptions, OutputOptions, RunOptions, SessionOptions, TargetOptions};

use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kernel::attach::Attached;
use crate::messages;
use crate::model::{ProcessInfo, Snapshot};
use crate::output::session_dir::SessionDir;
use crate::output::session_folder;
use crate::profile::probe_plan::ProbePlan;
use crate::symbols::symbolize::StackSymbolizer;
use crate::target::disk_watch::DiskWatch;
use crate::target::{procfs, HeldChild, TargetSpec};
use budget::BudgetWatch;
use exits::ExitWatch;
use overhead::BpfCostMeter;
use role_watch::RoleWatch;
use setup::MetricsEndpoint;
use status_line::StatusLine;
use windows::WindowCloser;

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
    /// The session folder written (its path may differ from `-o`'s default when that was
    /// taken).
    pub folder: SessionDir,
    pub stop: StopReason,
    /// Exit status of the traced command (`-- CMD` mode).
    pub command_status: Option<i32>,
}

/// How often the session polls (new and exited processes, the budget, windows...).
const POLL: Duration = Duration::from_millis(50);

/// Runs a whole tracing session and writes its folder.
pub fn run(opts: &RunOptions) -> Result<RunOutcome> {
    let (existing, folder) = setup::preflight(opts)?;
    let stop_flag = setup::stop_on_signals().context("failed to install the signal handlers")?;
    let metrics = setup::serve_metrics(opts.session.metrics.as_deref())
        .context("failed to start the metrics endpoint")?;
    let mut attached =
        setup::load_programs(&opts.kernel).context("failed to load the eBPF programs")?;
    let plan = setup::probe_functions(&mut attached, &opts.kernel.plan);
    let held = setup::start_targets(&mut attached, &opts.target, &existing)
        .context("failed to start tracing the targets")?;
    setup::start_sampling(&mut attached, opts.kernel.sample_freq)
        .context("failed to start CPU sampling")?;
    let targets = Targets { held, existing };
    let mut session = Session::begin(opts, attached, plan, targets, &folder, stop_flag, metrics)
        .context("failed to release the traced command")?;

    loop {
        match session.tick() {
            Ok(true) => std::thread::sleep(POLL),
            Ok(false) => break,
            Err(e) => {
                // Nothing was written yet (discovery found no node, say): leave no empty
                // folder behind. remove_dir removes only an empty directory.
                drop(session);
                let _ = std::fs::remove_dir(folder.path());
                return Err(e);
            }
        }
    }

    let stopped = Instant::now();
    let collected = session
        .collect()
        .context("failed to collect the kernel's data")?;
    let done_collecting = Instant::now();
    let finished = collected.assemble(opts);
    let assembled = Instant::now();
    write(&finished.snapshot, &folder).context("failed to write the session folder")?;
    let rendered = Instant::now();
    let _ = finished.detach.join();
    messages::say(&format!(
        "session written in {:.2} s after stop (collect {:.2} s, symbolise {:.2} s, \
         render {:.2} s); programs detached after {:.2} s",
        (rendered - stopped).as_secs_f64(),
        (done_collecting - stopped).as_secs_f64(),
        (assembled - done_collecting).as_secs_f64(),
        (rendered - assembled).as_secs_f64(),
        stopped.elapsed().as_secs_f64()
    ));
    Ok(RunOutcome {
        snapshot: finished.snapshot,
        folder,
        stop: finished.stop,
        command_status: finished.command_status,
    })
}

/// Saves `snapshot.json` and renders every file of the session folder from it.
fn write(snapshot: &Snapshot, folder: &SessionDir) -> Result<()> {
    session_folder::save_snapshot(snapshot, folder)?;
    session_folder::render(snapshot, folder)?;
    Ok(())
}

/// The traced processes as started: the command of `-- CMD`, held before `execve`, or the
/// pids of `--pid` / `--comm`.
struct Targets {
    held: Option<HeldChild>,
    existing: Vec<u32>,
}

/// A tracing session in progress: the attached programs, the processes traced so far, and
/// every watcher and timer the poll loop drives. [`Session::tick`] is one poll.
pub(crate) struct Session<'a> {
    opts: &'a RunOptions,
    attached: Attached,
    /// The plan as attached: its warnings include functions that could not be probed.
    plan: ProbePlan,
    /// The command of `-- CMD`, ours to reap.
    held: Option<HeldChild>,
    /// Pids traced from the start (`--pid` / `--comm`): not announced as new.
    initial: Vec<u32>,
    processes: BTreeMap<u32, ProcessInfo>,
    symbolizer: StackSymbolizer,
    /// When tracing started (the command was released), as an instant and for the report.
    start: Instant,
    started_at: String,
    stop_flag: Arc<AtomicBool>,
    /// Set by the tick that decided to stop.
    stop: Option<StopReason>,

    /// Processes seen in their first seconds, whose maps and names are re-read every poll.
    young: HashMap<u32, Instant>,
    last_map_refresh: Instant,
    /// `TARGETS` additions by the kernel at the last poll (None: never read).
    known_adds: Option<u64>,
    last_comm_scan: Instant,
    comm_scan: procfs::CommScan,

    budget: BudgetWatch,
    disk: DiskWatch,
    roles: RoleWatch,
    windows: WindowCloser,
    status: StatusLine,
    bpf_cost: BpfCostMeter,
    exits: ExitWatch,
    memory: memory_watch::MemoryWatch,
    /// Objects the targets map after the start (`dlopen`): resolved and probed when seen.
    late: late_objects::LateObjects,
    /// No target named: which discovered processes are nodes, and new ones.
    discovery: Option<discovery::DiscoveryWatch>,
    metrics: Option<MetricsEndpoint>,
}

impl<'a> Session<'a> {
    /// Starts the clock, lets a held command exec, says so (tests and scripts wait for that
    /// line: from then on nothing the targets do is missed), and sets up the watchers.
    fn begin(
        opts: &'a RunOptions,
        attached: Attached,
        plan: ProbePlan,
        targets: Targets,
        folder: &SessionDir,
        stop_flag: Arc<AtomicBool>,
        metrics: Option<MetricsEndpoint>,
    ) -> Result<Session<'a>> {
        let Targets { mut held, existing } = targets;
        let started_at = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
        let start = Instant::now();
        if let Some(child) = held.as_mut() {
            child.release()?;
        }
        messages::say(&format!(
            "tracing {} (Ctrl-C to stop), output in {}",
            describe_target(&opts.target.spec, &existing),
            folder.path().display()
        ));
        let mut symbolizer = StackSymbolizer::new();
        if opts.kernel.sample_freq.is_some() {
            symbolizer.warm_kernel();
        }
        let discovery = match &opts.target.spec {
            TargetSpec::Discover(found) => Some(discovery::DiscoveryWatch::new(
                found,
                &existing,
                plan.uprobes,
            )),
            _ => None,
        };
        Ok(Session {
            opts,
            attached,
            plan,
            held,
            initial: existing,
            processes: BTreeMap::new(),
            symbolizer,
            start,
            started_at,
            stop_flag,
            stop: None,
            young: HashMap::new(),
            last_map_refresh: Instant::now(),
            known_adds: None,
            last_comm_scan: Instant::now(),
            comm_scan: procfs::CommScan::default(),
            budget: BudgetWatch::new(),
            disk: DiskWatch::start(),
            roles: RoleWatch::new(),
            windows: WindowCloser::new(opts, folder.clone()),
            status: StatusLine::new(),
            bpf_cost: BpfCostMeter::new(),
            exits: ExitWatch::new(),
            memory: Default::default(),
            late: late_objects::LateObjects::default(),
            discovery,
            metrics,
        })
    }
}

/// "`CMD ARGS`" or "pid 1, 2, 3", for the line that says tracing started.
fn describe_target(spec: &TargetSpec, existing: &[u32]) -> String {
    match spec {
        TargetSpec::Command(argv) => format!("`{}`", argv.join(" ")),
        TargetSpec::Discover(_) => format!(
            "the {} processes discovery found (pid {})",
            existing.len(),
            existing
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!(
            "pid {}",
            existing
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
