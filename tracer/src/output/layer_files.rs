//! The per-layer files of the original script, under its names, next to what
//! [`crate::output::layers`] already writes (`<layer>_flamegraph.svg`, `<layer>_functions.txt`
//! with the RPC / Persister latency tables, `<layer>_syscalls.txt`):
//!
//! - `01_network_layer/`: `network_perf_report.txt`, `network_hotspots.txt` (top 30),
//!   `network_shares.txt` (send/recv, getConnection, serialisation share per node);
//! - `02_log_io_layer/`: `log_io_perf_report.txt`, `write_fsync_files.txt` (files written and
//!   flushed, flush sizes), `iostat_during_test.txt`, `persister_analysis.txt`;
//! - `03_consensus_layer/`: `consensus_node{i}_flamegraph.svg` and `consensus_node{i}_report.txt`
//!   for every node, labelled leader/follower, and `consensus_hotspots.txt`;
//! - `04_disk_io_dedicated/`: `iotop_nodes.txt`, `disk_before.txt`, `disk_after.txt`.
//!
//! Layer folders come from the session's layer profile; a profile without a layer of that
//! name simply gets no such files.

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analyse::cpu::{self, FoldOptions, DEFAULT_HOTSPOTS};
use crate::analyse::findings::{self, Finding};
use crate::analyse::roles::{self, Node};
use crate::analyse::{layers, syscalls};
use crate::model::{Snapshot, StackRecord};
use crate::output::{flamegraph, strace_table};

/// Folder of layer `name` in this session (`01_network_layer`), if the profile has it.
pub fn folder(snapshot: &Snapshot, name: &str) -> Option<String> {
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

struct Writer<'a> {
    dir: &'a Path,
    written: Vec<PathBuf>,
}

impl Writer<'_> {
    fn put(&mut self, rel: &str, text: &str) -> Result<()> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        self.written.push(path);
        Ok(())
    }
}

/// Writes every file listed in the module documentation; returns them.
pub fn render(snapshot: &Snapshot, found: &[Finding], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut w = Writer {
        dir,
        written: Vec::new(),
    };
    let nodes = roles::nodes(snapshot);
    if let Some(f) = folder(snapshot, "network") {
        if let Some(p) = &snapshot.profile {
            let stacks: Vec<&StackRecord> = layers::stacks_in_layer(snapshot, "network").collect();
            let costs = cpu::symbol_costs(stacks.iter().copied());
            w.put(
                &format!("{f}/network_perf_report.txt"),
                &cpu::perf_report(&costs, p.freq_hz),
            )?;
            w.put(
                &format!("{f}/network_hotspots.txt"),
                &cpu::hotspots(&costs, DEFAULT_HOTSPOTS),
            )?;
        }
        w.put(
            &format!("{f}/network_shares.txt"),
            &findings_text(
                snapshot,
                found,
                &[
                    "network.send_recv_share",
                    "network.get_connection_share",
                    "network.serialize_share",
                ],
            ),
        )?;
    }
    if let Some(f) = folder(snapshot, "log_io") {
        if let Some(p) = &snapshot.profile {
            let costs = cpu::symbol_costs(layers::stacks_in_layer(snapshot, "log_io"));
            w.put(
                &format!("{f}/log_io_perf_report.txt"),
                &cpu::perf_report(&costs, p.freq_hz),
            )?;
        }
        w.put(
            &format!("{f}/write_fsync_files.txt"),
            &write_fsync_text(snapshot, &nodes),
        )?;
        w.put(
            &format!("{f}/iostat_during_test.txt"),
            &iostat_text(snapshot),
        )?;
        w.put(
            &format!("{f}/persister_analysis.txt"),
            &persister_text(snapshot, &nodes, found),
        )?;
    }
    if let Some(f) = folder(snapshot, "consensus") {
        for n in &nodes {
            let (svg, report) = consensus_node_files(&f, n);
            if snapshot.profile.is_some() {
                let lines = cpu::folded(
                    layers::stacks_in_layer(snapshot, "consensus").filter(|s| s.pid == n.pid),
                    &FoldOptions {
                        node_label: None,
                        group_thread_digits: true,
                    },
                );
                let title = format!("{} — consensus layer, {}", n.title(), n.role);
                w.put(
                    &svg,
                    &flamegraph::svg(&lines, &title, Some(&role_line(snapshot, n)))?,
                )?;
            }
            w.put(&report, &consensus_node_report(snapshot, n, found))?;
        }
        w.put(
            &format!("{f}/consensus_hotspots.txt"),
            &consensus_hotspots(snapshot, &nodes, found),
        )?;
    }
    let disk =
        folder(snapshot, "disk").unwrap_or_else(|| crate::output::session_folder::DISK_DIR.into());
    w.put(
        &format!("{disk}/iotop_nodes.txt"),
        &iotop_text(snapshot, &nodes),
    )?;
    w.put(
        &format!("{disk}/disk_before.txt"),
        &du_text(snapshot, &nodes, true),
    )?;
    w.put(
        &format!("{disk}/disk_after.txt"),
        &du_text(snapshot, &nodes, false),
    )?;
    Ok(w.written)
}

fn node_name(nodes: &[Node], pid: Option<u32>) -> String {
    match pid {
        None => "all".into(),
        Some(pid) => nodes
            .iter()
            .find(|n| n.pid == pid)
            .map_or_else(|| format!("pid {pid}"), Node::title),
    }
}

/// The findings with these ids, one block per finding: message, then how it was measured.
pub fn findings_text(snapshot: &Snapshot, found: &[Finding], ids: &[&str]) -> String {
    let nodes = roles::nodes(snapshot);
    let mut out = String::new();
    for id in ids {
        for f in found.iter().filter(|f| f.id == *id) {
            let subject = f
                .subject
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "[{}] {}{subject}: {}\n        {}",
                f.status.as_str(),
                node_name(&nodes, f.node),
                f.message,
                f.detail
            );
        }
    }
    out
}

/// `leader 0.0–15.0 s; heartbeat 20.0/s`, or why roles are unknown.
fn role_line(snapshot: &Snapshot, n: &Node) -> String {
    match roles::of(snapshot, n.pid) {
        Some(r) => {
            let mut s = format!("role: {}", roles::timeline_text(r));
            if let Some(hz) = r.heartbeat_per_s {
                let _ = write!(s, "; heartbeat {hz:.1}/s");
            }
            s
        }
        None => "role: unknown (no role data in this session)".into(),
    }
}

fn consensus_node_report(snapshot: &Snapshot, n: &Node, found: &[Finding]) -> String {
    let mut out = format!(
        "# {} — consensus layer ({})\n# {}\n\n",
        n.title(),
        n.role,
        role_line(snapshot, n)
    );
    let share = layers::cpu_share(snapshot, "consensus", &[n.pid]);
    let _ = writeln!(
        out,
        "consensus layer: {:.1}% of this node's on-CPU samples ({} of {})\n",
        share.pct, share.samples, share.total
    );
    out.push_str("## Findings\n");
    out.push_str(&findings_text(
        snapshot,
        &found
            .iter()
            .filter(|f| f.node == Some(n.pid))
            .cloned()
            .collect::<Vec<_>>(),
        &[
            "consensus.lock_share",
            "consensus.heartbeat_share",
            "consensus.heartbeat_rate",
            "consensus.applier_share",
        ],
    ));
    out.push_str("\n## Probed consensus functions\n");
    for f in layers::functions_in_layer(snapshot, "consensus").filter(|f| f.pid == n.pid) {
        let _ = writeln!(
            out,
            "{:>10} calls  p50 {:>9.1} us  p99 {:>9.1} us  {}",
            f.entries,
            f.latency.quantile_ns(0.5) / 1e3,
            f.latency.quantile_ns(0.99) / 1e3,
            f.function
        );
    }
    if let Some(p) = &snapshot.profile {
        let costs = cpu::symbol_costs(
            layers::stacks_in_layer(snapshot, "consensus").filter(|s| s.pid == n.pid),
        );
        out.push_str("\n## perf report of the consensus-layer samples\n");
        out.push_str(&cpu::perf_report(&costs, p.freq_hz));
    }
    out
}

/// Top functions of the consensus layer per node, and the functions whose share differs most
/// between leaders and followers.
fn consensus_hotspots(snapshot: &Snapshot, nodes: &[Node], found: &[Finding]) -> String {
    let mut out = String::from("# Consensus layer hotspots, per node\n\n");
    for n in nodes {
        let costs = cpu::symbol_costs(
            layers::stacks_in_layer(snapshot, "consensus").filter(|s| s.pid == n.pid),
        );
        let _ = writeln!(out, "== {} ==", n.title());
        out.push_str(&cpu::hotspots(&costs, 15));
        out.push('\n');
    }
    out.push_str("# Leader vs follower: share of the node's on-CPU samples\n\n");
    out.push_str(&leader_follower_diff(snapshot, nodes, 20));
    out.push_str("\n# Heartbeat frequency\n\n");
    out.push_str(&findings_text(
        snapshot,
        found,
        &["consensus.heartbeat_rate"],
    ));
    out
}

/// Functions by |leader share − follower share| (children %, all samples of the nodes of
/// each role, the role each node held longest), biggest differences first.
pub fn leader_follower_diff(snapshot: &Snapshot, nodes: &[Node], n: usize) -> String {
    let Some(p) = &snapshot.profile else {
        return "(no stack samples)\n".into();
    };
    let pids = |role: &str| -> Vec<u32> {
        nodes
            .iter()
            .filter(|x| x.role == role)
            .map(|x| x.pid)
            .collect()
    };
    let (lp, fp) = (pids(roles::LEADER), pids(roles::FOLLOWER));
    if lp.is_empty() || fp.is_empty() {
        return "(needs at least one leader and one follower with role data)\n".into();
    }
    let costs = |pids: &[u32]| cpu::symbol_costs(p.stacks.iter().filter(|s| pids.contains(&s.pid)));
    let (lc, fc) = (costs(&lp), costs(&fp));
    let pct = |c: &cpu::SymbolCosts, sym: &str| {
        c.symbols
            .iter()
            .find(|s| s.symbol == sym)
            .map_or(0.0, |s| s.total_pct)
    };
    let mut syms: Vec<&str> = lc
        .symbols
        .iter()
        .chain(&fc.symbols)
        .map(|s| s.symbol.as_str())
        .collect();
    syms.sort();
    syms.dedup();
    let mut rows: Vec<(f64, f64, &str)> = syms
        .into_iter()
        .map(|s| (pct(&lc, s), pct(&fc, s), s))
        .collect();
    rows.sort_by(|a, b| {
        (b.0 - b.1)
            .abs()
            .total_cmp(&(a.0 - a.1).abs())
            .then(a.2.cmp(b.2))
    });
    let mut out = format!(
        "{:>9} {:>9} {:>9}  function   (leader samples {}, follower samples {})\n",
        "leader%", "follower%", "diff", lc.samples, fc.samples
    );
    for (l, f, s) in rows.into_iter().take(n) {
        let _ = writeln!(out, "{l:>8.1}% {f:>8.1}% {:>+8.1}%  {s}", l - f);
    }
    out
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
            "\n{} (pid {}): {} calls, p50 {:.1} us, p99 {:.1} us",
            l.function,
            l.pid,
            l.entries,
            l.latency.quantile_ns(0.5) / 1e3,
            l.latency.quantile_ns(0.99) / 1e3
        );
    }
    out
}

/// Per-process I/O (what iotop shows), from /proc/PID/io deltas.
pub fn iotop_text(snapshot: &Snapshot, nodes: &[Node]) -> String {
    let Some(disk) = snapshot.disk.as_ref().filter(|d| !d.processes.is_empty()) else {
        return "no per-process I/O in this session (disk report not collected)\n".into();
    };
    let d = snapshot.duration_s.max(1e-9);
    let mut out = format!(
        "# per-process I/O over the run ({:.1} s), /proc/PID/io deltas\n",
        d
    );
    let _ = writeln!(
        out,
        "{:<36} {:>14} {:>14} {:>12} {:>14} {:>14}",
        "node", "disk read B", "disk write B", "write KB/s", "rchar", "wchar"
    );
    for p in &disk.processes {
        let _ = writeln!(
            out,
            "{:<36} {:>14} {:>14} {:>12.1} {:>14} {:>14}",
            node_name(nodes, Some(p.pid)),
            p.read_bytes,
            p.write_bytes,
            p.write_bytes as f64 / 1024.0 / d,
            p.rchar,
            p.wchar
        );
    }
    out
}

/// `du` of the data dirs before or after the run.
pub fn du_text(snapshot: &Snapshot, nodes: &[Node], before: bool) -> String {
    let Some(disk) = snapshot.disk.as_ref().filter(|d| !d.data_dirs.is_empty()) else {
        return "no data directories recorded in this session\n".into();
    };
    let mut out = format!(
        "# disk usage of the data dirs {} the run (bytes)\n",
        if before { "before" } else { "after" }
    );
    for dd in &disk.data_dirs {
        let v = if before {
            dd.bytes_before
                .map_or("- (found during the run)".into(), |b| b.to_string())
        } else {
            dd.bytes_after.to_string()
        };
        let _ = writeln!(
            out,
            "{v:>14}  {}  ({})",
            dd.path,
            node_name(nodes, Some(dd.pid))
        );
    }
    out
}
