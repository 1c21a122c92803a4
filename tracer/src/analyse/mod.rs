//! Turning a [`crate::model::Snapshot`] into the tables and figures users read. Pure functions
//! of the snapshot: no BPF, no I/O.

pub mod cpu;
pub mod layers;
pub mod syscalls;
