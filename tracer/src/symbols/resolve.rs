//! Symbol resolution: which functions of a target's objects each profile pattern names, and
//! where a uprobe attaches to each (file offset). Pure user space: no BPF, no root for a file.
//!
//! A target runs an executable and shared libraries ([`super::objects`]). An unqualified
//! pattern is searched in the executable and every library of the application; a pattern
//! with an object qualifier (`libc:fsync`) only in the objects it names, system libraries
//! included. System libraries no pattern names are never read. A pattern is unmatched only
//! when no searched object has it, and the nearest names come from every object searched.

use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::elf::{ElfFunction, ElfFunctions};
use super::objects::{FileId, MappedObject, ObjectKind};
use super::{elf, hot};
use crate::cpp_names::split_scopes;
use crate::profile::{Pattern, Profile};

/// A function to probe: one per entry address of an object, the first layer and pattern that
/// matched it.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedFunction {
    pub layer: String,
    /// The pattern as written in the profile.
    pub pattern: String,
    pub demangled: String,
    pub mangled: String,
    /// A path that opens the object it is in: what the uprobe attaches to.
    pub binary: PathBuf,
    /// The object it was found in, as the process or the loader names it (what outputs show).
    pub object: PathBuf,
    /// (device, inode) of the object: probes are per file, not per path.
    #[serde(skip)]
    pub object_id: Option<FileId>,
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
    /// Up to 3 nearest qualified names in the searched objects, nearest first.
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

/// One object of the target and what resolution did with it.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    pub path: PathBuf,
    pub kind: ObjectKind,
    /// Some pattern searched it (system libraries only for patterns that name them).
    pub searched: bool,
    /// No `.symtab`: only exported (`.dynsym`) functions could be found in it.
    pub stripped: bool,
    /// Functions to probe found in it.
    pub functions: usize,
    /// Why it could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything the dry run shows and the attach step needs for one target executable.
#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    /// The target's executable.
    pub binary: PathBuf,
    /// The executable first, then its libraries.
    pub objects: Vec<ObjectReport>,
    /// Layer order, then pattern order, then object, then address.
    pub functions: Vec<ResolvedFunction>,
    pub unmatched: Vec<Unmatched>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
    /// The executable has no `.symtab`: only exported (`.dynsym`) functions can be found.
    pub stripped: bool,
}

impl Resolution {
    /// Patterns that matched nothing (not counting other spellings of a matched pattern).
    pub fn unmatched_warnings(&self) -> impl Iterator<Item = &Unmatched> {
        self.unmatched.iter().filter(|u| u.is_warning())
    }
}

/// Resolves every `functions` pattern of `profile` in the one ELF file `binary` (its libraries
/// are not followed: see [`resolve_objects`]).
pub fn resolve(profile: &Profile, binary: &Path) -> Result<Resolution> {
    let elf = elf::read_functions(binary)?;
    let object = MappedObject {
        path: binary.to_path_buf(),
        open_path: binary.to_path_buf(),
        id: super::objects::file_id(binary),
        kind: ObjectKind::Executable,
        pids: Vec::new(),
    };
    Ok(resolve_in(profile, binary, &[(object, Ok(elf))]))
}

/// Resolves `profile` in the objects of one target, `objects[0]` being its executable (as
/// [`super::objects`] lists them). Objects no pattern searches are not read; an object that
/// cannot be read is a warning (unless it is the executable: an error).
pub fn resolve_objects(
    profile: &Profile,
    binary: &Path,
    objects: &[MappedObject],
) -> Result<Resolution> {
    let mut read = Vec::new();
    for obj in objects {
        let searched = searches(profile, obj);
        let elf = if searched {
            match elf::read_functions(&obj.open_path) {
                Err(e) if obj.kind == ObjectKind::Executable => return Err(e),
                r => r.map_err(|e| format!("{e:#}")),
            }
        } else {
            Err(String::new())
        };
        read.push((obj.clone(), elf));
    }
    Ok(resolve_in(profile, binary, &read))
}

/// Whether pattern `p` is searched in `obj`.
pub(crate) fn pattern_searches(p: &Pattern, obj: &MappedObject) -> bool {
    match &p.object {
        Some(name) => name.matches(&obj.path),
        None => obj.kind != ObjectKind::SystemLibrary,
    }
}

/// Whether any probed pattern of `profile` is searched in `obj`.
fn searches(profile: &Profile, obj: &MappedObject) -> bool {
    profile
        .layers
        .iter()
        .flat_map(|l| l.functions.iter().chain(&l.entry_only))
        .any(|p| pattern_searches(p, obj))
}

/// [`resolve_objects`] on already-read symbols (`Err("")`: not searched; `Err(why)`: unreadable).
fn resolve_in(
    profile: &Profile,
    binary: &Path,
    objects: &[(MappedObject, std::result::Result<ElfFunctions, String>)],
) -> Resolution {
    let mut res = Resolution {
        binary: binary.to_path_buf(),
        objects: Vec::new(),
        functions: Vec::new(),
        unmatched: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        stripped: false,
    };
    for (obj, elf) in objects {
        let stripped = elf.as_ref().is_ok_and(|e| !e.has_symtab);
        if obj.kind == ObjectKind::Executable && stripped {
            res.stripped = true;
        }
        res.objects.push(ObjectReport {
            path: obj.path.clone(),
            kind: obj.kind,
            searched: elf.is_ok(),
            stripped,
            functions: 0,
            error: elf.as_ref().err().filter(|e| !e.is_empty()).cloned(),
        });
        if let Err(e) = elf {
            if !e.is_empty() {
                res.warnings.push(format!(
                    "cannot read the symbols of {}: {e}",
                    obj.path.display()
                ));
            }
        }
    }
    let readable: Vec<(usize, &MappedObject, &ElfFunctions)> = objects
        .iter()
        .enumerate()
        .filter_map(|(i, (o, e))| e.as_ref().ok().map(|e| (i, o, e)))
        .collect();
    // (object index, entry address) → index into res.functions: one probe per address.
    let mut by_address: HashMap<(usize, u64), usize> = HashMap::new();
    let suggestions = Suggestions::new(readable.iter().flat_map(|(_, _, e)| &e.functions));
    for layer in &profile.layers {
        let listed = layer
            .functions
            .iter()
            .map(|p| (p, false))
            .chain(layer.entry_only.iter().map(|p| (p, true)));
        for (pattern, entry_only) in listed {
            let mut alt_hit = vec![false; pattern.alternatives.len()];
            for &(oi, obj, elf) in &readable {
                if !pattern_searches(pattern, obj) {
                    continue;
                }
                for f in &elf.functions {
                    let Some(alt) = pattern.matching_alternative(&f.demangled) else {
                        continue;
                    };
                    alt_hit[alt] = true;
                    let m = Match {
                        layer: &layer.name,
                        pattern,
                        f,
                        object: obj,
                        object_index: oi,
                        entry_only,
                    };
                    if add_match(&mut res, &mut by_address, m) {
                        res.objects[oi].functions += 1;
                    }
                }
            }
            record_unmatched(&mut res, &suggestions, &layer.name, pattern, &alt_hit);
        }
    }
    let missing: Vec<&str> = res
        .unmatched_warnings()
        .map(|u| u.pattern.as_str())
        .collect();
    if !missing.is_empty() {
        let stripped: Vec<String> = res
            .objects
            .iter()
            .filter(|o| o.stripped && o.kind != ObjectKind::SystemLibrary)
            .map(|o| o.path.display().to_string())
            .collect();
        if !stripped.is_empty() {
            let warning = format!(
                "{} is stripped: no .symtab, only exported functions (.dynsym) can be found; \
                 {} pattern(s) unresolved: {}; rebuild with symbols or point --binary at an \
                 unstripped copy",
                stripped.join(", "),
                missing.len(),
                missing.join(", ")
            );
            res.warnings.insert(0, warning);
        }
    }
    res
}

/// One symbol a pattern matched, and where.
struct Match<'a> {
    layer: &'a str,
    pattern: &'a Pattern,
    f: &'a ElfFunction,
    object: &'a MappedObject,
    object_index: usize,
    entry_only: bool,
}

/// Adds a match; returns whether it is a new function to probe.
fn add_match(
    res: &mut Resolution,
    by_address: &mut HashMap<(usize, u64), usize>,
    m: Match<'_>,
) -> bool {
    let Match {
        layer,
        pattern,
        f,
        object,
        object_index,
        entry_only,
    } = m;
    if f.is_cold_part() {
        res.skipped.push(Skipped {
            layer: layer.to_string(),
            pattern: pattern.text.clone(),
            demangled: f.demangled.clone(),
            address: f.address,
            reason: "`.cold` part split off by the compiler: not a function entry".to_string(),
        });
        return false;
    }
    if let Some(&i) = by_address.get(&(object_index, f.address)) {
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
        return false;
    }
    if f.is_partial_inline_part() {
        res.warnings.push(format!(
            "{}: a partially inlined part; its count covers only calls that reached the \
             outlined code",
            f.demangled
        ));
    }
    by_address.insert((object_index, f.address), res.functions.len());
    res.functions.push(ResolvedFunction {
        layer: layer.to_string(),
        pattern: pattern.text.clone(),
        demangled: f.demangled.clone(),
        mangled: f.mangled.clone(),
        binary: object.open_path.clone(),
        object: object.path.clone(),
        object_id: object.id,
        address: f.address,
        file_offset: f.file_offset,
        size: f.size,
        from_dynsym_only: f.in_dynsym && !f.in_symtab,
        hot_warning: hot::hot_warning(&f.qualified, f.size),
        aliases: Vec::new(),
        entry_only,
    });
    true
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
    fn new<'a>(functions: impl Iterator<Item = &'a ElfFunction>) -> Self {
        let names: BTreeSet<&str> = functions.map(|f| f.qualified.as_str()).collect();
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
