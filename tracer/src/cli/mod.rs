//! Command-line interface: flags spelled as perf/strace/bpftrace users expect, thin over the
//! library. In: the command line. Out: a call into `session/` (`tracer run`) or `commands/`.
//! Never: traces or renders anything itself.
//!
//! The target flags are declared once ([`TargetArgs`]) and flattened into `run` and `probes`;
//! `run`'s flags become [`crate::session::RunOptions`] in one conversion
//! ([`RunArgs::into_options`]). Every flag family has parse tests (`cli/tests.rs`).

pub mod duration;
mod run_args;
mod target_args;

pub use run_args::RunArgs;
pub use target_args::TargetArgs;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::messages;
use crate::session::{self, StopReason};

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
    /// One cluster session from the sessions of one tracer per host (each run with its own
    /// --host-label): nodes named host.comm_pid, one report, summary and index.html.
    Merge {
        /// The per-host session folders (two or more).
        #[arg(required = true, num_args = 2..)]
        dirs: Vec<PathBuf>,
        /// The new cluster session folder to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
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
        Command::Merge { dirs, output } => crate::commands::merge::merge_sessions(&dirs, &output)
            .map(|(folder, merged)| {
                for w in &merged.warnings {
                    messages::say(&format!("warning: {w}"));
                }
                print!(
                    "{}",
                    crate::output::session_folder::summary(&merged.snapshot, &folder)
                );
            }),
    };
    match result {
        Ok(()) => 0,
        Err(err) => {
            messages::error(&err);
            1
        }
    }
}

/// `tracer run`: the flags become options in one conversion, the session runs, the summary
/// is printed.
fn run_command(args: RunArgs) -> anyhow::Result<()> {
    let opts = args.into_options(std::env::args().collect())?;
    let outcome = session::run(&opts)?;
    if outcome.stop == StopReason::Signal {
        messages::say("interrupted; the report was written");
    }
    print!(
        "{}",
        crate::output::session_folder::summary(&outcome.snapshot, &outcome.folder)
    );
    Ok(())
}

#[cfg(test)]
mod tests;
