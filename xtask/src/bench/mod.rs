//! `cargo xtask bench`: overhead benchmarks, each comparing tracer side by side, in one run,
//! with the tools it replaces. Results go to `target/bench/*.md` and `*.json`.

mod cluster;
pub mod cost;
pub mod overhead;
pub mod sampling;
pub mod syscalls;
pub mod uprobes;

use anyhow::Result;

/// Which benchmark to run.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Suite {
    /// Added cost per syscall: tracer vs bpftrace vs strace on a tight syscall loop.
    Syscalls,
    /// Cluster throughput under stack sampling: tracer at 99/999 Hz vs perf record -g.
    Sampling,
    /// Cost of one probed call: tracer vs bpftrace uprobe+uretprobe.
    Uprobes,
    /// Cluster throughput and p99 under tracer, perf record -g, strace -f -c and an equivalent
    /// bpftrace script, side by side.
    Overhead,
    /// The cluster under tracer with one collector at a time: which part costs what.
    Cost,
    /// Everything.
    All,
}

/// How the cluster benchmarks run: seconds of load per run, rounds, and an optional filter on
/// mode names.
#[derive(Clone)]
pub struct ClusterRuns {
    pub seconds: u64,
    pub rounds: usize,
    /// Seconds of unmeasured load after the observer is ready.
    pub warmup: u64,
    /// Paced load: total operations per second over the 4 client threads; `None`: closed
    /// loop (the saturated cluster).
    pub rate: Option<u32>,
    pub only: Option<String>,
}

pub fn run(suite: Suite, iters: u64, runs: &ClusterRuns) -> Result<()> {
    if matches!(suite, Suite::Syscalls | Suite::All) {
        syscalls::run(iters)?;
    }
    if matches!(suite, Suite::Uprobes | Suite::All) {
        uprobes::run(100_000)?;
    }
    if matches!(suite, Suite::Sampling | Suite::All) {
        sampling::run(runs)?;
    }
    if matches!(suite, Suite::Overhead | Suite::All) {
        overhead::run(runs)?;
    }
    if matches!(suite, Suite::Cost | Suite::All) {
        cost::run(runs)?;
    }
    Ok(())
}

impl ClusterRuns {
    /// File stem of a suite's results: `overhead`, or `overhead_rate3000` when paced.
    pub fn stem(&self, suite: &str) -> String {
        match self.rate {
            Some(r) => format!("{suite}_rate{r}"),
            None => suite.to_string(),
        }
    }
}

/// Median of a non-empty sample.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}
