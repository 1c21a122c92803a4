//! tracer: an eBPF tracer for layer-by-layer performance analysis of C++ Raft KV clusters.
//!
//! Data flows one way, one module per stage (see ARCHITECTURE.md):
//! `target` (what to trace) → `attach` (load and attach the eBPF programs) →
//! `collect` (drain kernel maps into a [`model::Snapshot`]) → `analyse` (tables and figures)
//! → `output` (files of the session folder). `run` wires them together for `tracer run`;
//! `report` re-renders a saved session without BPF or root.

pub mod analyse;
pub mod assemble;
pub mod attach;
pub mod cli;
pub mod collect;
pub mod diff;
pub mod diskstats;
pub mod duration;
pub mod exits;
pub mod metrics_server;
pub mod model;
pub mod output;
pub mod overhead;
pub mod preflight;
pub mod probe_plan;
pub mod probes_cmd;
pub mod procfs;
pub mod profile;
pub mod report;
pub mod resolve;
pub mod run;
pub mod status_line;
pub mod symbolize;
pub mod target;
pub mod watch;
pub mod windows;
