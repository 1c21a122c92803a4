//! Nodes and their roles: which traced processes are Raft nodes, their index (`node0`,
//! `node1`, ... in pid order, the numbering of the original script's `consensus_node{i}`
//! files), and what `snapshot.roles` says about each: leader or follower, role changes, and
//! the heartbeat frequency while leader.
//!
//! Pure helpers over the snapshot; every renderer labels nodes through [`nodes`] so a node is
//! called the same in the report, summary.json, the layer files and index.html.

use serde::Serialize;

use crate::model::{NodeRoles, ProcessInfo, Snapshot};

pub const LEADER: &str = "leader";
pub const FOLLOWER: &str = "follower";

/// A traced process that did something (syscalls or CPU samples), with its place in the run.
#[derive(Clone, Debug, Serialize)]
pub struct Node<'a> {
    /// Position in pid order among the active processes: `node{index}`.
    pub index: usize,
    pub pid: u32,
    #[serde(skip)]
    pub process: &'a ProcessInfo,
    /// The role the node held longest (`leader`, `follower`), or `unknown` without role data.
    pub role: String,
    /// Seconds the node could have run: until it exited, else the whole run.
    pub lifetime_s: f64,
}

impl Node<'_> {
    /// `node0`, `node1`, ...
    pub fn name(&self) -> String {
        format!("node{}", self.index)
    }

    /// `node0 (pid 1234, leader)`: how tables and titles name a node; `node0 (h1/pid 1234,
    /// leader)` in a cluster session merged from several hosts.
    pub fn title(&self) -> String {
        let host = &self.process.host;
        let at = if host.is_empty() {
            String::new()
        } else {
            format!("{host}/")
        };
        format!("node{} ({at}pid {}, {})", self.index, self.pid, self.role)
    }
}

/// The processes that are nodes: those with at least one syscall or CPU sample, in pid order
/// (host, then pid, in a cluster session merged from several hosts).
/// A launcher parent that only waits for its children (`raftCoreRun` forking every node) has
/// no activity of its own and would only add empty rows; it is left out.
pub fn nodes(snapshot: &Snapshot) -> Vec<Node<'_>> {
    let mut procs: Vec<&ProcessInfo> = snapshot
        .processes
        .iter()
        .filter(|p| is_active(snapshot, p.pid))
        .collect();
    if procs.is_empty() {
        // Nothing recorded at all: still name every process, so reports are not empty.
        procs = snapshot.processes.iter().collect();
    }
    procs.sort_by(|a, b| (&a.host, a.pid).cmp(&(&b.host, b.pid)));
    procs
        .into_iter()
        .enumerate()
        .map(|(index, p)| Node {
            index,
            pid: p.pid,
            process: p,
            role: dominant_role(snapshot, p.pid).unwrap_or_else(|| "unknown".into()),
            lifetime_s: p
                .exited_at_s
                .unwrap_or(snapshot.duration_s)
                .min(snapshot.duration_s),
        })
        .collect()
}

fn is_active(snapshot: &Snapshot, pid: u32) -> bool {
    snapshot
        .syscalls
        .iter()
        .any(|r| r.pid == pid && r.stats.count > 0)
        || snapshot
            .profile
            .as_ref()
            .is_some_and(|p| p.stacks.iter().any(|s| s.pid == pid && s.count > 0))
}

/// The role record of `pid`, if roles were detected.
pub fn of(snapshot: &Snapshot, pid: u32) -> Option<&NodeRoles> {
    snapshot.roles.iter().find(|r| r.pid == pid)
}

/// Seconds spent in `role` by a node.
pub fn time_in(roles: &NodeRoles, role: &str) -> f64 {
    roles
        .spans
        .iter()
        .filter(|s| s.role == role)
        .map(|s| (s.to_s - s.from_s).max(0.0))
        .sum()
}

/// The role a node held for the most time (ties go to `leader`: a node that led half the run
/// is worth labelling so).
pub fn dominant_role(snapshot: &Snapshot, pid: u32) -> Option<String> {
    let r = of(snapshot, pid)?;
    let mut best: Option<(&str, f64)> = None;
    for s in &r.spans {
        let t = time_in(r, &s.role);
        let better = match best {
            None => true,
            Some((role, bt)) => t > bt || (t == bt && s.role == LEADER && role != LEADER),
        };
        if better {
            best = Some((&s.role, t));
        }
    }
    best.map(|(role, _)| role.to_string())
}

/// Whether the node was leader at any time of the run.
pub fn was_leader(roles: &NodeRoles) -> bool {
    roles.spans.iter().any(|s| s.role == LEADER)
}

/// One change of role.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoleChange {
    pub pid: u32,
    pub at_s: f64,
    pub from: String,
    pub to: String,
}

/// The role changes of one node, in time order (adjacent spans of the same role are not one).
pub fn changes(roles: &NodeRoles) -> Vec<RoleChange> {
    roles
        .spans
        .windows(2)
        .filter(|w| w[0].role != w[1].role)
        .map(|w| RoleChange {
            pid: roles.pid,
            at_s: w[1].from_s,
            from: w[0].role.clone(),
            to: w[1].role.clone(),
        })
        .collect()
}

/// Every role change of the run, in time order.
pub fn all_changes(snapshot: &Snapshot) -> Vec<RoleChange> {
    let mut v: Vec<RoleChange> = snapshot.roles.iter().flat_map(changes).collect();
    v.sort_by(|a, b| a.at_s.total_cmp(&b.at_s).then(a.pid.cmp(&b.pid)));
    v
}

/// The spans of a node as text: `follower 0.0–3.2 s, leader 3.2–15.0 s`; `(inferred)` after a
/// role told from stacks rather than probes.
pub fn timeline_text(roles: &NodeRoles) -> String {
    let spans = roles
        .spans
        .iter()
        .map(|s| format!("{} {:.1}–{:.1} s", s.role, s.from_s, s.to_s))
        .collect::<Vec<_>>()
        .join(", ");
    if roles.inferred.is_some() {
        format!("{spans} (inferred)")
    } else {
        spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoleSpan;

    fn span(role: &str, from_s: f64, to_s: f64) -> RoleSpan {
        RoleSpan {
            role: role.into(),
            from_s,
            to_s,
        }
    }

    #[test]
    fn changes_and_dominant_role() {
        let r = NodeRoles {
            pid: 7,
            spans: vec![
                span(FOLLOWER, 0.0, 2.0),
                span(LEADER, 2.0, 9.0),
                span(FOLLOWER, 9.0, 10.0),
            ],
            heartbeat_per_s: Some(20.0),
            inferred: None,
        };
        let c = changes(&r);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].at_s, c[0].to.as_str()), (2.0, LEADER));
        assert_eq!((c[1].at_s, c[1].to.as_str()), (9.0, FOLLOWER));
        assert_eq!(time_in(&r, LEADER), 7.0);
        assert!(was_leader(&r));
        assert_eq!(
            timeline_text(&r),
            "follower 0.0–2.0 s, leader 2.0–9.0 s, follower 9.0–10.0 s"
        );
    }
}
