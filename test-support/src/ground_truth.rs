//! The JSON each fixture node writes to `<data-dir>/ground_truth.json` when
//! it stops: exact in-process counts to compare a tracer's output against.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Traced methods whose entries each node counts (keys of `calls`).
pub const TRACED_METHODS: &[&str] = &[
    "MprpcChannel::CallMethod",
    "MprpcChannel::sendRpcRequest",
    "ConnectionPool::getConnection",
    "Persister::saveRaftState",
    "Persister::readRaftState",
    "Raft::AppendEntries1",
    "Raft::RequestVote",
    "Raft::leaderElectionTicker",
    "Raft::sendAppendEntries",
    "Raft::applier",
    "Raft::leaderHearBeatTicker",
    "Raft::doHeartBeat",
    "Raft::sendRequestVote",
    "Raft::burnCpu",
    "RpcProvider::OnMessage",
    "RpcProvider::SendRpcResponse",
];

#[derive(Debug, Clone, Deserialize)]
pub struct GroundTruth {
    pub node_id: usize,
    pub pid: u32,
    /// Entry counts per demangled method name (see TRACED_METHODS).
    pub calls: BTreeMap<String, u64>,
    pub persister_io: PersisterIo,
    pub net_io: NetIo,
    pub rpc: RpcCounts,
    pub role_changes: Vec<RoleChange>,
    pub final_role: String,
    /// False if some thread was still busy when the counters were read; the
    /// counts may then miss a few events that happened after the snapshot.
    pub quiesced: bool,
}

impl GroundTruth {
    /// Entry count of a traced method (0 if unknown).
    pub fn calls(&self, method: &str) -> u64 {
        self.calls.get(method).copied().unwrap_or(0)
    }
}

/// write/writev/fsync/fdatasync syscalls on the persister's files, counted by
/// the interposed libc functions (each is exactly one syscall).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PersisterIo {
    pub write: u64,
    pub writev: u64,
    pub write_bytes: u64,
    pub fsync: u64,
    pub fdatasync: u64,
    pub files: Vec<String>,
}

/// Calls of the hooked send()/recv() (one sendto/recvfrom syscall each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NetIo {
    pub send: u64,
    pub recv: u64,
    pub send_bytes: u64,
    pub recv_bytes: u64,
}

/// RPCs sent as a client (MprpcChannel::CallMethod) and handled as a server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RpcCounts {
    pub sent: u64,
    pub received: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoleChange {
    /// Wall-clock (Unix epoch) milliseconds.
    pub t_ms: u64,
    pub role: String,
    pub term: i64,
}
