//! The target flags every subcommand that takes targets flattens (`run`, `probes`): one
//! declaration, so they are spelled, documented and validated alike everywhere.

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

use crate::target::TargetSpec;

/// `--pid P... | --comm NAME`, and the layer profile to use on them.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// A target process: its pid (repeat for every node).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// Every process with this name (comm or executable file name).
    #[arg(short = 'c', long, value_name = "NAME", conflicts_with = "pids")]
    pub comm: Option<String>,
    /// Layer profile (TOML) instead of the built-in KVstorageBaseRaft one (see `tracer profile
    /// --print-default`).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

impl TargetArgs {
    /// The running processes named by `--pid` or `--comm`, if any were.
    pub fn processes(&self) -> Option<TargetSpec> {
        match &self.comm {
            Some(comm) => Some(TargetSpec::Comm(comm.clone())),
            None if !self.pids.is_empty() => Some(TargetSpec::Pids(self.pids.clone())),
            None => None,
        }
    }

    /// What `tracer run` was told to trace: the processes, or `command` (the words after
    /// `--`). None when nothing was named: `tracer run` then discovers the cluster
    /// (`target::discover`).
    pub fn spec_with_command(&self, command: Vec<String>) -> Result<Option<TargetSpec>> {
        match (self.processes(), command.is_empty()) {
            (Some(_), false) => {
                bail!("give either --pid/--comm or a command after `--`, not both")
            }
            (None, false) => Ok(Some(TargetSpec::Command(command))),
            (Some(spec), true) => Ok(Some(spec)),
            (None, true) => Ok(None),
        }
    }
}
