//! Running commands with their output shown, failing with the command line on error.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// Runs `program args...` (in `dir`), inheriting stdio; errors when it fails.
pub fn run(program: &str, args: &[&str], dir: Option<&Path>) -> Result<()> {
    let mut c = Command::new(program);
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let status = c
        .status()
        .with_context(|| format!("cannot start `{program}`"))?;
    if !status.success() {
        bail!("`{program} {}` failed: {status}", args.join(" "));
    }
    Ok(())
}

/// True when `program args...` runs and succeeds (output discarded).
pub fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
}
