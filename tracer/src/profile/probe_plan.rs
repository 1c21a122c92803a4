//! What to probe: the layers of the profile and the functions resolved in the target
//! binaries, each with the ids the kernel side sees (function index, 1-based layer id).
//!
//! The plan is data of this stage; `symbols::plan` fills it by resolving the profile in the
//! binaries, so `profile/` never depends on `symbols/`.

use std::path::PathBuf;

use crate::messages::Warnings;
use crate::model::LayerInfo;
use crate::profile::Profile;

/// One function to probe (entry + return).
#[derive(Clone, Debug)]
pub struct PlannedProbe {
    pub layer: String,
    pub layer_id: u32,
    pub pattern: String,
    pub demangled: String,
    /// A path that opens the object the function is in (what the uprobe attaches to).
    pub binary: PathBuf,
    /// The object as the process or loader names it (what outputs show).
    pub object: PathBuf,
    /// (device, inode) of the object: one probe per function of a file, whatever its path.
    pub object_id: Option<(u64, u64)>,
    pub file_offset: u64,
    /// Entry probe only (functions that never return or switch stacks).
    pub entry_only: bool,
}

/// The layers and probes of a run. A probe's index in `probes` is its function id.
#[derive(Clone, Debug, Default)]
pub struct ProbePlan {
    pub layers: Vec<LayerInfo>,
    pub probes: Vec<PlannedProbe>,
    /// Uprobes attached (false with --no-uprobes or when nothing resolved).
    pub uprobes: bool,
    /// Calls per second above which a function's probes are removed (None: never). A uprobe
    /// hit costs ~10 us here, so 1,000 calls/s of one function is ~2% of a CPU (entry+return).
    pub budget: Option<u64>,
    /// Warnings of planning and attaching (opt-outs and patterns matching nothing, stripped
    /// binaries, functions the kernel would not probe): printed once, listed in the report.
    pub warnings: Warnings,
    /// Probes of the profile's `[roles] leader_if_calls` functions: a node calling them is the
    /// leader. The probe budget removes one only while another of the same binary stays
    /// probed within the budget (roles depend on them).
    pub role_funcs: Vec<u32>,
    /// Probes of the first `leader_if_calls` pattern (the heartbeat), for its frequency.
    pub heartbeat_funcs: Vec<u32>,
    /// The profile's `[roles] leader_if_calls`, probed or not: without a probe of any of them
    /// the leader is inferred from stacks (`analyse::role_inference`).
    pub role_patterns: Vec<crate::profile::Pattern>,
    /// The profile the plan was made from: objects a target maps later (`dlopen`) are
    /// resolved with it when they appear. None with `--no-uprobes` and in plans made by hand.
    pub profile: Option<Profile>,
    /// (device, inode) of every object already searched: a later look at the targets' maps
    /// resolves only objects not among them.
    pub searched_objects: Vec<(u64, u64)>,
}

/// A function whose probes were removed during the run because it was too hot.
#[derive(Clone, Debug)]
pub struct Detached {
    pub func: u32,
    pub at_s: f64,
    pub calls_per_s: f64,
}

impl ProbePlan {
    /// Layer name of a kernel-side layer id (0: none).
    pub fn layer_name(&self, id: u32) -> Option<String> {
        self.layers
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.name.clone())
    }

    /// How layers are attributed in this run.
    pub fn attribution(&self) -> &'static str {
        if self.uprobes {
            "uprobes"
        } else {
            "stacks"
        }
    }
}

/// The layers of `profile` as recorded in a session (ids 1-based, in profile order).
pub fn layer_infos(profile: &Profile) -> Vec<LayerInfo> {
    profile
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerInfo {
            id: i as u32 + 1,
            name: l.name.clone(),
            title: l.title.clone(),
            folder: l.folder.clone(),
            functions: l
                .functions
                .iter()
                .chain(&l.entry_only)
                .chain(&l.stack_only)
                .map(|p| p.text.clone())
                .collect(),
            syscalls: l.syscalls.iter().map(|r| r.name.clone()).collect(),
        })
        .collect()
}
