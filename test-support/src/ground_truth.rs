//! The JSON each fixture node writes to `<data-dir>/ground_truth.json` when
//! it stops: exact in-process counts to compare a tracer's output against.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Traced methods whose entries each node counts (keys of `calls`) in the mprpc builds
/// (`Variant::{Fp, NoFp, SharedLib}`).
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

/// Keys of `calls` in the gRPC builds (`Variant::{Grpc, GrpcSharedLib}`): the Raft core's
/// methods, the fork's persister spelling, and per RPC method the client stub calls (counted
/// by the caller: only the node calls its stubs) and the server handler entries. The mprpc
/// methods do not exist there and are absent (not 0).
pub const GRPC_TRACED_METHODS: &[&str] = &[
    "Persister::SaveRaftState",
    "Persister::ReadRaftState",
    "Raft::AppendEntries1",
    "Raft::RequestVote",
    "Raft::leaderElectionTicker",
    "Raft::sendAppendEntries",
    "Raft::applier",
    "Raft::leaderHearBeatTicker",
    "Raft::doHeartBeat",
    "Raft::sendRequestVote",
    "Raft::burnCpu",
    "raftrpc::RaftService::Stub::AppendEntries",
    "raftrpc::RaftService::Stub::RequestVote",
    "RaftGrpcService::AppendEntries",
    "RaftGrpcService::RequestVote",
    "KvServer::Put",
    "KvServer::Get",
    "KvServer::Status",
];

#[derive(Debug, Clone, Deserialize)]
pub struct GroundTruth {
    pub node_id: usize,
    pub pid: u32,
    /// Entry counts per demangled method name (see TRACED_METHODS).
    pub calls: BTreeMap<String, u64>,
    pub persister_io: PersisterIo,
    pub net_io: NetIo,
    /// gRPC builds only: gRPC's own socket I/O, counted by the sendmsg/recvmsg hooks.
    #[serde(default)]
    pub msg_io: Option<MsgIo>,
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

/// Calls of the hooked sendmsg()/recvmsg() (one syscall each) in the gRPC builds: every
/// socket read and write gRPC's I/O threads did until the counters were read at SIGTERM.
/// Connection teardown while the process exits may add a few calls after that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MsgIo {
    pub sendmsg: u64,
    pub recvmsg: u64,
    pub send_bytes: u64,
    pub recv_bytes: u64,
}

/// RPCs sent as a client (MprpcChannel::CallMethod; gRPC: Raft service stub calls) and
/// handled as a server (every method, client Put/Get/Status included); `failed`: sent calls
/// that got no reply (a failed call may still have been handled by its server).
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
