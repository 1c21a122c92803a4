//! Command-line interface: flags spelled as perf/strace/bpftrace users expect, thin over the
//! library. In: the command line. Out: a call into `session/` (`tracer run`) or `commands/`.
//! Never: traces or renders anything itself.

pub mod duration;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use crate::session::{self, RunOptions, StopReason};
use crate::target::TargetSpec;

#[derive(Parser, Debug)]
#[command(
    name = "tracer",
    version,
    about = "eBPF tracer for layer-by-layer performance analysis of C++ Raft KV clusters"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Trace processes (or a command) and write a session folder.
    Run(RunArgs),
    /// Re-render a saved session folder from its snapshot.json (no root needed).
    Report {
        /// The session folder written by `tracer run`.
        dir: PathBuf,
    },
    /// Dry run: which functions of the profile resolve in the targets (attaches nothing).
    Probes(crate::commands::probes::ProbesArgs),
    /// Print or check layer profiles.
    Profile(crate::commands::profile::ProfileArgs),
    /// Differential flamegraph between two sessions: what an optimisation changed.
    Diff {
        /// The session before the change.
        before: PathBuf,
        /// The session after the change.
        after: PathBuf,
        /// SVG to write (default: AFTER/diff_flamegraph.svg).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Trace this process (repeat for every node).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// Trace every process with this name (comm or executable file name).
    #[arg(short = 'c', long, value_name = "NAME", conflicts_with = "pids")]
    pub comm: Option<String>,
    /// How long to trace: 30s, 500ms, 2m... Without it: until Ctrl-C, or until the command exits.
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Session folder to write (default: tracer_results/session_YYYYMMDD_HHMMSS).
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
    /// Layer profile (TOML) instead of the built-in KVstorageBaseRaft one.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
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
    pub interval: std::time::Duration,
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
    /// Window snapshots kept on disk.
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub keep_windows: usize,
    /// Command to start and trace from exec to exit, with its children (like `strace -f CMD`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The executables whose functions get probed: those of the named processes, or the command's.
fn target_binaries(target: &TargetSpec) -> anyhow::Result<Vec<PathBuf>> {
    let pids = match target {
        TargetSpec::Command(argv) => {
            return Ok(crate::profile::probe_plan::command_binary(&argv[0])
                .into_iter()
                .collect());
        }
        other => crate::target::resolve_existing(other)?,
    };
    // One executable is probed once however many processes run it (same file, any path).
    Ok(crate::symbols::resolve::binaries_of_pids(&pids)
        .into_iter()
        .map(|(bin, _)| bin)
        .collect())
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    duration::parse(s).map_err(|e| e.to_string())
}

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_command(args),
        Command::Report { dir } => crate::commands::report::rerender(&dir).map(|files| {
            println!("re-rendered {} files in {}", files.len(), dir.display());
        }),
        Command::Probes(a) => crate::commands::probes::probes_command(&a),
        Command::Profile(a) => crate::commands::profile::profile_command(&a),
        Command::Diff {
            before,
            after,
            output,
        } => crate::commands::diff::diff(&before, &after, output).map(|(path, summary)| {
            print!("{summary}");
            println!("differential flamegraph: {}", path.display());
        }),
    };
    match result {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("tracer: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            1
        }
    }
}

fn run_command(args: RunArgs) -> anyhow::Result<()> {
    let target = if !args.command.is_empty() {
        if !args.pids.is_empty() || args.comm.is_some() {
            anyhow::bail!("give either --pid/--comm or a command after `--`, not both");
        }
        TargetSpec::Command(args.command)
    } else if let Some(comm) = args.comm {
        TargetSpec::Comm(comm)
    } else if !args.pids.is_empty() {
        TargetSpec::Pids(args.pids)
    } else {
        anyhow::bail!(
            "nothing to trace: give --pid PID (repeatable), --comm NAME, or `-- CMD ARGS...`"
        );
    };
    let out_dir = args.output.unwrap_or_else(|| {
        PathBuf::from("tracer_results").join(
            chrono::Local::now()
                .format("session_%Y%m%d_%H%M%S")
                .to_string(),
        )
    });
    let mut profile = match &args.profile {
        Some(path) => crate::profile::load(path)?,
        None => crate::profile::default_profile(),
    };
    for pattern in &args.no_probe {
        if !profile.opt_out(pattern) {
            eprintln!(
                "tracer: warning: --no-probe {pattern:?} matches no probed pattern of the profile"
            );
        }
    }
    let binaries = target_binaries(&target)?;
    let (plan, warnings) = crate::symbols::plan::plan(
        &profile,
        &binaries,
        !args.no_uprobes,
        (args.probe_budget > 0).then_some(args.probe_budget),
    )?;
    for w in &warnings {
        eprintln!("tracer: warning: {w}");
    }
    let opts = RunOptions {
        target,
        duration: args.duration,
        out_dir,
        follow_children: !args.no_follow,
        sample_freq: (!args.no_sample).then_some(args.freq),
        plan,
        syscalls: !args.no_syscalls,
        offcpu: !args.no_offcpu,
        interval: args.interval,
        keep_windows: args.keep_windows.max(1),
        metrics: args.metrics,
        invocation: std::env::args().collect(),
    };
    let outcome = session::run(&opts)?;
    if outcome.stop == StopReason::Signal {
        eprintln!("tracer: interrupted; the report was written");
    }
    print!(
        "{}",
        crate::output::session_folder::summary(&outcome.snapshot, &outcome.out_dir)
    );
    Ok(())
}
