//! The session folder: the shape users of the original `targeted_perf_test.sh` know
//! (`04_disk_io_dedicated/strace_*.txt`, `TARGETED_PERF_ANALYSIS_REPORT.md`), plus
//! `snapshot.json`, from which `tracer report DIR` re-renders everything.

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analyse::findings;
use crate::analyse::syscalls;
use crate::model::{ProcessInfo, Snapshot};
use crate::output::{cpu_profile, html, layer_files, layers, report, strace_table, summary};

pub const SNAPSHOT_FILE: &str = "snapshot.json";
pub const DISK_DIR: &str = "04_disk_io_dedicated";
pub const REPORT_FILE: &str = "TARGETED_PERF_ANALYSIS_REPORT.md";

/// Name of a process's syscall table file.
pub fn strace_file(p: &ProcessInfo) -> String {
    format!("strace_{}.txt", p.label())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Writes `snapshot.json`. Done first, so the data survives whatever happens to rendering.
pub fn save_snapshot(snapshot: &Snapshot, dir: &Path) -> Result<PathBuf> {
    let path = dir.join(SNAPSHOT_FILE);
    let json = serde_json::to_string_pretty(snapshot)?;
    write(&path, &json)?;
    Ok(path)
}

/// Reads a saved `snapshot.json`.
pub fn load_snapshot(dir: &Path) -> Result<Snapshot> {
    let path = dir.join(SNAPSHOT_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: is {} a tracer session folder?",
            path.display(),
            dir.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// The full text file of one set of processes: classic table, extended table, files, figures.
fn syscall_report(snapshot: &Snapshot, title: &str, pids: &[u32]) -> String {
    let rows = syscalls::table(snapshot, pids);
    let mut out = String::new();
    let _ = writeln!(out, "# {title}");
    let _ = writeln!(
        out,
        "# traced {:.1} s from {}; syscall latency is enter-to-exit wall time\n",
        snapshot.duration_s, snapshot.started_at
    );
    out.push_str(&strace_table::classic(&rows));
    out.push_str("\n## Latency, bytes, socket vs file\n\n");
    out.push_str(&strace_table::extended(&rows));
    out.push_str("\n## Files written and flushed\n\n");
    out.push_str(&strace_table::files(&syscalls::files(snapshot, pids)));
    out.push_str("\n## Disk figures\n\n");
    out.push_str(&strace_table::disk_figures(&syscalls::disk_figures(
        snapshot, pids,
    )));
    out
}

/// Renders every output of the session into `dir` (snapshot.json must already be there or is
/// written by the caller). Returns the files written.
pub fn render(snapshot: &Snapshot, dir: &Path) -> Result<Vec<PathBuf>> {
    let disk = dir.join(DISK_DIR);
    std::fs::create_dir_all(&disk).with_context(|| format!("creating {}", disk.display()))?;
    let mut written = Vec::new();

    for p in &snapshot.processes {
        let title = format!("syscalls of {} (pid {})", p.comm, p.pid);
        let path = disk.join(strace_file(p));
        write(&path, &syscall_report(snapshot, &title, &[p.pid]))?;
        written.push(path);
    }
    let all: Vec<u32> = snapshot.processes.iter().map(|p| p.pid).collect();
    if snapshot.processes.len() > 1 {
        let path = disk.join("strace_all.txt");
        write(
            &path,
            &syscall_report(snapshot, "syscalls of all traced processes", &all),
        )?;
        written.push(path);
    }

    let analysis = disk.join("syscall_analysis.txt");
    write(&analysis, &analysis_text(snapshot))?;
    written.push(analysis);

    if let Some(profile) = &snapshot.profile {
        written.extend(cpu_profile::render(snapshot, profile, dir)?);
    }
    written.extend(layers::render(snapshot, dir)?);

    // Findings, the original script's per-layer files, then what links to them: summary.json,
    // index.html and the report last, so every link they hold points at a written file.
    let found = findings::evaluate(snapshot);
    written.extend(layer_files::render(snapshot, &found, dir)?);
    let summary_path = dir.join(report::SUMMARY_FILE);
    write(&summary_path, &summary::json(snapshot, &found, dir)?)?;
    written.push(summary_path);
    let index = dir.join(report::INDEX_FILE);
    write(&index, &html::page(snapshot, &found, dir))?;
    written.push(index);
    let report_path = dir.join(REPORT_FILE);
    write(&report_path, &report::markdown(snapshot, &found, dir))?;
    written.push(report_path);
    Ok(written)
}

/// Per-node disk figures, the notes and the drop counters.
fn analysis_text(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    for p in &snapshot.processes {
        let _ = writeln!(out, "== {} (pid {}) ==", p.comm, p.pid);
        out.push_str(&strace_table::disk_figures(&syscalls::disk_figures(
            snapshot,
            &[p.pid],
        )));
        out.push('\n');
    }
    out.push_str(&drops_text(snapshot));
    out
}

/// The lost-event counters, always shown, zero or not.
pub fn drops_text(snapshot: &Snapshot) -> String {
    let total: u64 = snapshot.drops.values().sum();
    let mut out = format!("lost events: {total}");
    if total > 0 {
        let parts: Vec<String> = snapshot
            .drops
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = write!(out, " ({})", parts.join(", "));
    }
    out.push('\n');
    out
}

/// A few lines for the terminal at the end of a run.
pub fn summary(snapshot: &Snapshot, dir: &Path) -> String {
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
    out.push_str(&drops_text(snapshot));
    for n in &snapshot.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "report: {}", dir.join(REPORT_FILE).display());
    out
}
