//! Roles without probes: when no role function was probed (`--no-uprobes`, or a fork where
//! none of `[roles] leader_if_calls` resolved), the leader is told from what the nodes did.
//!
//! Only the leader runs the leader-only functions (the heartbeat, the replication sender), so
//! the leader is the node whose stacks contain them: on-CPU samples inside them, and blocked
//! waits inside them (a replication thread waiting for a follower's reply, several times per
//! heartbeat). A node holding at least [`DOMINANT`] of that evidence is the leader; the other
//! nodes with Raft code on their stacks are followers; processes without Raft code get no
//! role. Every role found this way is marked `inferred`, with the evidence in words, and spans
//! the node's whole run (stacks do not say when leadership moved).

use crate::model::{NodeRoles, RoleSpan, Snapshot};
use crate::profile::pattern::{any_matches, Pattern};

use super::roles::{FOLLOWER, LEADER};

/// Share of the leader-only evidence one node must hold to be called the leader.
pub const DOMINANT: f64 = 0.8;
/// Fewest pieces of evidence (samples + blocked waits) to conclude anything.
pub const MIN_EVIDENCE: u64 = 5;

/// Evidence of one process: samples and blocked waits inside leader-only functions, and
/// whether any of its stacks has Raft code at all.
#[derive(Debug, Default, Clone, Copy)]
struct Evidence {
    samples: u64,
    waits: u64,
    raft: bool,
}

/// Roles inferred from the stacks of `snapshot`: `leader` calls the `leader_if_calls`
/// functions, `raft` says what Raft code is (a node vs another process). Returns no roles and
/// the reason when the stacks do not tell.
pub fn infer(
    snapshot: &Snapshot,
    leader_if_calls: &[Pattern],
    raft: &[Pattern],
) -> Result<Vec<NodeRoles>, String> {
    if leader_if_calls.is_empty() {
        return Err("the profile names no role function ([roles] leader_if_calls)".into());
    }
    let has = |frames: &[String], pats: &[Pattern]| frames.iter().any(|f| any_matches(pats, f));
    let mut ev: Vec<(u32, Evidence)> = snapshot
        .processes
        .iter()
        .map(|p| (p.pid, Evidence::default()))
        .collect();
    let at = |pid: u32| ev.iter().position(|(p, _)| *p == pid);
    let mut updates: Vec<(usize, u64, u64, bool)> = Vec::new();
    if let Some(profile) = &snapshot.profile {
        for s in &profile.stacks {
            if let Some(i) = at(s.pid) {
                let lead = has(&s.frames, leader_if_calls);
                updates.push((
                    i,
                    if lead { s.count } else { 0 },
                    0,
                    lead || has(&s.frames, raft),
                ));
            }
        }
    }
    for r in &snapshot.offcpu {
        if let Some(i) = at(r.pid) {
            let lead = has(&r.frames, leader_if_calls);
            updates.push((
                i,
                0,
                if lead { r.count } else { 0 },
                lead || has(&r.frames, raft),
            ));
        }
    }
    if snapshot.profile.is_none() && snapshot.offcpu.is_empty() {
        return Err("no stacks were collected (no sampling, no off-CPU records)".into());
    }
    for (i, samples, waits, raft) in updates {
        let e = &mut ev[i].1;
        e.samples += samples;
        e.waits += waits;
        e.raft |= raft;
    }
    let total: u64 = ev.iter().map(|(_, e)| e.samples + e.waits).sum();
    let names: Vec<&str> = leader_if_calls.iter().map(|p| p.text.as_str()).collect();
    let names = names.join(", ");
    if total < MIN_EVIDENCE {
        return Err(format!(
            "only {total} samples or blocked waits inside {names} in any node's stacks"
        ));
    }
    let (leader_pid, best) = ev
        .iter()
        .map(|(pid, e)| (*pid, e.samples + e.waits))
        .max_by_key(|&(pid, n)| (n, std::cmp::Reverse(pid)))
        .expect("processes were traced");
    let share = best as f64 / total as f64;
    if share < DOMINANT {
        return Err(format!(
            "no node dominates the samples and blocked waits inside {names} (the most, pid \
             {leader_pid}, has {:.0}%: leadership may have moved during the run)",
            share * 100.0
        ));
    }
    let lead = ev.iter().find(|(p, _)| *p == leader_pid).unwrap().1;
    let mut out = Vec::new();
    for p in &snapshot.processes {
        let e = ev.iter().find(|(pid, _)| *pid == p.pid).unwrap().1;
        let (role, why) = if p.pid == leader_pid {
            (
                LEADER,
                format!(
                    "inferred without probes: {} samples and {} blocked waits inside {names}, \
                     {:.0}% of all nodes'",
                    lead.samples,
                    lead.waits,
                    share * 100.0
                ),
            )
        } else if e.raft {
            (
                FOLLOWER,
                format!(
                    "inferred without probes: Raft code on its stacks, {} samples or waits \
                     inside {names} (the leader, pid {leader_pid}, had {best})",
                    e.samples + e.waits
                ),
            )
        } else {
            continue;
        };
        let end = p
            .exited_at_s
            .unwrap_or(snapshot.duration_s)
            .min(snapshot.duration_s);
        out.push(NodeRoles {
            pid: p.pid,
            spans: vec![RoleSpan {
                role: role.to_string(),
                from_s: 0.0,
                to_s: end,
            }],
            heartbeat_per_s: None,
            inferred: Some(why),
        });
    }
    Ok(out)
}

/// [`infer`] with Raft code told by the session's own layers: the consensus layer's patterns
/// (every layer's when the profile has no `consensus` layer).
pub fn infer_from_layers(
    snapshot: &Snapshot,
    leader_if_calls: &[Pattern],
) -> Result<Vec<NodeRoles>, String> {
    let layers: Vec<_> = match snapshot.layers.iter().find(|l| l.name == "consensus") {
        Some(l) => vec![l],
        None => snapshot.layers.iter().collect(),
    };
    let raft: Vec<Pattern> = layers
        .iter()
        .flat_map(|l| &l.functions)
        .filter_map(|t| Pattern::parse(t).ok())
        .collect();
    infer(snapshot, leader_if_calls, &raft)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned::Canned;
    use crate::profile::pattern::parse_all;

    fn with_waits(mut c: Canned, pid: u32, frames: &[&str], n: usize) -> Canned {
        for _ in 0..n {
            c = c.offcpu(pid, "hb-send", frames, None, "recvfrom", 1_000_000);
        }
        c
    }

    #[test]
    fn the_node_running_leader_only_functions_is_the_leader() {
        let lead = parse_all(&["Raft::doHeartBeat", "Raft::sendAppendEntries"]);
        let raft = parse_all(&["Raft::*"]);
        let c = Canned::new(10.0)
            .node(10)
            .node(11)
            .node(12)
            .node(13)
            .samples(10, "applier", &["main", "Raft::applier()"], 40)
            .samples(
                11,
                "hb-send",
                &["start", "Raft::sendAppendEntries(int)", "send"],
                6,
            )
            .samples(12, "rpc-io", &["main", "Raft::AppendEntries1()"], 30);
        let s = with_waits(c, 11, &["Raft::sendAppendEntries(int)", "recv"], 20).build();
        let roles = infer(&s, &lead, &raft).unwrap();
        let role = |pid| {
            roles
                .iter()
                .find(|r| r.pid == pid)
                .map(|r| r.spans[0].role.as_str())
        };
        assert_eq!(role(11), Some(LEADER));
        assert_eq!(role(10), Some(FOLLOWER));
        assert_eq!(role(12), Some(FOLLOWER));
        // No Raft code at all (a launcher): no role.
        assert_eq!(role(13), None);
        let leader = roles.iter().find(|r| r.pid == 11).unwrap();
        let why = leader.inferred.as_deref().unwrap();
        assert!(why.contains("6 samples and 20 blocked waits"), "{why}");
        assert!(why.contains("100%"), "{why}");
        assert_eq!(leader.spans[0].to_s, 10.0);
    }

    #[test]
    fn too_little_or_split_evidence_is_no_answer() {
        let lead = parse_all(&["Raft::doHeartBeat"]);
        let raft = parse_all(&["Raft::*"]);
        let few = Canned::new(10.0)
            .node(10)
            .samples(10, "sched", &["Raft::doHeartBeat()"], 2)
            .build();
        assert!(infer(&few, &lead, &raft).unwrap_err().contains("only 2"));
        let split = Canned::new(10.0)
            .node(10)
            .node(11)
            .samples(10, "sched", &["Raft::doHeartBeat()"], 50)
            .samples(11, "sched", &["Raft::doHeartBeat()"], 40)
            .build();
        let e = infer(&split, &lead, &raft).unwrap_err();
        assert!(e.contains("56%") && e.contains("moved"), "{e}");
        assert!(infer(&split, &[], &raft).is_err());
        let none = Canned::new(10.0).node(10).no_profile().build();
        assert!(infer(&none, &lead, &raft)
            .unwrap_err()
            .contains("no stacks"));
    }
}
