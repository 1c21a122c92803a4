//! The probe plan of a run: the profile resolved in every target binary, one probe per
//! resolved function, with the ids the kernel side sees.
//!
//! [`plan_for`] is the whole planning step of `tracer run` (profile, `--no-probe` opt-outs,
//! resolution in the targets' executables); `cli` only turns flags into [`ProbeOptions`].

use anyhow::Result;
use std::path::PathBuf;

use super::resolve;
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
/// `--no-probe` opt-outs, resolved in the targets' `binaries` (`target::executables`).
/// Opt-outs and patterns that match nothing are warnings (printed once, kept in the plan for
/// the report), never errors.
pub fn plan_for(opts: &ProbeOptions, binaries: &[PathBuf]) -> Result<ProbePlan> {
    let mut profile = profile::load_or_default(opts.profile.as_deref())?;
    let mut warnings = Warnings::default();
    for pattern in &opts.no_probe {
        if !profile.opt_out(pattern) {
            warnings.warn(format!(
                "--no-probe {pattern:?} matches no probed pattern of the profile"
            ));
        }
    }
    plan(&profile, binaries, opts.uprobes, opts.budget, warnings)
}

/// Resolves `profile` in every binary and plans one probe per resolved function. Patterns
/// that match nothing and stripped binaries are warnings (given to `warnings`), never errors.
pub fn plan(
    profile: &Profile,
    binaries: &[PathBuf],
    uprobes: bool,
    budget: Option<u64>,
    mut warnings: Warnings,
) -> Result<ProbePlan> {
    let layers = layer_infos(profile);
    let mut probes = Vec::new();
    if uprobes {
        for binary in binaries {
            let r = resolve::resolve(profile, binary)?;
            for u in r.unmatched_warnings() {
                warnings.warn(format!(
                    "{} pattern {:?} matches no function in {}{}",
                    u.layer,
                    u.pattern,
                    binary.display(),
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
            for f in r.functions {
                let layer_id = layers
                    .iter()
                    .find(|l| l.name == f.layer)
                    .map(|l| l.id)
                    .unwrap_or(0);
                probes.push(PlannedProbe {
                    layer: f.layer,
                    layer_id,
                    pattern: f.pattern,
                    demangled: f.demangled,
                    binary: f.binary,
                    file_offset: f.file_offset,
                    entry_only: f.entry_only,
                });
            }
        }
    }
    let uprobes = uprobes && !probes.is_empty();
    let matching = |pats: &[Pattern]| -> Vec<u32> {
        probes
            .iter()
            .enumerate()
            .filter(|(_, p)| pats.iter().any(|pat| pat.matches(&p.demangled)))
            .map(|(i, _)| i as u32)
            .collect()
    };
    let role_funcs = matching(&profile.roles.leader_if_calls);
    let heartbeat_funcs =
        matching(&profile.roles.leader_if_calls[..profile.roles.leader_if_calls.len().min(1)]);
    Ok(ProbePlan {
        layers,
        probes,
        uprobes,
        budget,
        warnings,
        role_funcs,
        heartbeat_funcs,
    })
}
