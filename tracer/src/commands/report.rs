//! `tracer report DIR`: re-render every output of a saved session from its `snapshot.json`,
//! without BPF or root.

use anyhow::Result;
use std::path::Path;

use crate::output::owner::Owner;
use crate::output::session_dir::SessionDir;
use crate::output::session_folder;

/// Re-renders the session folder `dir`; returns the files written. The folder is opened like
/// `tracer run`'s (a symlink at `dir` or inside is refused) and what is written is handed to
/// the user who ran sudo.
pub fn rerender(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let folder = SessionDir::open(dir, Owner::invoking())?;
    let snapshot = session_folder::load_snapshot_from(&folder)?;
    session_folder::render(&snapshot, &folder)
}
