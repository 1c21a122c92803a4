//! The files every layer's folder gets (`01_network_layer/` ...), whatever the layer:
//! `<layer>_functions.txt` (the latency of its probed functions per node),
//! `<layer>_flamegraph.svg` and `<layer>.folded` (only the samples taken inside the layer), and
//! `<layer>_syscalls.txt` (the syscalls made inside it). The original script's extra files of
//! particular layers are in `network_files`, `log_io_files`, `consensus_files` and
//! `disk_files`.

use anyhow::Result;
use std::fmt::Write as _;

use crate::analyse::cpu::{self, FoldOptions};
use crate::analyse::layers;
use crate::model::{LayerInfo, Snapshot};
use crate::output::flamegraph;
use crate::output::layout::Rendered;

fn us(ns: f64) -> String {
    if ns >= 10_000.0 {
        format!("{:.0}", ns / 1e3)
    } else {
        format!("{:.1}", ns / 1e3)
    }
}

/// The function latency table of one layer: per node and function, calls and percentiles.
pub fn functions_table(snapshot: &Snapshot, layer: &LayerInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}  {:<20} function",
        "node",
        "calls",
        "returned",
        "p50(us)",
        "p90(us)",
        "p99(us)",
        "max(us)",
        "no-return",
        "object"
    );
    let mut rows: Vec<_> = layers::functions_in_layer(snapshot, &layer.name).collect();
    rows.sort_by(|a, b| a.pid.cmp(&b.pid).then(b.entries.cmp(&a.entries)));
    for f in rows {
        let node = snapshot
            .processes
            .iter()
            .find(|p| p.pid == f.pid)
            .map(|p| p.label())
            .unwrap_or_else(|| f.pid.to_string());
        let l = &f.latency;
        let (p50, p90, p99, max) = if f.returns == 0 {
            ("-".into(), "-".into(), "-".into(), "-".into())
        } else {
            (
                us(l.quantile_ns(0.5)),
                us(l.quantile_ns(0.9)),
                us(l.quantile_ns(0.99)),
                us(l.max_ns as f64),
            )
        };
        let _ = writeln!(
            out,
            "{node:<22} {:>9} {:>9} {p50:>9} {p90:>9} {p99:>9} {max:>9} {:>10}  {:<20} {}",
            f.entries,
            f.returns,
            f.entries.saturating_sub(f.returns),
            f.object_name(),
            f.function
        );
    }
    out.push_str(
        "\nno-return: calls still running at the end or that never return (ticker loops, \
         fibers); they are counted without a latency. Percentiles come from log2 buckets.\n\
         object: the executable or shared library the function was found in.\n",
    );
    out
}

/// Syscalls made inside the layer, per node.
pub fn syscalls_table(snapshot: &Snapshot, layer: &LayerInfo) -> String {
    let mut out = String::new();
    for p in &snapshot.processes {
        let rows = layers::syscalls_in_layer(snapshot, &layer.name, &[p.pid]);
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "== {} ==", p.label());
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>12} {:>10} {:>12}",
            "syscall", "calls", "total_ms", "mean_us", "bytes"
        );
        for (name, s) in rows {
            let _ = writeln!(
                out,
                "{name:<18} {:>9} {:>12.3} {:>10.1} {:>12}",
                s.count,
                s.total_ns as f64 / 1e6,
                s.mean_ns() / 1e3,
                s.bytes
            );
        }
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str(
            "(no syscalls attributed: attribution of syscalls needs uprobes on the layer's \
             functions)\n",
        );
    }
    out
}

/// Every layer's files, layer by layer.
pub fn render(snapshot: &Snapshot) -> Result<Vec<Rendered>> {
    let mut out = Vec::new();
    for layer in &snapshot.layers {
        let file = |name: String| format!("{}/{name}", layer.folder);
        if !layer.functions.is_empty() {
            out.push(Rendered::new(
                file(format!("{}_functions.txt", layer.name)),
                functions_table(snapshot, layer),
            ));
            if snapshot.profile.is_some() {
                let lines = folded(snapshot, layer);
                let share = layers::cpu_share(snapshot, &layer.name, &[]);
                let subtitle = format!(
                    "{:.1}% of on-CPU samples ({} of {}; {} by uprobe attribution, {} by stack membership)",
                    share.pct, share.samples, share.total, share.by_probe, share.by_stack
                );
                let title = format!("{} layer — on-CPU samples inside it", layer.title);
                out.push(Rendered::new(
                    file(format!("{}_flamegraph.svg", layer.name)),
                    flamegraph::svg(&lines, &title, Some(&subtitle))?,
                ));
                out.push(Rendered::new(
                    file(format!("{}.folded", layer.name)),
                    flamegraph::folded_text(&lines),
                ));
            }
        }
        out.push(Rendered::new(
            file(format!("{}_syscalls.txt", layer.name)),
            syscalls_table(snapshot, layer),
        ));
    }
    Ok(out)
}

/// The layer's samples, every node under its own root frame.
fn folded(snapshot: &Snapshot, layer: &LayerInfo) -> Vec<String> {
    let mut lines = Vec::new();
    for p in &snapshot.processes {
        let opts = FoldOptions {
            node_label: Some(format!("{} (pid {})", p.comm, p.pid)),
            group_thread_digits: true,
        };
        lines.extend(cpu::folded(
            layers::stacks_in_layer(snapshot, &layer.name).filter(|s| s.pid == p.pid),
            &opts,
        ));
    }
    lines.sort();
    lines
}
