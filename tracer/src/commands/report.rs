//! `tracer report DIR`: re-render every output of a saved session from its `snapshot.json`,
//! without BPF or root.

use anyhow::Result;
use std::path::Path;

use crate::output::session_folder;

/// Re-renders the session folder `dir`; returns the files written.
pub fn rerender(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let snapshot = session_folder::load_snapshot(dir)?;
    session_folder::render(&snapshot, dir)
}
