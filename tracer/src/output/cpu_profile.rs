//! The CPU-profile files of a session (`cpu_profile/`): per node a folded stack file, an SVG
//! flamegraph, a `perf report`-like text and the top-30 hotspots; the same for all nodes
//! together; how complete the stacks are; the pprof export; the off-CPU flamegraph.

use anyhow::Result;
use std::fmt::Write as _;

use crate::analyse::cpu::{self, FoldOptions, DEFAULT_HOTSPOTS};
use crate::model::{CpuProfile, ProcessInfo, Snapshot, StackRecord};
use crate::output::layout::{node_files, Rendered, CPU_DIR, OFFCPU_FOLDED, OFFCPU_SVG};
use crate::output::{flamegraph, pprof};

/// Title of a node's flamegraph: who it is, so a screenshot stands on its own.
pub fn node_title(p: &ProcessInfo) -> String {
    format!("{} (pid {}) — on-CPU", p.comm, p.pid)
}

fn stacks_of(profile: &CpuProfile, pid: u32) -> impl Iterator<Item = &StackRecord> {
    profile.stacks.iter().filter(move |s| s.pid == pid)
}

/// Every CPU output of the session, in the order they are written.
pub fn render(snapshot: &Snapshot, profile: &CpuProfile) -> Result<Vec<Rendered>> {
    let mut out = Vec::new();
    let fold = FoldOptions {
        node_label: None,
        group_thread_digits: true,
    };
    for p in &snapshot.processes {
        let files = node_files(p);
        let lines = cpu::folded(stacks_of(profile, p.pid), &fold);
        out.push(Rendered::new(files.folded, flamegraph::folded_text(&lines)));
        let samples: u64 = stacks_of(profile, p.pid).map(|s| s.count).sum();
        let subtitle = format!("{samples} samples at {} Hz", profile.freq_hz);
        let svg = flamegraph::svg(&lines, &node_title(p), Some(&subtitle))?;
        out.push(Rendered::new(files.svg, svg));
        let costs = cpu::symbol_costs(stacks_of(profile, p.pid));
        out.push(Rendered::new(
            files.report,
            cpu::perf_report(&costs, profile.freq_hz),
        ));
        out.push(Rendered::new(
            files.hotspots,
            cpu::hotspots(&costs, DEFAULT_HOTSPOTS),
        ));
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
    out.push(Rendered::new(
        format!("{CPU_DIR}/all_nodes.folded"),
        flamegraph::folded_text(&all),
    ));
    let svg = flamegraph::svg(&all, "all traced nodes — on-CPU", None)?;
    out.push(Rendered::new(
        format!("{CPU_DIR}/all_nodes_flamegraph.svg"),
        svg,
    ));
    out.push(Rendered::new(
        format!("{CPU_DIR}/stack_quality.txt"),
        stack_quality(snapshot, profile),
    ));
    out.push(Rendered::new(
        format!("{CPU_DIR}/{}", pprof::FILE_NAME),
        pprof::encode(snapshot)?,
    ));
    if !snapshot.offcpu.is_empty() {
        let lines = offcpu_folded(snapshot);
        out.push(Rendered::new(
            format!("{CPU_DIR}/{OFFCPU_FOLDED}"),
            flamegraph::folded_text(&lines),
        ));
        let svg = flamegraph::svg(
            &lines,
            "all traced nodes — off-CPU (blocked) time",
            Some(
                "widths are microseconds blocked; the frame under the thread says why (futex \
                 wait = mutex, wait_bitset = condition variable, or the syscall)",
            ),
        )?;
        out.push(Rendered::new(format!("{CPU_DIR}/{OFFCPU_SVG}"), svg));
    }
    Ok(out)
}

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
        "truncated user stacks: {:.1}% ({} of {} samples): the frame-pointer chain broke, so \
         callers are missing",
        t.truncated_pct, t.truncated_samples, t.samples
    );
    for b in t.broke_in.iter().take(5) {
        let why = if b.object == "?" {
            "an object not recorded (a session saved before tracer named it)".to_string()
        } else if b.system {
            format!(
                "{}, a system library built without frame pointers: nothing to rebuild",
                b.object
            )
        } else {
            format!(
                "{} (built with -fomit-frame-pointer? rebuild it with -fno-omit-frame-pointer)",
                b.object
            )
        };
        let _ = writeln!(
            out,
            "    {:>8} samples: the chain broke in {why}",
            b.samples
        );
    }
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
