//! The subcommands besides `run`, each thin over the library.
//!
//! In: flags parsed by `cli/`. Out: text on stdout, or files in a session folder. Never:
//! loads BPF (tracing is `session/`).
//!
//! - [`probes`]: `tracer probes`, the dry run of layer probing.
//! - [`profile`]: `tracer profile`, print the built-in layer profile, check one, or suggest one
//!   for a fork ([`suggest`]: names sorted into layers).
//! - [`report`]: `tracer report DIR`, re-render a saved session from its `snapshot.json`.
//! - [`diff`]: `tracer diff A B`, a differential flamegraph between two sessions.
//! - [`merge`]: `tracer merge DIR… -o OUT`, one cluster session from one session per host.

pub mod diff;
pub mod merge;
pub mod probes;
pub mod profile;
pub mod report;
pub mod suggest;
