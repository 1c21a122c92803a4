//! Writing what users read: text tables, flamegraphs, JSON, HTML, the Markdown report, the
//! Prometheus text and pprof profiles.
//!
//! In: a [`crate::model::Snapshot`] and its findings ([`crate::analyse::findings`]). Out: the
//! files of the session folder, composed by [`session_folder::render`] (which also saves and loads
//! `snapshot.json`); the metrics text the endpoint serves; pprof files per window. Never:
//! measures or judges (that is `analyse/`), and never reads the kernel.

pub mod cpu_profile;
pub mod flamegraph;
pub mod html;
pub mod layer_files;
pub mod layers;
pub mod metrics;
pub mod pprof;
pub mod report;
pub mod session_folder;
pub mod strace_table;
pub mod summary;
