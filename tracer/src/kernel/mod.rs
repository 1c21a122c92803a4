//! The kernel side as user space sees it: loading tracer's eBPF object, attaching its
//! programs and telling them what to trace ([`attach`]), reading what they aggregated
//! ([`collect`]), and advice for the errors the kernel gives while attaching ([`explain`]).
//!
//! In: the [`crate::profile::probe_plan::ProbePlan`] (function file offsets and ids), the pids
//! to trace, the sampling frequency. Out: [`collect::KernelData`]: counters and histograms
//! summed over CPUs, samples and off-CPU records with their stack addresses, drained every
//! window. The layout of every map is `tracer-common`'s (the kernel/user contract, see
//! `docs/ARCHITECTURE.md`). Never: names, symbolises or judges anything; ids, addresses and
//! raw counts only (turning them into a Snapshot is [`crate::model::assemble`]).
//!
//! [`maps`] is the only code in tracer that names a map: one typed reader or writer per map,
//! by `tracer_common::maps`' constants. Other stages that poll the kernel between windows
//! (the probe budget, role watching, the status line) call those readers.

pub mod attach;
pub mod collect;
pub mod explain;
pub mod maps;
pub mod retired;

pub use explain::{explain_attach_error, explain_sampling_error};
