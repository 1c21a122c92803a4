//! `tracer profile`: print the embedded layer profile or check one.

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

use crate::profile;

/// `tracer profile --print-default | --check FILE`
#[derive(Args, Debug, Clone, Default)]
#[command(group(clap::ArgGroup::new("profile_action").required(true).args(["print_default", "check"])))]
pub struct ProfileArgs {
    /// Print the built-in profile (KVstorageBaseRaft-cpp family), a commented starting point.
    #[arg(long)]
    pub print_default: bool,
    /// Validate a profile file and list its layers.
    #[arg(long, value_name = "FILE", conflicts_with = "print_default")]
    pub check: Option<PathBuf>,
}

/// Runs `tracer profile`.
pub fn profile_command(args: &ProfileArgs) -> Result<()> {
    if args.print_default {
        print!("{}", profile::default_toml());
        return Ok(());
    }
    let Some(path) = &args.check else {
        bail!("give --print-default or --check FILE");
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
    }
}
