//! Discovery during the run (`tracer run` with no target; the scan is `target/discover.rs`):
//! which processes of the picked executables are nodes, and new processes of those
//! executables (a restarted node) followed like `--comm` follows a name.
//!
//! A process of a picked executable is a *candidate* from the moment it is traced. It is a
//! node once it has entered a probed function (`FUNC_STATS` holds entries for it). One that
//! has not within [`discover::OBSERVE`] is not a node: the same binary running no Raft code,
//! like a launcher waiting for the nodes it forked. It is forgotten (no longer traced, its
//! records left out of every read) and the run says so, with why. Without uprobes nothing can
//! tell, so every candidate is kept and the run says that instead.

use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use super::Session;
use crate::kernel::maps;
use crate::messages;
use crate::symbols::objects::FileId;
use crate::target::discover::{self, exe_id, Discovery, Executable};
use crate::target::procfs;

/// How often /proc is looked at for new processes of the picked executables (as `--comm`).
const RESCAN: Duration = Duration::from_millis(500);

/// The state of discovery in a running session.
pub(super) struct DiscoveryWatch {
    found: Discovery,
    /// Uprobes are attached: entering a probed function tells a node.
    checkable: bool,
    /// Candidates not judged yet, and since when they are traced.
    pending: BTreeMap<u32, Instant>,
    nodes: BTreeSet<u32>,
    /// Judged not nodes, with why.
    skipped: BTreeMap<u32, String>,
    /// Every candidate so far had its verdict printed once.
    reported_first: bool,
    last_scan: Instant,
    /// Pids seen by the last rescan, with their comm (an exec changes it: looked at again).
    scanned: HashMap<u32, String>,
    /// What the session's notes say about discovery.
    pub(super) notes: Vec<String>,
}

impl DiscoveryWatch {
    /// Watches the candidates `initial` (traced from the start).
    pub(super) fn new(found: &Discovery, initial: &[u32], checkable: bool) -> DiscoveryWatch {
        let now = Instant::now();
        let mut notes = vec![found.summary()];
        if !checkable {
            notes.push(
                "without uprobes discovery cannot tell a node from a process of the same \
                 executable that runs no Raft code (a launcher): every process of the picked \
                 executables is traced"
                    .to_string(),
            );
        }
        DiscoveryWatch {
            found: found.clone(),
            checkable,
            pending: initial.iter().map(|&p| (p, now)).collect(),
            nodes: BTreeSet::new(),
            skipped: BTreeMap::new(),
            reported_first: false,
            last_scan: now,
            scanned: HashMap::new(),
            notes,
        }
    }

    fn known(&self, pid: u32) -> bool {
        self.pending.contains_key(&pid)
            || self.nodes.contains(&pid)
            || self.skipped.contains_key(&pid)
    }

    fn picked_ids(&self) -> HashSet<FileId> {
        self.found.picked.iter().map(|e| e.id).collect()
    }

    /// New processes of the picked executables (not traced yet), every [`RESCAN`].
    fn rescan(&mut self) -> Vec<u32> {
        if self.last_scan.elapsed() < RESCAN {
            return Vec::new();
        }
        self.last_scan = Instant::now();
        let ids = self.picked_ids();
        let pids = match self.found.under {
            Some(root) => discover::descendants(root),
            None => discover::all_pids(),
        };
        let me = std::process::id();
        let mut now_seen = HashMap::new();
        let mut new = Vec::new();
        for pid in pids {
            if pid == me {
                continue;
            }
            let Some(comm) = procfs::comm(pid) else {
                continue;
            };
            let unchanged = self.scanned.get(&pid) == Some(&comm);
            now_seen.insert(pid, comm);
            if unchanged || self.known(pid) {
                continue;
            }
            if exe_id(pid).is_some_and(|id| ids.contains(&id)) && procfs::is_alive(pid) {
                new.push(pid);
            }
        }
        self.scanned = now_seen;
        new
    }
}

impl Session<'_> {
    /// Discovery's step of a poll: new processes of the picked executables are traced as
    /// candidates, candidates that ran Raft code become nodes, those that did not within
    /// [`discover::OBSERVE`] are forgotten. Errors when the first verdicts leave no node.
    pub(super) fn follow_discovery(&mut self) -> Result<()> {
        let Some(watch) = self.discovery.as_mut() else {
            return Ok(());
        };
        let follow = self.opts.target.follows_children();
        for pid in watch.rescan() {
            self.attached.add_target(pid, pid, follow)?;
            watch.pending.insert(pid, Instant::now());
        }
        // Processes the kernel started tracing (forks of a traced process) that run a picked
        // executable are candidates too: a launcher's new child may be a restarted node.
        let ids = watch.picked_ids();
        for &pid in self.processes.keys() {
            if !watch.known(pid) && exe_id(pid).is_some_and(|id| ids.contains(&id)) {
                watch.pending.insert(pid, Instant::now());
            }
        }
        if watch.pending.is_empty() {
            return Ok(());
        }
        let entered: HashMap<u32, u64> = if watch.checkable {
            let mut per_pid = HashMap::new();
            for (key, n) in maps::FunctionEntries::read(&self.attached)?.0 {
                *per_pid.entry(key.tgid).or_insert(0) += n;
            }
            per_pid
        } else {
            HashMap::new()
        };
        let mut became_nodes = Vec::new();
        let mut not_nodes = Vec::new();
        for (&pid, since) in &watch.pending {
            if !watch.checkable || entered.get(&pid).is_some_and(|&n| n > 0) {
                became_nodes.push(pid);
            } else if since.elapsed() >= discover::OBSERVE || !procfs::is_alive(pid) {
                not_nodes.push(pid);
            }
        }
        for pid in &became_nodes {
            watch.pending.remove(pid);
            watch.nodes.insert(*pid);
        }
        for &pid in &not_nodes {
            watch.pending.remove(&pid);
            let why = why_not_a_node(pid, &watch.nodes);
            watch.skipped.insert(pid, why);
            self.attached.forget_target(pid)?;
            self.processes.remove(&pid);
            self.disk.forget(pid);
            // What the kernel traced because this process forked it, and is no candidate.
            let children: Vec<u32> = self
                .processes
                .values()
                .filter(|p| p.root_pid == pid && p.pid != pid && !watch.known(p.pid))
                .map(|p| p.pid)
                .collect();
            for child in children {
                self.attached.forget_target(child)?;
                self.processes.remove(&child);
                self.disk.forget(child);
            }
        }
        if !watch.reported_first {
            if !watch.pending.is_empty() {
                return Ok(());
            }
            watch.reported_first = true;
            let line = verdict_line(&watch.found, &watch.nodes, &watch.skipped);
            messages::say(&line);
            watch.notes.push(line);
            if watch.nodes.is_empty() {
                bail!(
                    "no process of the executables discovery picked ran Raft code in {:.1} s, so \
                     none is a node (paused, or not a node at all).{}",
                    discover::OBSERVE.as_secs_f64(),
                    watch.found.candidates_text(&watch.found.picked)
                );
            }
            return Ok(());
        }
        // Later verdicts: restarted nodes, new processes of the same executables.
        for pid in became_nodes {
            let line = format!(
                "pid {pid} ({}) runs Raft code: traced as a node",
                procfs::comm(pid).unwrap_or_else(|| "?".into())
            );
            messages::say(&line);
            watch.notes.push(line);
        }
        for pid in not_nodes {
            let line = format!("skipped pid {pid}: {}", watch.skipped[&pid]);
            messages::say(&line);
            watch.notes.push(line);
        }
        Ok(())
    }
}

/// Why a process of a picked executable is not a node: it ran no Raft code in the
/// observation time; a launcher when nodes descend from it.
fn why_not_a_node(pid: u32, nodes: &BTreeSet<u32>) -> String {
    if !procfs::is_alive(pid) {
        return "exited before running Raft code".to_string();
    }
    let children: Vec<String> = nodes
        .iter()
        .filter(|&&n| discover::parent_of(n) == Some(pid))
        .map(u32::to_string)
        .collect();
    let observed = format!(
        "same executable, never ran Raft code in {:.1} s",
        discover::OBSERVE.as_secs_f64()
    );
    if children.is_empty() {
        observed
    } else {
        format!("{observed}: launcher of {}", children.join(" "))
    }
}

/// `found 3 nodes of /path (pids 4242 4243 4244); skipped 4241 (same executable, never ran
/// Raft code in 1.0 s: launcher of 4242 4243 4244)`.
fn verdict_line(
    found: &Discovery,
    nodes: &BTreeSet<u32>,
    skipped: &BTreeMap<u32, String>,
) -> String {
    let mut by_exe: Vec<(&Executable, Vec<u32>)> = Vec::new();
    let mut elsewhere = Vec::new();
    for &pid in nodes {
        match found.executable_of(pid) {
            Some(e) => match by_exe.iter_mut().find(|(x, _)| x.id == e.id) {
                Some((_, pids)) => pids.push(pid),
                None => by_exe.push((e, vec![pid])),
            },
            None => elsewhere.push(pid),
        }
    }
    let mut parts: Vec<String> = by_exe
        .iter()
        .map(|(e, pids)| {
            format!(
                "found {} {} of {} (pids {})",
                pids.len(),
                if pids.len() == 1 { "node" } else { "nodes" },
                e.describe(),
                join(pids)
            )
        })
        .collect();
    if !elsewhere.is_empty() {
        parts.push(format!("found nodes {}", join(&elsewhere)));
    }
    if nodes.is_empty() {
        parts.push("found no node".to_string());
    }
    let mut line = parts.join("; ");
    if !skipped.is_empty() {
        let skipped: Vec<String> = skipped
            .iter()
            .map(|(pid, why)| format!("{pid} ({why})"))
            .collect();
        line.push_str(&format!("; skipped {}", skipped.join(", ")));
    }
    line
}

fn join(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}
