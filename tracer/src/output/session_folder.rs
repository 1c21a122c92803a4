//! The session writer: composes every renderer of `output/` into the session folder (the shape
//! users of the original `targeted_perf_test.sh` know, see [`crate::output::layout`]), writes
//! the files through the open folder ([`SessionDir`]: no symlink followed, nothing outside it,
//! everything handed to the sudo user), and saves and loads `snapshot.json`, from which
//! `tracer report DIR` re-renders everything.

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analyse::findings;
use crate::analyse::syscalls;
use crate::model::Snapshot;
use crate::output::layout::Rendered;
use crate::output::owner::Owner;
use crate::output::session_dir::SessionDir;
use crate::output::{
    consensus_files, cpu_profile, disk_files, html, layer_folder, log_io_files, network_files,
    report, strace_table, summary,
};

pub use crate::output::layout::{strace_file, DISK_DIR, REPORT_FILE, SNAPSHOT_FILE};
pub use crate::output::strace_table::drops_text;

/// Writes `snapshot.json`. Done first, so the data survives whatever happens to rendering.
pub fn save_snapshot(snapshot: &Snapshot, dir: &SessionDir) -> Result<PathBuf> {
    let json = serde_json::to_string_pretty(snapshot)?;
    dir.write(SNAPSHOT_FILE, json.as_bytes())
}

/// Reads the `snapshot.json` of the session folder at `dir` (a symlink at `dir` or at the
/// file is refused, like everywhere tracer writes).
pub fn load_snapshot(dir: &Path) -> Result<Snapshot> {
    load_snapshot_from(&SessionDir::open(dir, Owner::invoking())?)
}

/// Reads a saved `snapshot.json` from an open session folder. Malformed, truncated or
/// hostile files are errors that say which file and where, never a panic.
pub fn load_snapshot_from(dir: &SessionDir) -> Result<Snapshot> {
    let bytes = dir.read(SNAPSHOT_FILE).with_context(|| {
        format!(
            "cannot read {}: is {} a tracer session folder?",
            dir.path().join(SNAPSHOT_FILE).display(),
            dir.path().display()
        )
    })?;
    parse_snapshot(&bytes).with_context(|| {
        format!(
            "{} is not a valid tracer snapshot",
            dir.path().join(SNAPSHOT_FILE).display()
        )
    })
}

/// Parses the bytes of a `snapshot.json` (or of a window's `window_NNNN.json`).
pub fn parse_snapshot(bytes: &[u8]) -> Result<Snapshot> {
    Ok(serde_json::from_slice(bytes)?)
}

/// Renders every output of the session into `dir` (snapshot.json must already be there or is
/// written by the caller). Returns the files written.
pub fn render(snapshot: &Snapshot, dir: &SessionDir) -> Result<Vec<PathBuf>> {
    render_each(snapshot, dir.path(), |rel, bytes| dir.write(rel, bytes))
}

/// Renders every output of the session, handing each file (its path relative to the folder
/// and its bytes) to `write` as soon as it is rendered. `dir` is the folder they land in: the
/// files that link others look there. [`render`] writes them; the fuzz targets keep them in
/// memory, so every renderer is fuzzed without touching the disk.
pub fn render_each(
    snapshot: &Snapshot,
    dir: &Path,
    mut write: impl FnMut(&str, &[u8]) -> Result<PathBuf>,
) -> Result<Vec<PathBuf>> {
    let mut write_all = |files: Vec<Rendered>| -> Result<Vec<PathBuf>> {
        files.iter().map(|f| write(&f.rel, &f.bytes)).collect()
    };
    let found = findings::evaluate(snapshot);
    // Each renderer's files are written as soon as they are rendered: a renderer that fails
    // leaves the files before it in place.
    let mut written = write_all(strace_table::render(snapshot))?;
    if let Some(profile) = &snapshot.profile {
        written.extend(write_all(cpu_profile::render(snapshot, profile)?)?);
    }
    written.extend(write_all(layer_folder::render(snapshot)?)?);
    // The original script's per-layer files.
    written.extend(write_all(network_files::render(snapshot, &found)?)?);
    written.extend(write_all(log_io_files::render(snapshot, &found)?)?);
    written.extend(write_all(consensus_files::render(snapshot, &found)?)?);
    written.extend(write_all(disk_files::render(snapshot))?);

    // Then what links to them: summary.json, index.html and the report last, each rendered
    // after the files it links are on disk, so every link points at a written file.
    let summary = summary::json(snapshot, &found, dir)?;
    written.extend(write_all(vec![Rendered::new(
        crate::output::layout::SUMMARY_FILE,
        summary,
    )])?);
    let page = html::page(snapshot, &found, dir);
    written.extend(write_all(vec![Rendered::new(
        crate::output::layout::INDEX_FILE,
        page,
    )])?);
    let report = report::markdown(snapshot, &found, dir);
    written.extend(write_all(vec![Rendered::new(REPORT_FILE, report)])?);
    Ok(written)
}

/// Notes shown on the terminal at the end of a run; the rest are in the report.
const TERMINAL_NOTES: usize = 5;
/// Findings shown on the terminal at the end of a run (warnings first).
const TERMINAL_FINDINGS: usize = 3;

/// What the terminal shows at the end of a run, perf-style, on one screen: one line per
/// traced process, the top findings, lost events, tracer's own cost, the first notes, and
/// where the session folder and report are. Everything else is in the report.
pub fn summary(snapshot: &Snapshot, dir: &SessionDir) -> String {
    let mut out = String::new();
    for p in &snapshot.processes {
        let rows = syscalls::table(snapshot, &[p.pid]);
        let total = syscalls::total(&rows);
        let d = syscalls::disk_figures(snapshot, &[p.pid]);
        let _ = writeln!(
            out,
            "{:<24} {:>9} syscalls  {:>7} fsync+fdatasync ({:.1}/s, mean {:.0} us)",
            p.label(),
            total.count,
            d.flushes,
            d.flushes_per_s,
            d.mean_flush_us
        );
    }
    let found = findings::evaluate(snapshot);
    let warnings: Vec<_> = findings::warnings(&found).collect();
    if !warnings.is_empty() {
        let _ = writeln!(out, "{} finding(s) over threshold:", warnings.len());
        for f in warnings.iter().take(TERMINAL_FINDINGS) {
            let _ = writeln!(out, "  {}", f.message);
        }
        if warnings.len() > TERMINAL_FINDINGS {
            let _ = writeln!(
                out,
                "  ... and {} more in the report",
                warnings.len() - TERMINAL_FINDINGS
            );
        }
    }
    out.push_str(&drops_text(snapshot));
    // The run's own cost note (user space and BPF programs) stands for the cost line, once.
    let is_cost = |n: &String| n.starts_with(COST_NOTE);
    match snapshot.notes.iter().find(|n| is_cost(n)) {
        Some(n) => {
            let _ = writeln!(out, "{n}");
        }
        None => {
            let _ = writeln!(out, "{}", self_cost_text(snapshot));
        }
    }
    let notes: Vec<&String> = snapshot.notes.iter().filter(|n| !is_cost(n)).collect();
    for n in notes.iter().take(TERMINAL_NOTES) {
        let _ = writeln!(out, "note: {n}");
    }
    if notes.len() > TERMINAL_NOTES {
        let _ = writeln!(
            out,
            "note: ... and {} more notes in the report",
            notes.len() - TERMINAL_NOTES
        );
    }
    let _ = writeln!(
        out,
        "session folder: {}{}",
        dir.path().display(),
        dir.owner().describe()
    );
    let _ = writeln!(out, "report: {}", dir.path().join(REPORT_FILE).display());
    out
}

/// How the run's note on tracer's own cost begins (session::overhead::describe).
const COST_NOTE: &str = "tracer's own cost:";

/// `tracer's cost: 0.42 s CPU (14% of one core over 3.0 s), 38 MiB resident`, or that it was
/// not measured.
fn self_cost_text(snapshot: &Snapshot) -> String {
    match &snapshot.self_cost {
        Some(c) => format!(
            "tracer's cost: {:.2} s CPU ({:.0}% of one core over {:.1} s), {} MiB resident",
            c.tracer_cpu_seconds,
            100.0 * c.tracer_cpu_seconds / snapshot.duration_s.max(1e-9),
            snapshot.duration_s,
            c.tracer_rss_bytes / (1 << 20)
        ),
        None => "tracer's cost: not measured".to_string(),
    }
}
