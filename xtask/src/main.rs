//! Project automation, run as `cargo xtask <command>` (see .cargo/config.toml).
//!
//! - `setup`: installs every prerequisite of the eBPF build and the tests, idempotently.
//! - `build-ebpf`: builds the eBPF object on its own (building `tracer` does it too).
//! - `test`: setup, then the whole test suite (what CI runs).
//! - `demo`: a 3-node fixture cluster under client load, traced for ~15 s.
//! - `bench`: overhead benchmarks, side by side with strace and bpftrace.
//! - `soak`: continuous mode on a loaded cluster for a long time; memory must stay flat.
//! - `fuzz`: the parsers of outside input under cargo-fuzz, each for a bounded time.

mod bench;
mod cmd;
mod demo;
mod fuzz;
mod lint;
mod setup;
mod soak;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install prerequisites (apt packages, nightly rust-src, bpf-linker for LLVM 22).
    Setup,
    /// Build the eBPF object (tracer-ebpf) for bpfel-unknown-none.
    BuildEbpf,
    /// Build the C++ fixture cluster (fp and nofp variants).
    BuildFixture,
    /// rustfmt, clippy (host crates, and the eBPF crate for its BPF target), and no tracked
    /// file over 1 MB outside fixture/.
    Lint,
    /// Setup, lint, then run every test (needs root: the tests load real eBPF programs).
    Test {
        /// Extra arguments for `cargo test`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Start a 3-node fixture cluster with client load and trace it.
    Demo {
        /// How long to trace.
        #[arg(long, default_value = "15s")]
        duration: String,
    },
    /// Measure tracer's overhead against untraced, bpftrace and strace.
    Bench {
        /// Which benchmark.
        #[arg(long, value_enum, default_value = "all")]
        suite: bench::Suite,
        /// Syscalls per run of the syscall-loop benchmark.
        #[arg(long, default_value_t = 2_000_000)]
        iters: u64,
        /// Seconds of client load per mode and round in the sampling and overhead benchmarks.
        #[arg(long, default_value_t = 8)]
        seconds: u64,
        /// Alternating rounds of every mode in the cluster benchmarks (medians are reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Seconds of client load after an observer is ready and before measuring, in every
        /// mode: what a cluster left under tracer sees is the steady state, after the probe
        /// budget has unprobed hot functions (0 measures from attach on).
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        /// Pace the client at this many operations per second in total (4 threads) instead
        /// of a closed loop: a partly loaded cluster, as in production. Results go to
        /// `<suite>_rate<N>.{md,json}`.
        #[arg(long)]
        rate: Option<u32>,
        /// Only the modes whose name contains this (and the untraced baseline).
        #[arg(long)]
        only: Option<String>,
    },
    /// Run tracer in continuous mode on a loaded fixture cluster for a long time and check
    /// that its memory stays flat (< 10% growth after the first window) and windows keep
    /// coming. Results in target/bench/soak.{md,json}.
    Soak {
        /// How long: 90s, 30m, 1h.
        #[arg(long, default_value = "1h")]
        duration: String,
        /// tracer's --interval (window length).
        #[arg(long, default_value = "10s")]
        interval: String,
        /// Client threads of steady PUT load.
        #[arg(long, default_value_t = 1)]
        threads: u32,
    },
    /// Fuzz the parsers of outside input (snapshot.json and window files, profile TOML, ELF
    /// files, /proc text) with cargo-fuzz on nightly, each target for a bounded time;
    /// installs cargo-fuzz on first use. Fails when a target crashed.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only this target (snapshot, snapshot_fields, profile, elf, proc_text).
        #[arg(long)]
        target: Option<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Setup => setup::run(),
        Command::BuildEbpf => setup::build_ebpf().map(|p| println!("{}", p.display())),
        Command::BuildFixture => {
            for v in [
                tracer_test_support::Variant::Fp,
                tracer_test_support::Variant::NoFp,
            ] {
                let bins = tracer_test_support::fixture_bins(v)?;
                println!("{}", bins.node.display());
            }
            Ok(())
        }
        Command::Lint => lint::run(),
        Command::Test { args } => {
            setup::run()?;
            lint::run()?;
            // Default members: tracer-ebpf only builds for the BPF target (tracer/build.rs).
            let mut test = vec!["test"];
            test.extend(args.iter().map(String::as_str));
            cmd::run("cargo", &test, None)
        }
        Command::Demo { duration } => {
            setup::run()?;
            demo::run(&duration)
        }
        Command::Bench {
            suite,
            iters,
            seconds,
            rounds,
            warmup,
            rate,
            only,
        } => {
            setup::run()?;
            let runs = bench::ClusterRuns {
                seconds,
                rounds: rounds.max(1),
                warmup,
                rate,
                only,
            };
            bench::run(suite, iters, &runs)
        }
        Command::Soak {
            duration,
            interval,
            threads,
        } => {
            setup::run()?;
            soak::run(&duration, &interval, threads)
        }
        Command::Fuzz { seconds, target } => {
            setup::run()?;
            fuzz::run(seconds, target.as_deref())
        }
    }
}
