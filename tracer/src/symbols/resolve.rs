//! Symbol resolution: which functions of a target binary each profile pattern names, and where
//! a uprobe attaches to each (file offset). Pure user space: no BPF, no root for a file.
//!
//! Only the executable's `.symtab` and `.dynsym` are searched: the probed layer functions are the
//! application's own code, and patterns that live in shared libraries (libstdc++, protobuf) are
//! `stack_only`, which needs no resolving.

use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::elf::{ElfFunction, ElfFunctions};
use super::{elf, hot};
use crate::cpp_names::split_scopes;
use crate::profile::{Pattern, Profile};

/// A function to probe: one per entry address, the first layer and pattern that matched it.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedFunction {
    pub layer: String,
    /// The pattern as written in the profile.
    pub pattern: String,
    pub demangled: String,
    pub mangled: String,
    pub binary: PathBuf,
    /// `st_value`.
    pub address: u64,
    /// What aya's `UProbeAttachLocation::AbsoluteOffset` needs.
    pub file_offset: u64,
    pub size: u64,
    /// Found only in `.dynsym` (a stripped binary still exports it).
    pub from_dynsym_only: bool,
    /// Why probing it may be expensive ([`hot::hot_warning`]).
    pub hot_warning: Option<String>,
    /// Other mangled names at the same address (C1/C2 constructors, ICF-folded functions).
    pub aliases: Vec<String>,
    /// From the layer's `entry_only` list: probe the entry, never the return.
    pub entry_only: bool,
}

/// A pattern (or one alternative of a brace pattern) that matched no function.
#[derive(Debug, Clone, Serialize)]
pub struct Unmatched {
    pub layer: String,
    /// The whole pattern, or the one alternative that matched nothing.
    pub pattern: String,
    /// Up to 3 nearest qualified names in the binary, nearest first.
    pub closest: Vec<String>,
    /// Set when `pattern` is one alternative of this brace pattern and another alternative did
    /// match (a fork's other spelling): informational, not a warning.
    pub alternative_of: Option<String>,
}

impl Unmatched {
    /// A pattern that resolved to nothing at all (the user should hear about it).
    pub fn is_warning(&self) -> bool {
        self.alternative_of.is_none()
    }
}

/// A symbol a pattern matched that is deliberately not probed.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub layer: String,
    pub pattern: String,
    pub demangled: String,
    pub address: u64,
    pub reason: String,
}

/// Everything the dry run shows and the attach step needs for one binary.
#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    pub binary: PathBuf,
    /// Layer order, then pattern order, then address.
    pub functions: Vec<ResolvedFunction>,
    pub unmatched: Vec<Unmatched>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
    /// No `.symtab`: only exported (`.dynsym`) functions can be found.
    pub stripped: bool,
}

impl Resolution {
    /// Patterns that matched nothing (not counting other spellings of a matched pattern).
    pub fn unmatched_warnings(&self) -> impl Iterator<Item = &Unmatched> {
        self.unmatched.iter().filter(|u| u.is_warning())
    }
}

/// Resolves every `functions` pattern of `profile` in the ELF file `binary`.
pub fn resolve(profile: &Profile, binary: &Path) -> Result<Resolution> {
    let elf = elf::read_functions(binary)?;
    Ok(resolve_in(profile, binary, &elf))
}

/// [`resolve`] on already-read symbols.
fn resolve_in(profile: &Profile, binary: &Path, elf: &ElfFunctions) -> Resolution {
    let mut res = Resolution {
        binary: binary.to_path_buf(),
        functions: Vec::new(),
        unmatched: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        stripped: !elf.has_symtab,
    };
    // Entry address → index into res.functions: one probe per address.
    let mut by_address: HashMap<u64, usize> = HashMap::new();
    let suggestions = Suggestions::new(&elf.functions);
    for layer in &profile.layers {
        let listed = layer
            .functions
            .iter()
            .map(|p| (p, false))
            .chain(layer.entry_only.iter().map(|p| (p, true)));
        for (pattern, entry_only) in listed {
            let mut alt_hit = vec![false; pattern.alternatives.len()];
            for f in &elf.functions {
                let Some(alt) = pattern.matching_alternative(&f.demangled) else {
                    continue;
                };
                alt_hit[alt] = true;
                add_match(
                    &mut res,
                    &mut by_address,
                    &layer.name,
                    pattern,
                    f,
                    binary,
                    entry_only,
                );
            }
            record_unmatched(&mut res, &suggestions, &layer.name, pattern, &alt_hit);
        }
    }
    if res.stripped {
        let missing: Vec<&str> = res
            .unmatched_warnings()
            .map(|u| u.pattern.as_str())
            .collect();
        if !missing.is_empty() {
            res.warnings.insert(
                0,
                format!(
                    "{} is stripped: no .symtab, only exported functions (.dynsym) can be found; \
                     {} pattern(s) unresolved: {}; rebuild with symbols or point --binary at an \
                     unstripped copy",
                    binary.display(),
                    missing.len(),
                    missing.join(", ")
                ),
            );
        }
    }
    res
}

fn add_match(
    res: &mut Resolution,
    by_address: &mut HashMap<u64, usize>,
    layer: &str,
    pattern: &Pattern,
    f: &ElfFunction,
    binary: &Path,
    entry_only: bool,
) {
    if f.is_cold_part() {
        res.skipped.push(Skipped {
            layer: layer.to_string(),
            pattern: pattern.text.clone(),
            demangled: f.demangled.clone(),
            address: f.address,
            reason: "`.cold` part split off by the compiler: not a function entry".to_string(),
        });
        return;
    }
    if let Some(&i) = by_address.get(&f.address) {
        let first = &mut res.functions[i];
        if first.mangled != f.mangled && !first.aliases.contains(&f.mangled) {
            first.aliases.push(f.mangled.clone());
        }
        if first.layer != layer {
            res.warnings.push(format!(
                "{} is matched by layer {} (`{}`) and layer {layer} (`{}`): probed once, \
                 attributed to {}",
                f.demangled, first.layer, first.pattern, pattern.text, first.layer
            ));
        }
        return;
    }
    if f.is_partial_inline_part() {
        res.warnings.push(format!(
            "{}: a partially inlined part; its count covers only calls that reached the \
             outlined code",
            f.demangled
        ));
    }
    by_address.insert(f.address, res.functions.len());
    res.functions.push(ResolvedFunction {
        layer: layer.to_string(),
        pattern: pattern.text.clone(),
        demangled: f.demangled.clone(),
        mangled: f.mangled.clone(),
        binary: binary.to_path_buf(),
        address: f.address,
        file_offset: f.file_offset,
        size: f.size,
        from_dynsym_only: f.in_dynsym && !f.in_symtab,
        hot_warning: hot::hot_warning(&f.qualified, f.size),
        aliases: Vec::new(),
        entry_only,
    });
}

fn record_unmatched(
    res: &mut Resolution,
    suggestions: &Suggestions,
    layer: &str,
    pattern: &Pattern,
    alt_hit: &[bool],
) {
    let any_hit = alt_hit.iter().any(|&h| h);
    if !any_hit {
        res.unmatched.push(Unmatched {
            layer: layer.to_string(),
            pattern: pattern.text.clone(),
            closest: suggestions.closest(&pattern.alternatives, 3),
            alternative_of: None,
        });
        return;
    }
    if pattern.alternatives.len() < 2 {
        return;
    }
    for (alt, _) in pattern
        .alternatives
        .iter()
        .zip(alt_hit)
        .filter(|(_, &hit)| !hit)
    {
        res.unmatched.push(Unmatched {
            layer: layer.to_string(),
            pattern: alt.clone(),
            closest: suggestions.closest(std::slice::from_ref(alt), 3),
            alternative_of: Some(pattern.text.clone()),
        });
    }
}

/// "Did you mean": the distinct qualified names of a binary's functions.
struct Suggestions {
    /// (as spelled, lower-cased)
    names: Vec<(String, String)>,
}

impl Suggestions {
    fn new(functions: &[ElfFunction]) -> Self {
        let names: BTreeSet<&str> = functions.iter().map(|f| f.qualified.as_str()).collect();
        Suggestions {
            names: names
                .into_iter()
                .map(|n| (n.to_string(), n.to_lowercase()))
                .collect(),
        }
    }

    /// The `n` names nearest to any of `alternatives` by edit distance, comparing with the
    /// whole qualified name and with as many innermost components as the pattern has (so
    /// `Raft::applierTicker` is near `kv::Raft::applier`), case-insensitively.
    fn closest(&self, alternatives: &[String], n: usize) -> Vec<String> {
        let alternatives: Vec<String> = alternatives.iter().map(|a| a.to_lowercase()).collect();
        // The best n so far, sorted; names that cannot beat the worst of them are not scored.
        let mut best: Vec<(usize, &String)> = Vec::with_capacity(n + 1);
        for (name, lower) in &self.names {
            let bound = if best.len() == n {
                best[n - 1].0
            } else {
                usize::MAX
            };
            let score = alternatives
                .iter()
                .map(|alt| distance(alt, lower, bound))
                .min()
                .unwrap_or(usize::MAX);
            if score > bound {
                continue;
            }
            best.push((score, name));
            best.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then(a.1.len().cmp(&b.1.len()))
                    .then(a.1.cmp(b.1))
            });
            best.truncate(n);
        }
        best.into_iter().map(|(_, s)| s.clone()).collect()
    }
}

/// Edit distance of a lower-cased pattern to a lower-cased name: the smaller of the distance to
/// the name's innermost components (as many as the pattern has) and to the whole name. Lengths
/// bound the distance from below, so a name that cannot score `bound` or better is answered
/// `bound + 1` without computing anything: binaries hold tens of thousands of long names.
fn distance(pattern: &str, name: &str, bound: usize) -> usize {
    let want = split_scopes(pattern).len();
    let have = split_scopes(name);
    let tail = have[have.len().saturating_sub(want)..].join("::");
    let mut best = bound.saturating_add(1);
    for candidate in [tail.as_str(), name] {
        if pattern.len().abs_diff(candidate.len()) < best {
            best = best.min(strsim::levenshtein(pattern, candidate));
        }
    }
    best
}

/// The executables of `pids`, one entry per file with the processes running it, in first-seen
/// order. Files are compared by identity (device, inode), not path: processes still running a
/// replaced (deleted) executable are each named by their own `/proc/PID/exe`, and probing the
/// one file once per path would stack uprobes. Pids whose executable cannot be read are left
/// out (`binary_of_pid` says why when asked directly).
pub fn binaries_of_pids(pids: &[u32]) -> Vec<(PathBuf, Vec<u32>)> {
    use std::os::unix::fs::MetadataExt;
    /// (device, inode) of a file.
    type FileId = Option<(u64, u64)>;
    let mut out: Vec<(PathBuf, FileId, Vec<u32>)> = Vec::new();
    for &pid in pids {
        let Ok(bin) = binary_of_pid(pid) else {
            continue;
        };
        let id = std::fs::metadata(&bin).ok().map(|m| (m.dev(), m.ino()));
        match out
            .iter_mut()
            .find(|(b, i, _)| if id.is_some() { *i == id } else { *b == bin })
        {
            Some((_, _, ps)) => ps.push(pid),
            None => out.push((bin, id, vec![pid])),
        }
    }
    out.into_iter().map(|(b, _, ps)| (b, ps)).collect()
}

/// The executable of a running process, for resolving its symbols and attaching uprobes.
///
/// When the file was replaced or deleted since the process started (a rebuild during a run),
/// `/proc/PID/exe` itself is returned: it still opens the inode the process runs.
pub fn binary_of_pid(pid: u32) -> Result<PathBuf> {
    let link = PathBuf::from(format!("/proc/{pid}/exe"));
    let target = std::fs::read_link(&link).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("no process with pid {pid}"),
        std::io::ErrorKind::PermissionDenied => anyhow::anyhow!(
            "cannot read {}: permission denied (the process belongs to another user: run as \
             root, or use --binary PATH on its executable)",
            link.display()
        ),
        _ => anyhow::Error::new(e).context(format!("reading {}", link.display())),
    })?;
    let deleted = target.to_string_lossy().ends_with(" (deleted)");
    if deleted || !target.is_file() {
        std::fs::metadata(&link)
            .with_context(|| format!("process {pid} has no readable executable"))?;
        return Ok(link);
    }
    Ok(target)
}
