//! The setup steps of a session, in the order `run` calls them: each one named, each failing
//! with the step in its message (`run` adds `failed to <step>`).
//!
//! Checks that can fail without tracing anything come first, so a doomed run costs nothing;
//! then what must exist before the first traced instruction (signal handlers, the metrics
//! endpoint, the programs, the probes, the targets, sampling).

use anyhow::Result;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::kernel::attach::Attached;
use crate::kernel::explain_attach_error;
use crate::messages;
use crate::output::session_dir::SessionDir;
use crate::profile::probe_plan::ProbePlan;
use crate::target::{self, preflight, HeldChild, TargetSpec};

use super::metrics_server::MetricsServer;
use super::{KernelOptions, RunOptions, TargetOptions};

/// Everything that can fail before anything is attached: the machine (x86-64, kernel
/// version, BTF), root, the targets, the output folder, tracefs. Returns the pids of `--pid` / `--comm` (none for a command) and the
/// session folder, created. Each error already says what to do, so `run` adds nothing to it.
pub(super) fn preflight(opts: &RunOptions) -> Result<(Vec<u32>, SessionDir)> {
    preflight::require_supported_system()?;
    preflight::require_root()?;
    let existing = target::resolve_existing(&opts.target.spec)?;
    let folder = preflight::prepare_output_dir(&opts.output.out_dir, opts.output.default_name)?;
    preflight::ensure_tracefs()?;
    Ok((existing, folder))
}

/// A flag that Ctrl-C (SIGINT) and SIGTERM raise: the run then stops and still writes its
/// folder.
pub(super) fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// The `--metrics` endpoint and the body it serves, replaced after every window.
pub(super) struct MetricsEndpoint {
    _server: MetricsServer,
    body: Arc<Mutex<String>>,
}

impl MetricsEndpoint {
    /// Serves `body` from now on.
    pub(super) fn publish(&self, body: String) {
        *self.body.lock().unwrap_or_else(|e| e.into_inner()) = body;
    }
}

/// Starts the `--metrics` endpoint before anything is attached: an address that is taken
/// fails the run at once.
pub(super) fn serve_metrics(addr: Option<&str>) -> Result<Option<MetricsEndpoint>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let body = Arc::new(Mutex::new(String::new()));
    let server = MetricsServer::start(addr, body.clone())?;
    messages::say(&format!(
        "metrics on http://{}/metrics",
        server.local_addr()
    ));
    Ok(Some(MetricsEndpoint {
        _server: server,
        body,
    }))
}

/// Loads the eBPF object and attaches every program the options keep.
pub(super) fn load_programs(opts: &KernelOptions) -> Result<Attached> {
    // With a profile to resolve in objects mapped later (`dlopen`, exec), the uprobe programs
    // are loaded even when nothing resolved yet.
    Attached::load(
        opts.plan.uprobes || opts.plan.profile.is_some(),
        &opts.skipped_programs(),
    )
}

/// Probes every function of the plan. One function that cannot be probed must not cost the
/// whole run: it becomes a warning (printed, and in the returned plan for the report) and is
/// attributed by stack.
pub(super) fn probe_functions(attached: &mut Attached, plan: &ProbePlan) -> ProbePlan {
    let mut plan = plan.clone();
    if !plan.uprobes {
        return plan;
    }
    for (id, p) in plan.probes.iter().enumerate() {
        if let Err(err) = attached.probe_function(
            &p.binary,
            p.file_offset,
            id as u32,
            p.layer_id,
            p.entry_only,
        ) {
            let why = explain_attach_error(&err);
            plan.warnings
                .warn(format!("cannot probe {}: {why}", p.demangled));
        }
    }
    plan
}

/// Tells the kernel side what to trace: the `--pid` / `--comm` processes, or the command,
/// forked now and held before `execve` until tracing is in place (released by
/// [`super::Session::begin`]).
pub(super) fn start_targets(
    attached: &mut Attached,
    target: &TargetOptions,
    existing: &[u32],
) -> Result<Option<HeldChild>> {
    if let TargetSpec::Command(argv) = &target.spec {
        let child = HeldChild::spawn(argv)?;
        attached.add_target(child.pid, child.pid, true)?;
        return Ok(Some(child));
    }
    for &pid in existing {
        attached.add_target(pid, pid, target.follows_children())?;
    }
    Ok(None)
}

/// Starts on-CPU sampling at `-F` per CPU, unless sampling is off.
pub(super) fn start_sampling(attached: &mut Attached, freq: Option<u64>) -> Result<()> {
    match freq {
        Some(freq) => attached.start_sampling(freq),
        None => Ok(()),
    }
}
