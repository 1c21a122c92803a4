//! Per-layer outputs, in the layer's folder (`01_network_layer/` ...): a flamegraph of only the
//! samples taken inside the layer, the latency of its probed functions per node, and the
//! syscalls made inside it.

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analyse::cpu::{self, FoldOptions};
use crate::analyse::layers;
use crate::model::{LayerInfo, Snapshot};
use crate::output::flamegraph;

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
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}  function",
        "node", "calls", "returned", "p50(us)", "p90(us)", "p99(us)", "max(us)", "no-return"
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
            "{node:<22} {:>9} {:>9} {p50:>9} {p90:>9} {p99:>9} {max:>9} {:>10}  {}",
            f.entries,
            f.returns,
            f.entries.saturating_sub(f.returns),
            f.function
        );
    }
    out.push_str(
        "\nno-return: calls still running at the end or that never return (ticker loops, \
         fibers); they are counted without a latency. Percentiles come from log2 buckets.\n",
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

/// Writes every layer's files; returns them.
pub fn render(snapshot: &Snapshot, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for layer in &snapshot.layers {
        let folder = dir.join(&layer.folder);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        let mut put = |name: String, text: String| -> Result<()> {
            let path = folder.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
            Ok(())
        };
        if !layer.functions.is_empty() {
            put(
                format!("{}_functions.txt", layer.name),
                functions_table(snapshot, layer),
            )?;
            if snapshot.profile.is_some() {
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
                let share = layers::cpu_share(snapshot, &layer.name, &[]);
                let subtitle = format!(
                    "{:.1}% of on-CPU samples ({} of {}; {} by uprobe attribution, {} by stack membership)",
                    share.pct, share.samples, share.total, share.by_probe, share.by_stack
                );
                let title = format!("{} layer — on-CPU samples inside it", layer.title);
                put(
                    format!("{}_flamegraph.svg", layer.name),
                    flamegraph::svg(&lines, &title, Some(&subtitle))?,
                )?;
                put(
                    format!("{}.folded", layer.name),
                    flamegraph::folded_text(&lines),
                )?;
            }
        }
        put(
            format!("{}_syscalls.txt", layer.name),
            syscalls_table(snapshot, layer),
        )?;
    }
    Ok(written)
}

/// The report's layer section.
pub fn report_section(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    if snapshot.layers.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n## Layers\n\nAttribution: {} (a sample or syscall belongs to the layer of the \
         thread's innermost active layer function).\n",
        if snapshot.attribution == "uprobes" {
            "uprobes on the layer functions, stack membership for samples outside them"
        } else {
            "stack membership only (uprobes off): syscalls are not attributed"
        }
    );
    let _ = writeln!(out, "| layer | on-CPU share | syscalls inside | files |");
    let _ = writeln!(out, "|---|---:|---|---|");
    for l in &snapshot.layers {
        let share = layers::cpu_share(snapshot, &l.name, &[]);
        let sys: Vec<String> = layers::syscalls_in_layer(snapshot, &l.name, &[])
            .into_iter()
            .take(4)
            .map(|(n, s)| format!("{n} {} ({:.1} ms)", s.count, s.total_ns as f64 / 1e6))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {:.1}% | {} | [{}/]({}/) |",
            l.title,
            share.pct,
            if sys.is_empty() {
                "-".into()
            } else {
                sys.join(", ")
            },
            l.folder,
            l.folder
        );
    }
    out
}
