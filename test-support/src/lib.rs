//! Test support for `tracer`: builds the C++ Raft KV fixture in `fixture/`,
//! runs clusters of it on 127.0.0.1, and reads the ground truth each node
//! writes on SIGTERM, so tracer's measurements can be compared with `==`.

mod client;
mod cluster;
mod fixture;
mod fixture_layouts;
mod ground_truth;
mod ports;
mod proc_util;
pub mod soak;
mod status;
pub mod strace;

pub use client::{ClientMode, ClientOpts, ClientReport, RunningClient};
pub use cluster::{unique_node_name, Cluster, ClusterOpts, Fsync};
pub use fixture::{fixture_bins, fixture_dir, workspace_root, FixtureBins, Variant};
pub use ground_truth::{
    GroundTruth, MsgIo, NetIo, PersisterIo, RoleChange, RpcCounts, GRPC_TRACED_METHODS,
    TRACED_METHODS,
};
pub use ports::free_ports;
pub use proc_util::{children_of, cpu_seconds, send_signal, spawn_retrying, thread_names};
pub use status::{NodeStatus, Role};
