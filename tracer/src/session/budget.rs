//! The probe budget (`--probe-budget N`): a uprobe hit costs ~10 µs here, so a function called
//! more than N times a second is unprobed mid-run, and the report says when and at what rate.
//! In: the kernel's per-function entry counts, every poll. Out: the [`Detached`] list the
//! snapshot carries. Never unprobes the last role function of a binary within the budget.

use anyhow::Result;
use std::time::Instant;

use crate::kernel::{attach::Attached, maps};
use crate::messages;
use crate::profile::probe_plan::{Detached, ProbePlan};

/// Removes the probes of functions called more often than the budget allows, every 250 ms.
pub(super) struct BudgetWatch {
    last: Instant,
    entries: std::collections::HashMap<u32, u64>,
    /// Functions unprobed so far, in order.
    pub(super) detached: Vec<Detached>,
}

impl BudgetWatch {
    pub(super) fn new() -> Self {
        BudgetWatch {
            last: Instant::now(),
            entries: Default::default(),
            detached: Vec::new(),
        }
    }

    pub(super) fn check(
        &mut self,
        attached: &mut Attached,
        plan: &ProbePlan,
        limit: u64,
        start: Instant,
    ) -> Result<()> {
        // Every quarter second: a hot function costs ~10 us a call until it is unprobed, so
        // waiting a whole second under load costs more than the rest of tracing.
        let dt = self.last.elapsed().as_secs_f64();
        if dt < 0.25 {
            return Ok(());
        }
        let now = maps::FunctionEntries::read(attached)?.per_function();
        let rate = |func: u32| {
            now.get(&func)
                .copied()
                .unwrap_or(0)
                .saturating_sub(self.entries.get(&func).copied().unwrap_or(0)) as f64
                / dt
        };
        let mut over: Vec<(u32, f64)> = now
            .keys()
            .map(|&f| (f, rate(f)))
            .filter(|&(f, r)| r > limit as f64 && !self.detached.iter().any(|d| d.func == f))
            .collect();
        // Roles depend on the role functions: a hot one is only removed while another role
        // function of the same binary stays probed within the budget (the leader's
        // `Raft::sendAppendEntries` runs thousands of times a second under load; roles then
        // rest on `Raft::doHeartBeat`). The last one left is never removed.
        over.retain(|&(func, _)| {
            if !plan.role_funcs.contains(&func) {
                return true;
            }
            let binary = plan.probes.get(func as usize).map(|p| &p.binary);
            plan.role_funcs.iter().any(|&other| {
                other != func
                    && plan.probes.get(other as usize).map(|p| &p.binary) == binary
                    && !self.detached.iter().any(|d| d.func == other)
                    && rate(other) <= limit as f64
            })
        });
        for (func, rate) in over {
            attached.unprobe_function(func)?;
            let name = plan
                .probes
                .get(func as usize)
                .map(|p| crate::cpp_names::qualified_name(&p.demangled))
                .unwrap_or_else(|| "?".into());
            messages::say(&format!(
                "{name}: {rate:.0} calls/s is over the probe budget ({limit}/s); its \
                 uprobes are removed and its layer is attributed by stacks from now on"
            ));
            self.detached.push(Detached {
                func,
                at_s: start.elapsed().as_secs_f64(),
                calls_per_s: rate,
            });
        }
        self.entries = now;
        self.last = Instant::now();
        Ok(())
    }
}
