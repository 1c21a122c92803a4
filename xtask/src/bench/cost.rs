//! `cargo xtask bench --suite cost`: where tracer's overhead comes from. The same fixture
//! cluster and load as `overhead`, under tracer with one collector at a time (syscall
//! accounting, off-CPU, stack sampling, uprobes) and with everything, so a change to one
//! collector is measured against its own share, in `target/bench/cost.{md,json}`.

use anyhow::Result;

use super::cluster::{self, Mode, Spec};

/// Every collector off but the one named.
const SYSCALLS_ONLY: &[&str] = &["--no-uprobes", "--no-offcpu", "--no-sample"];
const OFFCPU_ONLY: &[&str] = &["--no-uprobes", "--no-syscalls", "--no-sample"];
const SAMPLING_ONLY: &[&str] = &["--no-uprobes", "--no-syscalls", "--no-offcpu"];
const UPROBES_ONLY: &[&str] = &["--no-syscalls", "--no-offcpu", "--no-sample"];
const NOTHING: &[&str] = &[
    "--no-uprobes",
    "--no-syscalls",
    "--no-offcpu",
    "--no-sample",
];
/// What the README suggests for leaving it running on a syscall-heavy node: flamegraphs,
/// function latencies, roles, disk figures; no per-syscall or per-switch programs.
const LIGHT: &[&str] = &["--no-syscalls", "--no-offcpu"];

pub fn run(runs: &super::ClusterRuns) -> Result<()> {
    cluster::run(runs, |_, _| {
        Ok(Spec {
            title: "Where tracer's overhead comes from",
            stem: "cost",
            modes: vec![
                Mode::Untraced,
                Mode::Tracer(NOTHING),
                Mode::Tracer(SYSCALLS_ONLY),
                Mode::Tracer(OFFCPU_ONLY),
                Mode::Tracer(SAMPLING_ONLY),
                Mode::Tracer(UPROBES_ONLY),
                Mode::Tracer(LIGHT),
                Mode::Tracer(&["--no-uprobes"]),
                Mode::Tracer(&[]),
            ],
            footer: "`--no-uprobes --no-syscalls --no-offcpu --no-sample` still attaches \
                     process tracking (task_newtask), block-request latency and the poll loop: \
                     the floor of any tracer run."
                .into(),
        })
    })
}
