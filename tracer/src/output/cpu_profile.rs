//! The CPU-profile files of a session (`cpu_profile/`): per node a folded stack file, an SVG
//! flamegraph, a `perf report`-like text and the top-30 hotspots; the same for all nodes
//! together; and how complete the stacks are.

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analyse::cpu::{self, FoldOptions, DEFAULT_HOTSPOTS};
use crate::model::{CpuProfile, ProcessInfo, Snapshot, StackRecord};
use crate::output::flamegraph;

pub const CPU_DIR: &str = "cpu_profile";

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

/// Title of a node's flamegraph: who it is, so a screenshot stands on its own.
pub fn node_title(p: &ProcessInfo) -> String {
    format!("{} (pid {}) — on-CPU", p.comm, p.pid)
}

fn stacks_of(profile: &CpuProfile, pid: u32) -> impl Iterator<Item = &StackRecord> {
    profile.stacks.iter().filter(move |s| s.pid == pid)
}

fn write(dir: &Path, rel: &str, text: &str, written: &mut Vec<PathBuf>) -> Result<()> {
    let path = dir.join(rel);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    Ok(())
}

/// Writes every CPU output of the session; returns the files written.
pub fn render(snapshot: &Snapshot, profile: &CpuProfile, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir.join(CPU_DIR))?;
    let mut written = Vec::new();
    let fold = FoldOptions {
        node_label: None,
        group_thread_digits: true,
    };
    for p in &snapshot.processes {
        let files = node_files(p);
        let lines = cpu::folded(stacks_of(profile, p.pid), &fold);
        write(
            dir,
            &files.folded,
            &flamegraph::folded_text(&lines),
            &mut written,
        )?;
        let samples: u64 = stacks_of(profile, p.pid).map(|s| s.count).sum();
        let subtitle = format!("{samples} samples at {} Hz", profile.freq_hz);
        let svg = flamegraph::svg(&lines, &node_title(p), Some(&subtitle))?;
        write(dir, &files.svg, &svg, &mut written)?;
        let costs = cpu::symbol_costs(stacks_of(profile, p.pid));
        write(
            dir,
            &files.report,
            &cpu::perf_report(&costs, profile.freq_hz),
            &mut written,
        )?;
        write(
            dir,
            &files.hotspots,
            &cpu::hotspots(&costs, DEFAULT_HOTSPOTS),
            &mut written,
        )?;
    }

    // All nodes in one graph, each under its own root frame.
    let mut all = Vec::new();
    for p in &snapshot.processes {
        let opts = FoldOptions {
            node_label: Some(format!("{} (pid {})", p.comm, p.pid)),
            group_thread_digits: true,
        };
        all.extend(cpu::folded(stacks_of(profile, p.pid), &opts));
    }
    all.sort();
    write(
        dir,
        &format!("{CPU_DIR}/all_nodes.folded"),
        &flamegraph::folded_text(&all),
        &mut written,
    )?;
    let svg = flamegraph::svg(&all, "all traced nodes — on-CPU", None)?;
    write(
        dir,
        &format!("{CPU_DIR}/all_nodes_flamegraph.svg"),
        &svg,
        &mut written,
    )?;
    write(
        dir,
        &format!("{CPU_DIR}/stack_quality.txt"),
        &stack_quality(snapshot, profile),
        &mut written,
    )?;
    let pprof = dir.join(CPU_DIR).join(crate::output::pprof::FILE_NAME);
    crate::output::pprof::write(snapshot, &pprof)?;
    written.push(pprof);
    if !snapshot.offcpu.is_empty() {
        let lines = offcpu_folded(snapshot);
        let folded = flamegraph::folded_text(&lines);
        write(
            dir,
            &format!("{CPU_DIR}/{OFFCPU_FOLDED}"),
            &folded,
            &mut written,
        )?;
        let svg = flamegraph::svg(
            &lines,
            "all traced nodes — off-CPU (blocked) time",
            Some(
                "widths are microseconds blocked; the frame under the thread says why (futex \
                 wait = mutex, wait_bitset = condition variable, or the syscall)",
            ),
        )?;
        write(dir, &format!("{CPU_DIR}/{OFFCPU_SVG}"), &svg, &mut written)?;
    }
    Ok(written)
}

/// Off-CPU flamegraph files, relative to `cpu_profile/`.
pub const OFFCPU_SVG: &str = "offcpu_flamegraph.svg";
pub const OFFCPU_FOLDED: &str = "offcpu.folded";

/// Folded off-CPU stacks weighted by microseconds blocked: node, thread, why, then where.
pub fn offcpu_folded(snapshot: &Snapshot) -> Vec<String> {
    let mut weights: std::collections::BTreeMap<String, u64> = Default::default();
    for o in &snapshot.offcpu {
        let node = snapshot
            .processes
            .iter()
            .find(|p| p.pid == o.pid)
            .map(|p| format!("{} (pid {})", p.comm, p.pid))
            .unwrap_or_else(|| format!("pid {}", o.pid));
        let why = match &o.futex_op {
            Some(op) => format!("[{} {op}]", o.reason),
            None => format!("[{}]", o.reason),
        };
        let mut frames = vec![node, cpu::group_digits(&o.thread), why];
        frames.extend(o.frames.iter().cloned());
        let line = frames
            .iter()
            .map(|f| cpu::sanitize_frame(f))
            .collect::<Vec<_>>()
            .join(";");
        *weights.entry(line).or_default() += o.total_ns / 1000;
    }
    weights
        .into_iter()
        .filter(|(_, us)| *us > 0)
        .map(|(l, us)| format!("{l} {us}"))
        .collect()
}

/// How complete the stacks are: lost stacks, truncated chains (and where they end), unknown
/// frames. Users of bcc and perf most distrust silently broken stacks; this says what broke.
pub fn stack_quality(snapshot: &Snapshot, profile: &CpuProfile) -> String {
    let mut out = String::new();
    let recorded: u64 = profile.stacks.iter().map(|s| s.count).sum();
    let lost = |k: &str| snapshot.drops.get(k).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "samples: {} taken at {} Hz, {recorded} recorded; stacks lost: {} (bucket collisions \
         in the stack map), {} (walk failed); samples lost: {} (sample map full)",
        profile.samples,
        profile.freq_hz,
        lost("stack_collision"),
        lost("stack_failed"),
        lost("sample_map_full"),
    );
    let t = cpu::truncation(&profile.stacks);
    let _ = writeln!(
        out,
        "truncated user stacks: {:.1}% ({} of {} samples): the frame-pointer chain broke inside \
         the traced executable (built with -fomit-frame-pointer?), so callers are missing",
        t.truncated_pct, t.truncated_samples, t.samples
    );
    for (frame, n) in t.ends_in.iter().take(5) {
        let _ = writeln!(out, "    {n:>8} samples end in {frame}");
    }
    let lib_end: u64 = profile
        .stacks
        .iter()
        .filter(|s| !s.user_truncated)
        .filter(|s| {
            s.frames
                .first()
                .is_some_and(|f| f.starts_with('[') && f.contains(".so"))
        })
        .map(|s| s.count)
        .sum();
    if lib_end > 0 {
        let _ = writeln!(
            out,
            "{lib_end} samples' stacks end in a shared library without frame pointers (libc, \
             libstdc++): every frame of the program's own code is there, the library's callers \
             (thread start) are not"
        );
    }
    let u = cpu::unknown_frames(&profile.stacks);
    let _ = writeln!(
        out,
        "samples with an [unknown] frame: {:.1}% ({} of {})",
        u.pct, u.samples_with_unknown, u.samples
    );
    out
}
