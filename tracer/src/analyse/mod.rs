//! Turning a [`crate::model::Snapshot`] into the tables and figures users read.
//!
//! In: a Snapshot. Out: `strace -c` rows and disk figures ([`syscalls`]), folded stacks,
//! reports and hotspots ([`cpu`]), per-layer shares ([`layers`]), nodes and roles ([`roles`];
//! inferred from stacks when no role function was probed: [`role_inference`]),
//! the per-thread view ([`threads`]), spinning threads ([`spinning`]), where each node's CPU
//! goes ([`time_split`]: layers, no layer, tracer itself), and the findings judged against
//! their thresholds ([`findings`]). Never: I/O or BPF; pure functions of the snapshot, so every
//! figure is testable on canned data.

pub mod cpu;
pub mod findings;
pub mod layers;
pub mod role_inference;
pub mod roles;
pub mod spinning;
pub mod syscalls;
pub mod threads;
pub mod time_split;
