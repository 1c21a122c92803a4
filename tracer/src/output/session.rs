//! The session folder: the shape users of the original `targeted_perf_test.sh` know
//! (`04_disk_io_dedicated/strace_*.txt`, `TARGETED_PERF_ANALYSIS_REPORT.md`), plus
//! `snapshot.json`, from which `tracer report DIR` re-renders everything.

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analyse::cpu;
use crate::analyse::syscalls;
use crate::model::{ProcessInfo, Snapshot};
use crate::output::{cpu_profile, layers, strace_table};

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

    let report = dir.join(REPORT_FILE);
    write(&report, &report_markdown(snapshot))?;
    written.push(report);
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

/// The consolidated report. This slice states the syscall and disk findings; later layers
/// add their sections.
pub fn report_markdown(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Targeted performance analysis report\n");
    let _ = writeln!(
        out,
        "Traced for {:.1} s from {} with `{}`.\n",
        snapshot.duration_s,
        snapshot.started_at,
        snapshot.invocation.join(" ")
    );
    let _ = writeln!(out, "## Nodes\n");
    let _ = writeln!(out, "| pid | comm | command | exited | syscall table |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for p in &snapshot.processes {
        let exited = match p.exited_at_s {
            Some(t) => format!("at {t:.1} s"),
            None => "no".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | [{}]({}/{}) |",
            p.pid,
            p.comm,
            p.cmdline.join(" "),
            exited,
            strace_file(p),
            DISK_DIR,
            strace_file(p)
        );
    }
    let _ = writeln!(out, "\n## Disk I/O (test 4)\n");
    let _ = writeln!(
        out,
        "| node | fsync+fdatasync | per s | mean flush | writes per flush | flush share of syscall time |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for p in &snapshot.processes {
        let d = syscalls::disk_figures(snapshot, &[p.pid]);
        let wpf = d
            .writes_per_flush
            .map(|x| format!("{x:.1}"))
            .unwrap_or_else(|| "n/a".into());
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} us | {} | {:.1}% |",
            p.label(),
            d.flushes,
            d.flushes_per_s,
            d.mean_flush_us,
            wpf,
            d.flush_time_share_pct
        );
    }
    out.push_str(&layers::report_section(snapshot));
    if let Some(profile) = &snapshot.profile {
        cpu_section(&mut out, snapshot, profile);
    }
    let _ = writeln!(out, "\n## Completeness\n");
    let _ = writeln!(out, "{}", drops_text(snapshot).trim_end());
    for n in &snapshot.notes {
        let _ = writeln!(out, "\n- {n}");
    }
    let _ = writeln!(
        out,
        "\nFull syscall tables: [{DISK_DIR}/]({DISK_DIR}/); raw data: [{SNAPSHOT_FILE}]({SNAPSHOT_FILE})."
    );
    out
}

/// On-CPU profile: per node the flamegraph and its top functions.
fn cpu_section(out: &mut String, snapshot: &Snapshot, profile: &crate::model::CpuProfile) {
    let _ = writeln!(out, "\n## On-CPU profile ({} Hz)\n", profile.freq_hz);
    for p in &snapshot.processes {
        let files = cpu_profile::node_files(p);
        let stacks = || profile.stacks.iter().filter(|s| s.pid == p.pid);
        let samples: u64 = stacks().map(|s| s.count).sum();
        let _ = writeln!(
            out,
            "### {} (pid {}): {samples} samples\n\n[flamegraph]({}) · [perf report]({}) · \
             [hotspots]({}) · [folded]({})\n",
            p.comm, p.pid, files.svg, files.report, files.hotspots, files.folded
        );
        let costs = cpu::symbol_costs(stacks());
        let _ = writeln!(out, "| function | self % | total % |");
        let _ = writeln!(out, "|---|---:|---:|");
        for c in cpu::top_by_self(&costs, 5) {
            let _ = writeln!(
                out,
                "| `{}` | {:.1} | {:.1} |",
                c.symbol.replace('|', "\\|"),
                c.self_pct,
                c.total_pct
            );
        }
    }
    let _ = writeln!(
        out,
        "\nAll nodes: [flamegraph]({0}/all_nodes_flamegraph.svg). Stack completeness: \
         [{0}/stack_quality.txt]({0}/stack_quality.txt).",
        cpu_profile::CPU_DIR
    );
    for line in cpu_profile::stack_quality(snapshot, profile).lines() {
        let _ = writeln!(out, "\n> {}", line.trim());
    }
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
