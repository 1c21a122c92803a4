//! Turning a [`crate::model::Snapshot`] into the tables and figures users read. Pure functions
//! of the snapshot: no BPF, no I/O.

pub mod cpu;
pub mod findings;
pub mod layers;
pub mod roles;
pub mod syscalls;
pub mod threads;
