//! Objects the targets map after the plan was made: libraries `dlopen`ed at run time, the
//! program a traced child `exec`s, a restarted node's new build. The profile is resolved in
//! each such object once (by file identity) and its functions are probed from then on.
//!
//! Young processes are looked at every poll (they are still loading), every process now and
//! then (a plugin loaded an hour in).

use anyhow::Result;
use std::time::{Duration, Instant};

use crate::kernel::attach::Attached;
use crate::messages;
use crate::profile::probe_plan::ProbePlan;
use crate::symbols::objects;
use crate::symbols::plan::plan_late_objects;

/// How often every live process's objects are looked at (young ones: every poll).
const EVERY: Duration = Duration::from_secs(2);

/// Watches the targets' maps for objects not resolved yet.
pub struct LateObjects {
    last_all: Instant,
}

impl Default for LateObjects {
    fn default() -> Self {
        LateObjects {
            last_all: Instant::now(),
        }
    }
}

impl LateObjects {
    /// Resolves the plan's profile in objects of `young` (and, every [`EVERY`], of `live`)
    /// that were never searched, and probes what they hold. Nothing to do without a profile
    /// (`--no-uprobes`). A function that cannot be probed is a warning, as at the start.
    pub fn check(
        &mut self,
        attached: &mut Attached,
        plan: &mut ProbePlan,
        young: &[u32],
        live: &[u32],
    ) -> Result<()> {
        if plan.profile.is_none() {
            return Ok(());
        }
        let pids = if self.last_all.elapsed() >= EVERY {
            self.last_all = Instant::now();
            live
        } else {
            young
        };
        if pids.is_empty() {
            return Ok(());
        }
        let found = objects::objects_of_pids(pids);
        for id in plan_late_objects(plan, &found)? {
            let p = plan.probes[id as usize].clone();
            match attached.probe_function(&p.binary, p.file_offset, id, p.layer_id, p.entry_only) {
                Ok(()) => messages::say(&format!(
                    "probing {} in {} (mapped after the start)",
                    p.demangled,
                    objects::object_label(&p.object)
                )),
                Err(err) => plan.warnings.warn(format!(
                    "cannot probe {}: {}",
                    p.demangled,
                    crate::kernel::explain::explain_attach_error(&err)
                )),
            }
        }
        Ok(())
    }
}
