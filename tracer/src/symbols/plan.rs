//! The probe plan of a run: the profile resolved in every target binary, one probe per
//! resolved function, with the ids the kernel side sees.

use anyhow::Result;
use std::path::PathBuf;

use super::resolve;
use crate::profile::probe_plan::{layer_infos, PlannedProbe, ProbePlan};
use crate::profile::{Pattern, Profile};

/// Resolves `profile` in every binary and plans one probe per resolved function. Patterns
/// that match nothing and stripped binaries are returned as warnings, never errors.
pub fn plan(
    profile: &Profile,
    binaries: &[PathBuf],
    uprobes: bool,
    budget: Option<u64>,
) -> Result<(ProbePlan, Vec<String>)> {
    let layers = layer_infos(profile);
    let mut probes = Vec::new();
    let mut warnings = Vec::new();
    if uprobes {
        for binary in binaries {
            let r = resolve::resolve(profile, binary)?;
            warnings.extend(r.unmatched_warnings().map(|u| {
                format!(
                    "{} pattern {:?} matches no function in {}{}",
                    u.layer,
                    u.pattern,
                    binary.display(),
                    if u.closest.is_empty() {
                        String::new()
                    } else {
                        format!(" (closest: {})", u.closest.join(", "))
                    }
                )
            }));
            warnings.extend(r.warnings.iter().cloned());
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
    Ok((
        ProbePlan {
            layers,
            probes,
            uprobes,
            budget,
            warnings: warnings.clone(),
            role_funcs,
            heartbeat_funcs,
        },
        warnings,
    ))
}
