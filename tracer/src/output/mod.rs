//! Writing what users read: text tables, JSON and the Markdown report of a session folder.

pub mod cpu_profile;
pub mod flamegraph;
pub mod layers;
pub mod session;
pub mod strace_table;
