//! What `tracer run` was asked to do, one part per stage it configures (samply's
//! `RecordingProps` / `SymbolProps` style): the target, the kernel side, the session's rhythm,
//! the output. `cli` builds them from the flags in one conversion (`RunArgs::into_options`);
//! each stage reads only its part.

use std::path::PathBuf;
use std::time::Duration;

use crate::kernel::attach;
use crate::profile::probe_plan::ProbePlan;
use crate::target::TargetSpec;

/// Everything `tracer run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub target: TargetOptions,
    pub kernel: KernelOptions,
    pub session: SessionOptions,
    pub output: OutputOptions,
}

/// What to trace (`target/`).
#[derive(Clone, Debug)]
pub struct TargetOptions {
    pub spec: TargetSpec,
    /// Trace processes forked by the targets too (always on for `-- CMD`, see
    /// [`Self::follows_children`]).
    pub follow_children: bool,
}

impl TargetOptions {
    /// Whether children of the targets are traced: a command is followed like `strace -f`.
    pub fn follows_children(&self) -> bool {
        self.follow_children || matches!(self.spec, TargetSpec::Command(_))
    }
}

/// What the kernel side attaches and collects (`kernel/`).
#[derive(Clone, Debug)]
pub struct KernelOptions {
    /// Layers and the functions to probe.
    pub plan: ProbePlan,
    /// On-CPU stack sampling frequency per CPU (perf's `-F`); None: no sampling.
    pub sample_freq: Option<u64>,
    /// Syscall accounting (the strace -c tables).
    pub syscalls: bool,
    /// Off-CPU (blocked time) accounting.
    pub offcpu: bool,
}

impl KernelOptions {
    /// What kinds of data this run collects, as recorded in the snapshot.
    pub fn collection(&self) -> crate::model::Collection {
        crate::model::Collection {
            syscalls: self.syscalls,
            uprobes: self.plan.uprobes,
            offcpu: self.offcpu,
            sampling: self.sample_freq.is_some(),
        }
    }

    /// The programs left out of loading: those of the kinds of accounting turned off.
    pub fn skipped_programs(&self) -> Vec<&'static str> {
        let mut skip = Vec::new();
        if !self.syscalls {
            skip.extend(attach::SYSCALL_PROGRAMS);
        }
        if !self.offcpu {
            skip.extend(attach::OFFCPU_PROGRAMS);
        }
        skip
    }
}

/// How long the session runs and in what rhythm (`session/`).
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// None: until Ctrl-C / SIGTERM (or until the traced command exits).
    pub duration: Option<Duration>,
    /// Length of a window: every interval a window snapshot is written (continuous mode).
    pub interval: Duration,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464), updated every window.
    pub metrics: Option<String>,
}

/// What is written, and where (`output/`).
#[derive(Clone, Debug)]
pub struct OutputOptions {
    /// The session folder to write: created fresh (an existing folder with content is
    /// refused, see `output::session_dir`).
    pub out_dir: PathBuf,
    /// `out_dir` is tracer's default name, not `-o`: when taken, the next free `_2`, `_3`...
    /// is used instead of refusing.
    pub default_name: bool,
    /// Window snapshots kept on disk (older ones are removed).
    pub keep_windows: usize,
    /// How `tracer` was invoked, recorded in the report.
    pub invocation: Vec<String>,
    /// The host label (`--host-label`, default the hostname) every snapshot, window, pprof
    /// profile and metric carries.
    pub host: String,
}
