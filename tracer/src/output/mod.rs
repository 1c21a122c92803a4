//! Writing what users read: text tables, flamegraphs, JSON, HTML, the Markdown report, the
//! Prometheus text and pprof profiles.
//!
//! In: a [`crate::model::Snapshot`] and its findings ([`crate::analyse::findings`]). Out: the
//! files of the session folder, composed by [`session_folder::render`] (which also saves and loads
//! `snapshot.json`); the metrics text the endpoint serves; pprof files per window. Never:
//! measures or judges (that is `analyse/`), and never reads the kernel.
//!
//! One renderer per kind of file, each a pure function of the snapshot (and findings) that
//! returns text or [`layout::Rendered`] files; only `session_folder` writes, and only through
//! a [`session_dir::SessionDir`] (the open folder: no symlink followed, nothing written
//! outside it, everything handed to the user who ran sudo, see [`owner`]). Names of files and
//! folders are in [`layout`], which every module may use and which uses none of them; the
//! modules that link to other files (`summary`, `html`, `report`) look at what the session
//! writer has already written. No module here imports `session_folder`.
//!
//! | module | files |
//! |---|---|
//! | [`strace_table`] | `04_disk_io_dedicated/strace_*.txt`, `syscall_analysis.txt` |
//! | [`cpu_profile`] | `cpu_profile/`: per node and all nodes `.folded`, `_flamegraph.svg`, `_perf_report.txt`, `_hotspots.txt`; `stack_quality.txt`; `profile.pb.gz` ([`pprof`]); off-CPU graph |
//! | [`layer_folder`] | every layer folder: `<layer>_functions.txt`, `<layer>_flamegraph.svg`, `<layer>.folded`, `<layer>_syscalls.txt` |
//! | [`network_files`] | `01_network_layer/network_{perf_report,hotspots,shares}.txt` |
//! | [`log_io_files`] | `02_log_io_layer/`: `log_io_perf_report.txt`, `write_fsync_files.txt`, `iostat_during_test.txt`, `persister_analysis.txt` |
//! | [`consensus_files`] | `03_consensus_layer/consensus_node{i}_{flamegraph.svg,report.txt}`, `consensus_hotspots.txt` |
//! | [`disk_files`] | `iotop_nodes.txt`, `disk_before.txt`, `disk_after.txt` |
//! | [`summary`], [`html`], [`report`] | `summary.json`, `index.html`, `TARGETED_PERF_ANALYSIS_REPORT.md` |
//! | [`metrics`], [`pprof`] | the `--metrics` text; `profile.pb.gz` (also per window) |
//!
//! Helpers: [`flamegraph`] (inferno SVGs and folded text), [`findings_text`] (finding blocks
//! several text files embed), [`time_split`] (the per-node "where the time goes" bars the
//! report and the page open with), [`latency_charts`] (the page's function latency charts), [`timeline`] (the
//! page's per-window timeline in continuous mode).

pub mod consensus_files;
pub mod cpu_profile;
pub mod disk_files;
pub mod findings_text;
pub mod flamegraph;
pub mod html;
pub mod latency_charts;
pub mod layer_folder;
pub mod layout;
pub mod log_io_files;
pub mod metrics;
pub mod network_files;
pub mod owner;
pub mod pprof;
pub mod report;
pub mod session_dir;
pub mod session_folder;
pub mod strace_table;
pub mod summary;
pub mod time_split;
pub mod timeline;
