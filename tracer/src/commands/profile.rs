//! `tracer profile`: print the embedded layer profile or check one.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

use crate::profile;

/// `tracer profile --print-default | --check FILE | --suggest (--binary FILE | --pid P | --comm NAME) [-o FILE]`
#[derive(Args, Debug, Clone, Default)]
#[command(group(clap::ArgGroup::new("profile_action").required(true).args(["print_default", "check", "suggest"])))]
pub struct ProfileArgs {
    /// Print the built-in profile (KVstorageBaseRaft-cpp family), a commented starting point.
    #[arg(long)]
    pub print_default: bool,
    /// Validate a profile file and list its layers.
    #[arg(long, value_name = "FILE", conflicts_with = "print_default")]
    pub check: Option<PathBuf>,
    /// Write a starting profile for a fork from its own symbols (its executable and
    /// application libraries): give --binary, --pid or --comm.
    #[arg(long, conflicts_with_all = ["print_default", "check"])]
    pub suggest: bool,
    /// --suggest: the fork's executable (its DT_NEEDED libraries are followed).
    #[arg(short = 'b', long, value_name = "PATH", requires = "suggest")]
    pub binary: Option<PathBuf>,
    /// --suggest: a running node (the objects it maps).
    #[arg(
        short = 'p',
        long,
        value_name = "PID",
        requires = "suggest",
        conflicts_with = "binary"
    )]
    pub pid: Option<u32>,
    /// --suggest: a running node by name.
    #[arg(short = 'c', long, value_name = "NAME", requires = "suggest", conflicts_with_all = ["binary", "pid"])]
    pub comm: Option<String>,
    /// --suggest: write the profile to FILE instead of stdout.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        requires = "suggest"
    )]
    pub output: Option<PathBuf>,
}

/// Runs `tracer profile`.
pub fn profile_command(args: &ProfileArgs) -> Result<()> {
    if args.print_default {
        print!("{}", profile::default_toml());
        return Ok(());
    }
    if args.suggest {
        return suggest_command(args);
    }
    let Some(path) = &args.check else {
        bail!("give --print-default, --check FILE or --suggest");
    };
    let p = profile::load(path)?;
    println!("{}: valid, {} layers", path.display(), p.layers.len());
    for l in &p.layers {
        println!(
            "  {:<12} {:<24} {} functions, {} entry-only, {} stack-only, {} syscalls",
            l.name,
            l.folder,
            l.functions.len(),
            l.entry_only.len(),
            l.stack_only.len(),
            l.syscalls.len()
        );
    }
    Ok(())
}

/// `--suggest`: reads the target's executable and application libraries, writes the profile.
fn suggest_command(args: &ProfileArgs) -> Result<()> {
    use crate::symbols::objects::{self, ObjectKind};
    let target = if let Some(b) = &args.binary {
        objects::target_of_executable(b)?
    } else {
        let pids = match (&args.pid, &args.comm) {
            (Some(pid), _) => {
                crate::symbols::resolve::binary_of_pid(*pid)?;
                vec![*pid]
            }
            (None, Some(name)) => crate::target::procfs::pids_by_comm(name),
            (None, None) => bail!("--suggest needs --binary FILE, --pid PID or --comm NAME"),
        };
        let Some(t) = objects::targets_of_pids(&pids).into_iter().next() else {
            bail!("no running process to read (is the name right? are you root?)");
        };
        t
    };
    let mut functions = Vec::new();
    let mut read = Vec::new();
    for obj in target
        .objects
        .iter()
        .filter(|o| o.kind != ObjectKind::SystemLibrary)
    {
        let elf = crate::symbols::elf::read_functions(&obj.open_path)?;
        read.push(obj.file_name());
        functions.extend(elf.functions.into_iter().map(|f| (obj.file_name(), f)));
    }
    let source = format!("{} ({})", target.executable.display(), read.join(", "));
    let text = crate::commands::suggest::suggest(&source, &functions)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            let p = profile::load(path)?;
            eprintln!(
                "wrote {} ({} layers, {} functions to probe); check what it resolves with \
                 `tracer probes --binary {} --profile {}`",
                path.display(),
                p.layers.len(),
                p.layers
                    .iter()
                    .map(|l| l.functions.len() + l.entry_only.len())
                    .sum::<usize>(),
                target.executable.display(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct ProfileCmd {
        #[command(flatten)]
        args: ProfileArgs,
    }

    #[test]
    fn profile_needs_an_action() {
        ProfileCmd::command().debug_assert();
        assert!(ProfileCmd::try_parse_from(["t", "--print-default"]).is_ok());
        assert!(ProfileCmd::try_parse_from(["t", "--check", "f.toml"]).is_ok());
        assert!(ProfileCmd::try_parse_from(["t"]).is_err());
        assert!(ProfileCmd::try_parse_from(["t", "--suggest", "--binary", "x", "-o", "p"]).is_ok());
        assert!(ProfileCmd::try_parse_from(["t", "--suggest", "--comm", "x"]).is_ok());
        assert!(ProfileCmd::try_parse_from(["t", "--binary", "x"]).is_err());
        assert!(
            ProfileCmd::try_parse_from(["t", "--suggest", "--pid", "1", "--binary", "x"]).is_err()
        );
    }
}
