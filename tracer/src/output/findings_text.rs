//! The findings as plain text blocks, one per finding: status, node, message, then how it was
//! measured. `network_shares.txt` is only this; the Persister and consensus files embed it.

use std::fmt::Write as _;

use crate::analyse::findings::Finding;
use crate::analyse::roles::{self, Node};
use crate::model::Snapshot;

/// `node 0 (leader, pid 12)`-style name of a node, `all` for run-wide figures.
pub fn node_name(nodes: &[Node], pid: Option<u32>) -> String {
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
