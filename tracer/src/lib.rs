//! tracer: an eBPF tracer for layer-by-layer performance analysis of C++ Raft KV clusters.
//!
//! One module per pipeline stage, data flowing one way (the picture, the kernel/user contract
//! and where to add a layer, a finding, an output or a collector: `docs/ARCHITECTURE.md`):
//!
//! [`profile`] (layers, probe plan) and [`target`] (what to trace) → [`symbols`] (patterns to
//! probe addresses) → [`kernel`] (attach the eBPF programs, collect what they aggregated) →
//! [`model`] (assemble a [`model::Snapshot`]) → [`analyse`] (tables, figures, findings) →
//! [`output`] (files of the session folder). [`session`] runs that pipeline for `tracer run`;
//! [`commands`] holds the other subcommands (`probes`, `profile`, `report`, `diff`); [`cli`]
//! parses flags; [`messages`] is what tracer says on stderr (progress lines, the warning
//! sink). [`cpp_names`] is the C++ name grammar (qualified names, ABI tags, clone
//! suffixes) every stage shares; it depends on nothing else in tracer.

pub mod analyse;
pub mod cli;
pub mod commands;
pub mod cpp_names;
pub mod kernel;
pub mod messages;
pub mod model;
pub mod output;
pub mod profile;
pub mod session;
pub mod symbols;
pub mod target;

/// Test builders shared with the integration tests (`tracer/tests/common/canned.rs`): compiled
/// for unit tests only, never shipped in the library. The file names types `tracer::...`, so
/// the crate goes by that name in test builds too.
#[cfg(test)]
extern crate self as tracer;
#[cfg(test)]
#[allow(dead_code)] // each test uses a part of the builder
#[path = "../tests/common/canned.rs"]
mod canned;
