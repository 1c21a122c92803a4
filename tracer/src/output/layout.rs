//! Where every file of a session folder goes: the folder and file names every renderer, the
//! report's links and the session writer agree on, and what is already in a folder.
//!
//! The layout is the original `targeted_perf_test.sh`'s (`01_network_layer/` ...
//! `04_disk_io_dedicated/strace_*.txt`, `TARGETED_PERF_ANALYSIS_REPORT.md`) plus tracer's own
//! files (`cpu_profile/`, `snapshot.json`, `summary.json`, `index.html`). Layer folders come
//! from the session's layer profile. This module names files and renders nothing; every other
//! module of `output/` may use it, and it uses none of them.

use std::path::Path;

use crate::analyse::roles::Node;
use crate::model::{ProcessInfo, Snapshot};

/// One rendered file: its path relative to the session folder and its contents. Renderers
/// return these; `session_folder` writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub rel: String,
    pub bytes: Vec<u8>,
}

impl Rendered {
    pub fn new(rel: impl Into<String>, contents: impl Into<Vec<u8>>) -> Rendered {
        Rendered {
            rel: rel.into(),
            bytes: contents.into(),
        }
    }
}

/// Every measured fact of the session; `tracer report DIR` re-renders everything from it.
pub const SNAPSHOT_FILE: &str = "snapshot.json";
/// The consolidated Markdown report.
pub const REPORT_FILE: &str = "TARGETED_PERF_ANALYSIS_REPORT.md";
/// Findings and key figures for scripts (`docs/summary-schema.json`).
pub const SUMMARY_FILE: &str = "summary.json";
/// The page with the findings and every flamegraph.
pub const INDEX_FILE: &str = "index.html";
/// The folder of the window snapshots (continuous mode).
pub const WINDOWS_DIR: &str = "windows";

/// The strace-style tables, and the disk files when the profile has no `disk` layer.
pub const DISK_DIR: &str = "04_disk_io_dedicated";
/// All traced processes' syscalls in one table (sessions of more than one process).
pub const STRACE_ALL_FILE: &str = "strace_all.txt";
/// Per-node disk figures and the lost-event counters.
pub const SYSCALL_ANALYSIS_FILE: &str = "syscall_analysis.txt";

/// On-CPU and off-CPU profiles of every node.
pub const CPU_DIR: &str = "cpu_profile";
/// Off-CPU flamegraph files, relative to [`CPU_DIR`].
pub const OFFCPU_SVG: &str = "offcpu_flamegraph.svg";
pub const OFFCPU_FOLDED: &str = "offcpu.folded";

/// Files the session writer produces after the report (linked without an existence check).
pub const WRITTEN_LATER: &[&str] = &[SUMMARY_FILE, INDEX_FILE, SNAPSHOT_FILE];

/// Name of a process's syscall table file, inside [`DISK_DIR`].
pub fn strace_file(p: &ProcessInfo) -> String {
    format!("strace_{}.txt", p.label())
}

/// File names of one node's CPU outputs, relative to the session folder.
pub struct NodeFiles {
    pub folded: String,
    pub svg: String,
    pub report: String,
    pub hotspots: String,
}

pub fn node_files(p: &ProcessInfo) -> NodeFiles {
    let l = p.label();
    NodeFiles {
        folded: format!("{CPU_DIR}/{l}.folded"),
        svg: format!("{CPU_DIR}/{l}_flamegraph.svg"),
        report: format!("{CPU_DIR}/{l}_perf_report.txt"),
        hotspots: format!("{CPU_DIR}/{l}_hotspots.txt"),
    }
}

/// Folder of layer `name` in this session (`01_network_layer`), if the profile has it.
pub fn layer_folder(snapshot: &Snapshot, name: &str) -> Option<String> {
    snapshot
        .layers
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.folder.clone())
}

/// Where a node's consensus flamegraph and report go, relative to the session folder.
pub fn consensus_node_files(folder: &str, node: &Node) -> (String, String) {
    (
        format!("{folder}/consensus_node{}_flamegraph.svg", node.index),
        format!("{folder}/consensus_node{}_report.txt", node.index),
    )
}

/// Whether `rel` is a file that exists and is not empty in `dir` (or is written after the
/// report). A symlink is not a file the session wrote, and is not followed.
pub fn exists(dir: &Path, rel: &str) -> bool {
    WRITTEN_LATER.contains(&rel)
        || std::fs::symlink_metadata(dir.join(rel)).is_ok_and(|m| m.is_file() && m.len() > 0)
}

/// Relative paths of the files under `dir`. Symlinks are listed, never descended into (a
/// planted link to `/` must not make the report list the whole file system).
pub fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_files(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}
