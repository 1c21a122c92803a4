//! Writing what users read: text tables, JSON and the Markdown report of a session folder.

pub mod cpu_profile;
pub mod flamegraph;
pub mod html;
pub mod layer_files;
pub mod layers;
pub mod metrics;
pub mod pprof;
pub mod report;
pub mod session;
pub mod strace_table;
pub mod summary;
