//! `tracer run`'s flags ([`RunArgs`]) and their one conversion into the options of every stage
//! ([`RunArgs::into_options`], ripgrep's LowArgs → HiArgs): clap validates what was typed
//! (ranges, durations, conflicts); the conversion builds the real things, the target, its
//! executables and the probe plan (`symbols::plan::plan_for`), and decides every default.

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

use super::duration::parse_flag as parse_duration;
use super::TargetArgs;
use crate::messages;
use crate::profile;
use crate::session::{KernelOptions, OutputOptions, RunOptions, SessionOptions, TargetOptions};
use crate::symbols::plan::{self, ProbeOptions};
use crate::target::{self, discover, TargetSpec};

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// How long to trace: 30s, 500ms, 2m... Without it: until Ctrl-C, or until the command exits.
    /// A command (`-- CMD`) still running at the end is stopped as timeout(1) does: SIGTERM
    /// to its process group, SIGKILL 5 s later.
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Session folder to create (default: tracer_results/session_YYYYMMDD_HHMMSS). It must
    /// not exist yet (an empty folder of yours is fine): results of two runs never mix, and
    /// a symlink there is refused. Under sudo it and its files belong to the sudo user.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Do not trace processes forked by the targets (always followed for `-- CMD`).
    #[arg(long)]
    pub no_follow: bool,
    /// On-CPU stack samples per second per CPU, like `perf record -F` (99 default, 999 is the
    /// original script's rate).
    #[arg(short = 'F', long = "freq", value_name = "HZ", default_value_t = 99,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub freq: u64,
    /// No stack sampling: syscall tables only.
    #[arg(long)]
    pub no_sample: bool,
    /// No uprobes: sampling and syscalls only, layers by stack membership (the cheapest mode).
    #[arg(long)]
    pub no_uprobes: bool,
    /// Do not probe functions matching PATTERN (attributed by stack instead); repeatable.
    #[arg(long = "no-probe", value_name = "PATTERN")]
    pub no_probe: Vec<String>,
    /// Remove a function's uprobes once it is called more than N times a second (a uprobe hit
    /// costs ~10 us on this kind of machine); 0: never.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub probe_budget: u64,
    /// Continuous mode: close a window (windows/window_NNNN.json) every DURATION; samples and
    /// stacks are drained from the kernel each window so memory stays bounded.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub interval: Duration,
    /// No syscall accounting (no strace tables, no syscall attribution).
    #[arg(long)]
    pub no_syscalls: bool,
    /// No off-CPU accounting (blocked time, lock waits).
    #[arg(long)]
    pub no_offcpu: bool,
    /// Serve Prometheus/OpenMetrics text on ADDR (e.g. 127.0.0.1:9464) at /metrics, updated
    /// every window: per node/layer/function latency histograms, syscall counters, lost
    /// events, tracer's own overhead.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Name of this host in snapshots, windows, pprof labels and metrics (`host` label), so
    /// one tracer per machine can be told apart and merged (`tracer merge`). Default: the
    /// hostname. Letters, digits, `.`, `_` and `-` only.
    #[arg(long, value_name = "NAME", value_parser = parse_host_label)]
    pub host_label: Option<String>,
    /// Window snapshots kept on disk.
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub keep_windows: usize,
    /// With no --pid, --comm or command, tracer looks at every process of the host for the
    /// cluster's nodes; with --under PID only at PID and its descendants (a container's or a
    /// service's main process, a shell).
    #[arg(long, value_name = "PID")]
    pub under: Option<u32>,
    /// Command to start and trace from exec to exit, with its children (like `strace -f CMD`).
    /// It runs in a process group of its own; when tracing stops first (--duration, Ctrl-C)
    /// the group is stopped like timeout(1) stops its command.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl RunArgs {
    /// Everything `tracer run` was asked to do, planned: the target, the probe plan resolved
    /// in the targets' objects (its warnings are printed now and kept for the report),
    /// and the defaults decided. `invocation` is the command line, for the report.
    pub fn into_options(self, invocation: Vec<String>) -> Result<RunOptions> {
        let spec = match self.target.spec_with_command(self.command)? {
            Some(_) if self.under.is_some() => bail!(
                "--under PID limits discovery, which runs only when no --pid, --comm or command \
                 is given: drop --under, or the target"
            ),
            Some(spec) => spec,
            None => {
                let profile = profile::load_or_default(self.target.profile.as_deref())?;
                let found = discover::discover(&profile, self.under)?;
                messages::say(&found.summary());
                TargetSpec::Discover(found)
            }
        };
        let probes = ProbeOptions {
            profile: self.target.profile,
            no_probe: self.no_probe,
            uprobes: !self.no_uprobes,
            budget: (self.probe_budget > 0).then_some(self.probe_budget),
        };
        let plan = plan::plan_for(&probes, &target::objects(&spec)?)?;
        Ok(RunOptions {
            target: TargetOptions {
                spec,
                follow_children: !self.no_follow,
            },
            kernel: KernelOptions {
                plan,
                sample_freq: (!self.no_sample).then_some(self.freq),
                syscalls: !self.no_syscalls,
                offcpu: !self.no_offcpu,
            },
            session: SessionOptions {
                duration: self.duration,
                interval: self.interval,
                metrics: self.metrics,
            },
            output: OutputOptions {
                default_name: self.output.is_none(),
                out_dir: self.output.unwrap_or_else(default_out_dir),
                keep_windows: self.keep_windows.max(1),
                invocation,
                host: match self.host_label {
                    Some(h) => h,
                    None => hostname()?,
                },
            },
        })
    }
}

/// `tracer_results/session_YYYYMMDD_HHMMSS`, in the current directory.
fn default_out_dir() -> PathBuf {
    PathBuf::from("tracer_results").join(
        chrono::Local::now()
            .format("session_%Y%m%d_%H%M%S")
            .to_string(),
    )
}

/// A host label: 1-64 of `[A-Za-z0-9._-]`. `:` is refused because merged sessions name
/// nodes `host:pid`; whitespace and quotes would make awkward label values and file names.
pub fn parse_host_label(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 64 {
        return Err("a host label is 1 to 64 characters".into());
    }
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed in a host label: use letters, digits, '.', '_' and '-'"
        )),
        None => Ok(s.to_string()),
    }
}

/// The kernel's hostname (of this UTS namespace), as `hostname(1)` prints it, made a valid
/// host label (other characters become `_`).
fn hostname() -> Result<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| anyhow::anyhow!("cannot read the hostname ({e}): give --host-label NAME"))?;
    let name: String = raw
        .trim()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        anyhow::bail!("the hostname is empty: give --host-label NAME");
    }
    Ok(name)
}
