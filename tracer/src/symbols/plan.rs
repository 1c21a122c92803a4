//! The probe plan of a run: the profile resolved in every object of every target (executables
//! and their shared libraries), one probe per function of a file, with the ids the kernel side
//! sees.
//!
//! [`plan_for`] is the whole planning step of `tracer run` (profile, `--no-probe` opt-outs,
//! resolution in the targets' objects); `cli` only turns flags into [`ProbeOptions`].
//! [`plan_late_objects`] extends a plan with objects the targets map later (`dlopen`).

use anyhow::Result;
use std::path::PathBuf;

use super::objects::{MappedObject, TargetObjects};
use super::resolve::{self, Resolution};
use crate::messages::Warnings;
use crate::profile::probe_plan::{layer_infos, PlannedProbe, ProbePlan};
use crate::profile::{self, Pattern, Profile};

/// What the user asked of probing: `--profile`, `--no-probe`, `--no-uprobes`, `--probe-budget`.
#[derive(Clone, Debug, Default)]
pub struct ProbeOptions {
    /// Layer profile file; None: the built-in one.
    pub profile: Option<PathBuf>,
    /// Patterns written exactly as in the profile, attributed by stack instead of probed.
    pub no_probe: Vec<String>,
    /// Attach uprobes at all.
    pub uprobes: bool,
    /// See [`ProbePlan::budget`].
    pub budget: Option<u64>,
}

/// The probe plan of a run: the profile (`--profile` or the built-in one) without the
/// `--no-probe` opt-outs, resolved in the objects of the `targets` (`target::objects`).
/// Opt-outs and patterns that match nothing are warnings (printed once, kept in the plan for
/// the report), never errors.
pub fn plan_for(opts: &ProbeOptions, targets: &[TargetObjects]) -> Result<ProbePlan> {
    let mut profile = profile::load_or_default(opts.profile.as_deref())?;
    let mut warnings = Warnings::default();
    for pattern in &opts.no_probe {
        if !profile.opt_out(pattern) {
            warnings.warn(format!(
                "--no-probe {pattern:?} matches no probed pattern of the profile"
            ));
        }
    }
    plan(&profile, targets, opts.uprobes, opts.budget, warnings)
}

/// Resolves `profile` in every object of every target and plans one probe per resolved
/// function. A library several targets map is one file (device, inode): its functions are
/// probed once. Patterns that match nothing, stripped objects and libraries the loader would
/// not find are warnings (given to `warnings`), never errors.
pub fn plan(
    profile: &Profile,
    targets: &[TargetObjects],
    uprobes: bool,
    budget: Option<u64>,
    mut warnings: Warnings,
) -> Result<ProbePlan> {
    let mut plan = ProbePlan {
        layers: layer_infos(profile),
        budget,
        role_patterns: profile.roles.leader_if_calls.clone(),
        // Without uprobes nothing is resolved later either.
        profile: uprobes.then(|| profile.clone()),
        ..ProbePlan::default()
    };
    if uprobes {
        for t in targets {
            for m in &t.missing {
                warnings.warn(m.clone());
            }
            let r = resolve::resolve_objects(profile, &t.executable, &t.objects)?;
            for u in r.unmatched_warnings() {
                warnings.warn(format!(
                    "{} pattern {:?} matches no function in {}{}{}",
                    u.layer,
                    u.pattern,
                    t.executable.display(),
                    libraries_note(&r),
                    if u.closest.is_empty() {
                        String::new()
                    } else {
                        format!(" (closest: {})", u.closest.join(", "))
                    }
                ));
            }
            for w in &r.warnings {
                warnings.warn(w.clone());
            }
            add_probes(&mut plan, r);
            remember_searched(&mut plan, &t.objects);
        }
    }
    plan.uprobes = uprobes && !plan.probes.is_empty();
    finish_roles(&mut plan, profile);
    plan.warnings = warnings;
    Ok(plan)
}

/// ` or its N libraries`, when it has any searched.
fn libraries_note(r: &Resolution) -> String {
    let libs = r.objects.iter().skip(1).filter(|o| o.searched).count();
    match libs {
        0 => String::new(),
        1 => " or its library".to_string(),
        n => format!(" or its {n} libraries"),
    }
}

/// Objects a target mapped after the plan was made (`dlopen`, a restarted process): resolves
/// the plan's profile in those not searched yet and appends their functions to the plan (and
/// their warnings to the plan's). Returns the ids of the new probes, to attach. Patterns that
/// match nothing there are no news (they were reported for the target already).
pub fn plan_late_objects(plan: &mut ProbePlan, objects: &[MappedObject]) -> Result<Vec<u32>> {
    let Some(profile) = plan.profile.clone() else {
        return Ok(Vec::new());
    };
    let new: Vec<MappedObject> = objects
        .iter()
        .filter(|o| o.id.is_none_or(|id| !plan.searched_objects.contains(&id)))
        .cloned()
        .collect();
    if new.is_empty() {
        return Ok(Vec::new());
    }
    remember_searched(plan, &new);
    let first = plan.probes.len() as u32;
    // Each object alone: a library is resolved as if it were the only object of a target.
    for obj in &new {
        let r = resolve::resolve_objects(&profile, &obj.path, std::slice::from_ref(obj))?;
        for w in &r.warnings {
            plan.warnings.warn(w.clone());
        }
        add_probes(plan, r);
    }
    let ids: Vec<u32> = (first..plan.probes.len() as u32).collect();
    if !ids.is_empty() {
        plan.uprobes = true;
        finish_roles(plan, &profile);
    }
    Ok(ids)
}

fn remember_searched(plan: &mut ProbePlan, objects: &[MappedObject]) {
    for id in objects.iter().filter_map(|o| o.id) {
        if !plan.searched_objects.contains(&id) {
            plan.searched_objects.push(id);
        }
    }
}

/// Appends the resolution's functions as probes, skipping functions of a file already planned
/// (another target maps the same library).
fn add_probes(plan: &mut ProbePlan, r: Resolution) {
    for f in r.functions {
        let same = |p: &PlannedProbe| {
            p.file_offset == f.file_offset
                && match (f.object_id, p.object_id) {
                    (Some(a), Some(b)) => a == b,
                    _ => p.binary == f.binary,
                }
        };
        if plan.probes.iter().any(same) {
            continue;
        }
        let layer_id = plan
            .layers
            .iter()
            .find(|l| l.name == f.layer)
            .map(|l| l.id)
            .unwrap_or(0);
        plan.probes.push(PlannedProbe {
            layer: f.layer,
            layer_id,
            pattern: f.pattern,
            demangled: f.demangled,
            binary: f.binary,
            object: f.object,
            object_id: f.object_id,
            file_offset: f.file_offset,
            entry_only: f.entry_only,
        });
    }
}

/// The probes of the role functions: `[roles] leader_if_calls`, the first one the heartbeat.
fn finish_roles(plan: &mut ProbePlan, profile: &Profile) {
    let matching = |pats: &[Pattern]| -> Vec<u32> {
        plan.probes
            .iter()
            .enumerate()
            .filter(|(_, p)| pats.iter().any(|pat| pat.matches(&p.demangled)))
            .map(|(i, _)| i as u32)
            .collect()
    };
    let leader = &profile.roles.leader_if_calls;
    plan.role_funcs = matching(leader);
    plan.heartbeat_funcs = matching(&leader[..leader.len().min(1)]);
}
