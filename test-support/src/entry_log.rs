//! A node's per-entry timeline (`--entry-log`, see fixture/entry_log.h): the ground truth of
//! where a write's latency goes, stage by stage and entry by entry. Stages cover index
//! ranges, so batches are explicit (one AppendEntries carrying 40 entries is one `Send` with
//! `last - first + 1 == 40`); [`EntryLog::first_at`] expands them per index.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Leader: `Raft::Start` appended the entry.
    Propose,
    /// Either role: a persist of entries `first..=last` begins / ends.
    PersistStart,
    PersistEnd,
    /// Leader: AppendEntries carrying `first..=last` leaves for `peer` (paired by `rpc`).
    Send,
    /// Leader: `peer` acknowledged `first..=last`.
    Ack,
    /// Leader: the RPC failed or the follower rejected it.
    Nack,
    /// Follower: AppendEntries1 carrying `first..=last` arrived / is answered (after its
    /// persist).
    AppendStart,
    AppendEnd,
    /// Either role: commitIndex advanced over `first..=last`.
    Commit,
    /// Either role: the applier starts / finishes applying `first..=last`.
    ApplyStart,
    ApplyEnd,
    /// Leader: the client's request for entry `first` is answered.
    Reply,
}

/// One event. Both clocks are system-wide, so events of different nodes on one host compare.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EntryEvent {
    /// Config id of the node that logged it.
    pub node: usize,
    pub stage: Stage,
    pub first: u64,
    pub last: u64,
    pub term: i64,
    /// Send/Ack/Nack: config id of the follower.
    #[serde(default)]
    pub peer: Option<usize>,
    /// Send/Ack/Nack: pairs a send with its answer (unique per node).
    #[serde(default)]
    pub rpc: Option<u64>,
    /// CLOCK_REALTIME (Unix epoch) nanoseconds.
    pub rt_ns: u64,
    /// CLOCK_MONOTONIC nanoseconds.
    pub mono_ns: u64,
}

impl EntryEvent {
    /// Entries the event covers (1 for a single entry; more for a batch).
    pub fn len(&self) -> u64 {
        self.last + 1 - self.first
    }

    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }
}

/// Every event one node logged, in the order it logged them.
#[derive(Debug, Clone)]
pub struct EntryLog {
    pub events: Vec<EntryEvent>,
}

impl EntryLog {
    pub fn read(path: &Path) -> Result<EntryLog> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let events = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).with_context(|| format!("bad event {l:?}")))
            .collect::<Result<Vec<EntryEvent>>>()?;
        Ok(EntryLog { events })
    }

    /// Events of one stage (and, if given, one peer).
    pub fn stage(&self, stage: Stage, peer: Option<usize>) -> impl Iterator<Item = &EntryEvent> {
        self.events
            .iter()
            .filter(move |e| e.stage == stage && (peer.is_none() || e.peer == peer))
    }

    /// Per index, the first CLOCK_MONOTONIC time an event of `stage` (for `peer`, if given)
    /// covered it: batches expanded to every index they carry.
    pub fn first_at(&self, stage: Stage, peer: Option<usize>) -> BTreeMap<u64, u64> {
        let mut out = BTreeMap::new();
        for e in self.stage(stage, peer) {
            for i in e.first..=e.last {
                let t = out.entry(i).or_insert(e.mono_ns);
                *t = (*t).min(e.mono_ns);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_expands_batches() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.jsonl");
        std::fs::write(
            &p,
            concat!(
                r#"{"node":0,"stage":"send","first":3,"last":5,"term":2,"peer":1,"rpc":7,"rt_ns":10,"mono_ns":100}"#,
                "\n",
                r#"{"node":0,"stage":"send","first":5,"last":6,"term":2,"peer":1,"rpc":8,"rt_ns":11,"mono_ns":90}"#,
                "\n",
                r#"{"node":0,"stage":"commit","first":1,"last":2,"term":2,"rt_ns":12,"mono_ns":120}"#,
                "\n"
            ),
        )
        .unwrap();
        let log = EntryLog::read(&p).unwrap();
        assert_eq!(log.events.len(), 3);
        assert_eq!(log.events[0].len(), 3);
        assert_eq!(log.events[2].peer, None);
        let sends = log.first_at(Stage::Send, Some(1));
        assert_eq!(sends.keys().copied().collect::<Vec<_>>(), vec![3, 4, 5, 6]);
        assert_eq!(sends[&5], 90, "the earlier of two sends covering index 5");
        assert!(log.first_at(Stage::Send, Some(2)).is_empty());
    }
}
