//! `tracer merge DIR… -o OUT`: one cluster session from the sessions of one tracer per host
//! (see [`crate::model::merge`]), rendered like any session: per-node files named
//! `host.comm_pid`, the consensus layer's leader-vs-follower comparison over every host's
//! nodes, findings per node, summary.json, index.html and the report.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

use crate::model::merge;
use crate::output::owner::Owner;
use crate::output::session_dir::SessionDir;
use crate::output::session_folder;

/// Merges the sessions at `dirs` into a new session folder `out`; returns the folder and the
/// merge (its warnings are also kept in the merged session's notes).
pub fn merge_sessions(dirs: &[PathBuf], out: &Path) -> Result<(SessionDir, merge::Merged)> {
    let owner = Owner::invoking();
    let sessions = dirs
        .iter()
        .map(|d| session_folder::load_snapshot(d).with_context(|| format!("{}", d.display())))
        .collect::<Result<Vec<_>>>()?;
    let merged = merge::merge(sessions, std::env::args().collect())?;
    let folder = SessionDir::create(out, owner)?;
    session_folder::save_snapshot(&merged.snapshot, &folder)?;
    session_folder::render(&merged.snapshot, &folder)?;
    Ok((folder, merged))
}
