//! Node roles over time: in every poll window, a node whose threads called one of the
//! profile's leader-only functions (`[roles] leader_if_calls`, e.g. `Raft::doHeartBeat`) is the
//! leader; otherwise a follower. Consecutive windows of the same role form one span.

use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::kernel::{attach::Attached, maps};
use crate::model::{NodeRoles, RoleSpan};
use crate::profile::probe_plan::ProbePlan;

/// Poll window.
pub const WINDOW: Duration = Duration::from_millis(500);

pub struct RoleWatch {
    last: Instant,
    role_calls: HashMap<u32, u64>,
    heartbeat_calls: HashMap<u32, u64>,
    /// pid -> spans so far, and heartbeat calls counted while leader.
    nodes: BTreeMap<u32, (Vec<RoleSpan>, u64)>,
}

impl RoleWatch {
    pub fn new() -> Self {
        RoleWatch {
            last: Instant::now(),
            role_calls: HashMap::new(),
            heartbeat_calls: HashMap::new(),
            nodes: BTreeMap::new(),
        }
    }

    /// Closes a window when one has passed (or `force`): `live` are the nodes alive now.
    pub fn tick(
        &mut self,
        attached: &Attached,
        plan: &ProbePlan,
        start: Instant,
        live: &[u32],
        force: bool,
    ) -> Result<()> {
        if plan.role_funcs.is_empty() || (!force && self.last.elapsed() < WINDOW) {
            return Ok(());
        }
        let entries = maps::FunctionEntries::read(attached)?;
        let role = entries.per_process(&plan.role_funcs);
        let hb = entries.per_process(&plan.heartbeat_funcs);
        let (from, to) = (
            self.last.duration_since(start).as_secs_f64(),
            start.elapsed().as_secs_f64(),
        );
        // The last window (forced at stop) can be shorter than a heartbeat interval: no role
        // call in it says nothing, so the node keeps the role it had.
        let conclusive = self.last.elapsed() >= WINDOW;
        for &pid in live {
            let now = role.get(&pid).copied().unwrap_or(0);
            let before = self.role_calls.get(&pid).copied().unwrap_or(0);
            let leader = now > before;
            let hb_delta = hb.get(&pid).copied().unwrap_or(0)
                - self
                    .heartbeat_calls
                    .get(&pid)
                    .copied()
                    .unwrap_or(0)
                    .min(hb.get(&pid).copied().unwrap_or(0));
            let (spans, hb_total) = self.nodes.entry(pid).or_default();
            let name = match spans.last() {
                Some(s) if !leader && !conclusive => s.role.clone(),
                _ if leader => "leader".to_string(),
                _ => "follower".to_string(),
            };
            if name == "leader" {
                *hb_total += hb_delta;
            }
            match spans.last_mut() {
                Some(s) if s.role == name => s.to_s = to,
                _ => spans.push(RoleSpan {
                    role: name,
                    from_s: from,
                    to_s: to,
                }),
            }
        }
        self.role_calls = role;
        self.heartbeat_calls = hb;
        self.last = Instant::now();
        Ok(())
    }

    /// The live node that acted as leader in the last window, if any.
    pub fn current_leader(&self, live: &[u32]) -> Option<u32> {
        live.iter().copied().find(|pid| {
            self.nodes
                .get(pid)
                .and_then(|(spans, _)| spans.last())
                .is_some_and(|s| s.role == "leader")
        })
    }

    /// Every node's timeline and heartbeat frequency while leader.
    pub fn finish(self) -> Vec<NodeRoles> {
        self.so_far()
    }

    /// The timelines up to the last poll window, for the metrics endpoint's `tracer_node_role`
    /// while the run goes on.
    pub fn so_far(&self) -> Vec<NodeRoles> {
        self.nodes
            .iter()
            .map(|(&pid, (spans, hb))| {
                let leader_s: f64 = spans
                    .iter()
                    .filter(|s| s.role == "leader")
                    .map(|s| s.to_s - s.from_s)
                    .sum();
                NodeRoles {
                    pid,
                    heartbeat_per_s: (leader_s > 0.0).then(|| *hb as f64 / leader_s),
                    spans: spans.clone(),
                    inferred: None,
                }
            })
            .collect()
    }
}

impl Default for RoleWatch {
    fn default() -> Self {
        Self::new()
    }
}
