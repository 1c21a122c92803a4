//! Test support for `tracer`: builds the C++ Raft KV fixture in `fixture/`,
//! runs clusters of it on 127.0.0.1, and reads the ground truth each node
//! writes on SIGTERM, so tracer's measurements can be compared with `==`.

pub mod bystander;
mod client;
mod cluster;
pub mod entry_log;
mod fixture;
mod fixture_layouts;
mod ground_truth;
mod ports;
mod proc_util;
pub mod reaper;
pub mod soak;
mod stats_util;
mod status;
pub mod strace;
pub mod workload;

pub use client::{ClientMode, ClientOpts, ClientReport, RunningClient};
pub use cluster::{unique_node_name, Cluster, ClusterOpts, Fsync};
pub use entry_log::{EntryEvent, EntryLog, Stage};
pub use fixture::{fixture_bins, fixture_dir, workspace_root, FixtureBins, Variant};
pub use ground_truth::{
    BusyPoll, CrashReport, EntryLogInfo, FiberRpc, GroundTruth, Leak, LogIo, MsgIo, NetIo,
    PersistPhase, PersistTiming, PersisterIo, RoleChange, RpcCounts, RssSample, SaveTiming,
    ThreadSite, Threads, GRPC_TRACED_METHODS, TRACED_METHODS,
};
pub use ports::free_ports;
pub use proc_util::{children_of, cpu_seconds, send_signal, spawn_retrying, thread_names};
pub use stats_util::{quantile, slope};
pub use status::{NodeStatus, Role};
