//! `cargo xtask bench --suite sampling`: what stack sampling costs a loaded cluster. The same
//! 3-node fixture cluster and client load run untraced, under tracer's modes (default, without
//! uprobes, without sampling, at 999 Hz) and under `perf record -F 999 -g`; modes alternate over
//! several rounds and the median throughput and p99 latency of each are reported (see
//! `cluster.rs`). tracer's own time from stop to a written session (symbolising and rendering
//! every output) and its own cost are reported too.

use anyhow::Result;

use super::cluster::{self, Mode, Spec};

pub fn run(runs: &super::ClusterRuns) -> Result<()> {
    cluster::run(runs, |_, _| {
        Ok(Spec {
            title: "Stack sampling cost",
            stem: "sampling_overhead",
            modes: vec![
                Mode::Untraced,
                Mode::Tracer(&[]),
                Mode::Tracer(&["--no-uprobes"]),
                Mode::Tracer(&["--no-uprobes", "--no-sample"]),
                Mode::Tracer(&["--no-uprobes", "-F", "999"]),
                Mode::Perf(999),
            ],
            footer: String::new(),
        })
    })
}
