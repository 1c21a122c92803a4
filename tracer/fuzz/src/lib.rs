//! What every fuzz target does with what a parser accepted: everything tracer would then do
//! with it, so a panic anywhere downstream of a hostile file is found too.

use std::path::{Path, PathBuf};

use tracer::model::Snapshot;

/// The canned sessions of the golden tests: seeds of the snapshot targets.
pub const SEED_SNAPSHOTS: [&str; 3] = [
    include_str!("../../tests/data/sessions/one_node_no_sampling/snapshot.json"),
    include_str!("../../tests/data/sessions/three_nodes_pathological/snapshot.json"),
    include_str!("../../tests/data/sessions/two_nodes_kernel_frames/snapshot.json"),
];

/// Renders every file of `tracer report` (in memory), the metrics text, the pprof profile,
/// and `tracer diff` of the snapshot with itself. Errors are fine; panics are findings.
pub fn exercise_snapshot(s: &Snapshot) {
    let dir = Path::new("/nonexistent/tracer-fuzz-session");
    let _ =
        tracer::output::session_folder::render_each(s, dir, |rel, _bytes| Ok(PathBuf::from(rel)));
    let _ = tracer::output::metrics::render(s, s.self_cost.as_ref());
    let _ = tracer::output::pprof::encode(s);
    let _ = tracer::commands::diff::compare(s, s, "fuzz");
}
