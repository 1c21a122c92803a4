//! The original script's extra files of the log & I/O layer (`02_log_io_layer/`):
//! `log_io_perf_report.txt` of the layer's samples, `write_fsync_files.txt` (files written and
//! flushed, flush sizes, per node), `iostat_during_test.txt` (`iostat -x` over the run, from
//! /proc/diskstats) and `persister_analysis.txt` (data directories, Persister files, findings).

use anyhow::Result;
use std::fmt::Write as _;

use crate::analyse::cpu;
use crate::analyse::findings::{self, Finding};
use crate::analyse::roles::{self, Node};
use crate::analyse::{layers, syscalls};
use crate::model::Snapshot;
use crate::output::findings_text::{findings_text, node_name};
use crate::output::layout::{self, Rendered};
use crate::output::strace_table;

/// The files, when the profile has a `log_io` layer.
pub fn render(snapshot: &Snapshot, found: &[Finding]) -> Result<Vec<Rendered>> {
    let mut out = Vec::new();
    let Some(f) = layout::layer_folder(snapshot, "log_io") else {
        return Ok(out);
    };
    let nodes = roles::nodes(snapshot);
    if let Some(p) = &snapshot.profile {
        let costs = cpu::symbol_costs(layers::stacks_in_layer(snapshot, "log_io"));
        out.push(Rendered::new(
            format!("{f}/log_io_perf_report.txt"),
            cpu::perf_report(&costs, p.freq_hz),
        ));
    }
    out.push(Rendered::new(
        format!("{f}/write_fsync_files.txt"),
        write_fsync_text(snapshot, &nodes),
    ));
    out.push(Rendered::new(
        format!("{f}/iostat_during_test.txt"),
        iostat_text(snapshot),
    ));
    out.push(Rendered::new(
        format!("{f}/persister_analysis.txt"),
        persister_text(snapshot, &nodes, found),
    ));
    Ok(out)
}

fn write_fsync_text(snapshot: &Snapshot, nodes: &[Node]) -> String {
    let mut out = String::new();
    for n in nodes {
        let _ = writeln!(out, "== {} ==", n.title());
        out.push_str(&strace_table::files(&syscalls::files(snapshot, &[n.pid])));
        let d = syscalls::disk_figures(snapshot, &[n.pid]);
        let _ = writeln!(
            out,
            "flushes {} ({:.1}/s); file writes {} ({} bytes); bytes per flush {}; writes per flush {}\n",
            d.flushes,
            d.flushes_per_s,
            d.file_writes,
            d.file_write_bytes,
            d.bytes_per_flush.map_or("n/a".into(), |b| format!("{b:.0}")),
            d.writes_per_flush.map_or("n/a".into(), |b| format!("{b:.1}")),
        );
    }
    out
}

/// `iostat -x` over the whole run, from /proc/diskstats deltas.
pub fn iostat_text(snapshot: &Snapshot) -> String {
    let Some(disk) = snapshot.disk.as_ref().filter(|d| !d.devices.is_empty()) else {
        return "no block-device figures in this session (disk report not collected)\n".into();
    };
    let mut out = format!(
        "# iostat -x equivalent over the run ({:.1} s), from /proc/diskstats deltas\n",
        snapshot.duration_s
    );
    let _ = writeln!(
        out,
        "{:<12} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>8} {:>9} {:>12}",
        "Device", "r/s", "w/s", "rkB/s", "wkB/s", "r_await", "w_await", "await", "%util", "flushes"
    );
    for d in &disk.devices {
        let r_await = if d.reads > 0 {
            d.read_ms as f64 / d.reads as f64
        } else {
            0.0
        };
        let w_await = if d.writes > 0 {
            d.write_ms as f64 / d.writes as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "{:<12} {:>9.2} {:>9.2} {:>10.2} {:>10.2} {:>9.2} {:>9.2} {:>8.2} {:>9.2} {:>12}",
            d.name,
            d.r_per_s(),
            d.w_per_s(),
            d.read_kb_per_s(),
            d.write_kb_per_s(),
            r_await,
            w_await,
            d.await_ms(),
            d.util_pct(),
            d.flushes
        );
    }
    let lat: Vec<_> = disk
        .devices
        .iter()
        .filter_map(|d| d.request_latency.as_ref().map(|l| (d, l)))
        .filter(|(_, l)| l.count > 0)
        .collect();
    if !lat.is_empty() {
        out.push_str("\n# block request latency (issue to completion, block tracepoints)\n");
        for (d, l) in lat {
            let _ = writeln!(
                out,
                "{:<12} {} requests  p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
                d.name,
                l.count,
                l.quantile_ns(0.5) / 1e6,
                l.quantile_ns(0.99) / 1e6,
                l.max_ns as f64 / 1e6
            );
        }
    }
    out
}

fn persister_text(snapshot: &Snapshot, nodes: &[Node], found: &[Finding]) -> String {
    let mut out = String::from("# Persister data directories\n\n");
    match snapshot.disk.as_ref().filter(|d| !d.data_dirs.is_empty()) {
        None => out.push_str("no data directories recorded in this session\n"),
        Some(d) => {
            let _ = writeln!(
                out,
                "{:<36} {:>14} {:>14} {:>12}  path",
                "node", "bytes before", "bytes after", "growth B/s"
            );
            for dd in &d.data_dirs {
                let before = dd.bytes_before.map_or("-".into(), |b| b.to_string());
                let growth = dd.bytes_before.map_or("-".into(), |b| {
                    format!(
                        "{:.0}",
                        (dd.bytes_after as f64 - b as f64) / snapshot.duration_s.max(1e-9)
                    )
                });
                let _ = writeln!(
                    out,
                    "{:<36} {before:>14} {:>14} {growth:>12}  {}",
                    node_name(nodes, Some(dd.pid)),
                    dd.bytes_after,
                    dd.path
                );
            }
        }
    }
    out.push_str("\n# Persister files (writes and flushes)\n\n");
    for n in nodes {
        for f in syscalls::files(snapshot, &[n.pid])
            .iter()
            .filter(|f| findings::is_persister_file(snapshot, n.pid, &f.path))
        {
            let w = f.writes();
            let _ = writeln!(
                out,
                "{}: {} writes ({} bytes), {} flushes  {}",
                n.name(),
                w.count,
                w.bytes,
                f.flushes().count,
                f.path
            );
        }
    }
    out.push_str("\n# Findings\n\n");
    out.push_str(&findings_text(
        snapshot,
        found,
        &["log_io.data_growth", "durability.unflushed_writes"],
    ));
    for l in layers::functions_in_layer(snapshot, "log_io") {
        let _ = writeln!(
            out,
            "\n{} (pid {}, in {}): {} calls, p50 {:.1} us, p99 {:.1} us",
            l.function,
            l.pid,
            l.object_name(),
            l.entries,
            l.latency.quantile_ns(0.5) / 1e3,
            l.latency.quantile_ns(0.99) / 1e3
        );
    }
    out
}
