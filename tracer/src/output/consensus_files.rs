//! The original script's extra files of the consensus layer (`03_consensus_layer/`): for every
//! node, labelled leader or follower, `consensus_node{i}_flamegraph.svg` of its consensus-layer
//! samples and `consensus_node{i}_report.txt` (role over time, findings, probed functions, perf
//! report); and `consensus_hotspots.txt` (per node, and what differs between leaders and
//! followers).

use anyhow::Result;
use std::fmt::Write as _;

use crate::analyse::cpu::{self, FoldOptions};
use crate::analyse::findings::Finding;
use crate::analyse::layers;
use crate::analyse::roles::{self, Node};
use crate::model::Snapshot;
use crate::output::findings_text::findings_text;
use crate::output::flamegraph;
use crate::output::layout::{self, Rendered};

/// The files, when the profile has a `consensus` layer.
pub fn render(snapshot: &Snapshot, found: &[Finding]) -> Result<Vec<Rendered>> {
    let mut out = Vec::new();
    let Some(f) = layout::layer_folder(snapshot, "consensus") else {
        return Ok(out);
    };
    let nodes = roles::nodes(snapshot);
    for n in &nodes {
        let (svg, report) = layout::consensus_node_files(&f, n);
        if snapshot.profile.is_some() {
            let lines = cpu::folded(
                layers::stacks_in_layer(snapshot, "consensus").filter(|s| s.pid == n.pid),
                &FoldOptions {
                    node_label: None,
                    group_thread_digits: true,
                },
            );
            let title = format!("{} — consensus layer, {}", n.title(), n.role);
            out.push(Rendered::new(
                svg,
                flamegraph::svg(&lines, &title, Some(&role_line(snapshot, n)))?,
            ));
        }
        out.push(Rendered::new(
            report,
            consensus_node_report(snapshot, n, found),
        ));
    }
    out.push(Rendered::new(
        format!("{f}/consensus_hotspots.txt"),
        consensus_hotspots(snapshot, &nodes, found),
    ));
    Ok(out)
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
            "{:>10} calls  p50 {:>9.1} us  p99 {:>9.1} us  {}  (in {})",
            f.entries,
            f.latency.quantile_ns(0.5) / 1e3,
            f.latency.quantile_ns(0.99) / 1e3,
            f.function,
            f.object_name()
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
