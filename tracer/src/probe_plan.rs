//! What to probe: the layers of the profile and the functions resolved in the target
//! binaries, each with the ids the kernel side sees (function index, 1-based layer id).

use std::path::PathBuf;

use crate::model::LayerInfo;

/// One function to probe (entry + return).
#[derive(Clone, Debug)]
pub struct PlannedProbe {
    pub layer: String,
    pub layer_id: u32,
    pub pattern: String,
    pub demangled: String,
    pub binary: PathBuf,
    pub file_offset: u64,
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
