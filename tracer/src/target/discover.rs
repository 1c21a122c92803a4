//! Discovery: `tracer run` with no `--pid`, `--comm` or command finds the cluster itself.
//!
//! 1. **Scan** ([`discover`]): every process of the host (or, with `--under PID`, of one
//!    process tree), grouped by executable file (device, inode), as `--comm` groups them.
//!    Each group's objects are the executable and the application libraries its processes
//!    map (`/proc/PID/maps`): a fork whose Raft code lives in `libraftcore.so` is found by
//!    that library. Every object is judged once, however many processes map it: a look at its
//!    string tables (`.strtab`, `.dynstr`: no symbol is demangled) rules out objects whose
//!    names cannot hold a role function or [`MIN_PATTERNS`] patterns, and only the others have
//!    their symbols read and matched with the profile's patterns. A host of thousands of
//!    processes runs a few dozen executables, nearly all ruled out by that look.
//! 2. **Pick**: the executables whose objects resolve a role function (`[roles]
//!    leader_if_calls`) or at least [`MIN_PATTERNS`] probed patterns. All their processes are
//!    traced from the start.
//! 3. **Confirm** (during the run, `session/discovery.rs`): a process of a picked executable is
//!    a node once it has entered a probed function. One that has not within
//!    [`OBSERVE`] (a paused launcher: the same binary, waiting for its children) is not a
//!    node: it stops being traced and its records are dropped (`Attached::forget_target`).
//!    New processes of the picked executables (a restarted node) are found by rescanning,
//!    like `--comm` does, and confirmed the same way.
//!
//! Patterns with an object qualifier that names a system library (`libc:fsync`) do not count:
//! every process maps libc.

use anyhow::{bail, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::profile::{Pattern, Profile};
use crate::symbols::objects::{is_system_path, FileId, MappedObject, ObjectKind};
use crate::symbols::{elf, resolve};
use crate::target::procfs;

/// An executable resolving this many probed patterns of the profile (or one role function)
/// runs Raft code of the profile's family: one or two names (`Service::Put`, a `Persister`)
/// are common in unrelated programs, three of a Raft KV node's layers are not.
pub const MIN_PATTERNS: usize = 3;

/// How long a process of a picked executable has to enter a probed function before it is
/// judged not a node. A node of this family calls its heartbeat (leader) or handles one
/// (follower) every 25-100 ms, and its election ticker runs every few hundred ms.
pub const OBSERVE: Duration = Duration::from_secs(1);

/// What discovery found on the host.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// Executables picked (their processes are traced), most patterns first.
    pub picked: Vec<Executable>,
    /// Executables resolving at least one pattern but not picked, most patterns first: the
    /// closest candidates when nothing is picked.
    pub near: Vec<Executable>,
    /// `--under PID`: only that process and its descendants were looked at.
    pub under: Option<u32>,
    /// Processes looked at (kernel threads and tracer itself are not).
    pub processes: usize,
    /// Distinct executables among them.
    pub executables: usize,
    /// Objects whose symbols were read in full (the others were ruled out by their names).
    pub symbol_tables_read: usize,
    /// Probed patterns of the profile that count.
    pub patterns: usize,
    pub elapsed: Duration,
}

/// One executable file and what its processes run of the profile.
#[derive(Clone, Debug)]
pub struct Executable {
    /// As `/proc/PID/exe` names it.
    pub path: PathBuf,
    pub id: FileId,
    /// Its processes, ascending.
    pub pids: Vec<u32>,
    /// `comm` of its first process.
    pub comm: String,
    /// Probed patterns resolved in its objects, in profile order.
    pub patterns: Vec<String>,
    /// Role patterns (`[roles] leader_if_calls`) resolved in its objects.
    pub roles: Vec<String>,
    /// Application libraries where some pattern resolved (a fork's `libraftcore.so`).
    pub libraries: Vec<PathBuf>,
}

impl Executable {
    /// Runs Raft code of the profile's family (see [`MIN_PATTERNS`]).
    pub fn is_picked(&self) -> bool {
        !self.roles.is_empty() || self.patterns.len() >= MIN_PATTERNS
    }

    /// `/path (in libraftcore.so)` when the patterns resolved in a library.
    pub fn describe(&self) -> String {
        if self.libraries.is_empty() {
            return self.path.display().to_string();
        }
        let libs: Vec<String> = self
            .libraries
            .iter()
            .map(|l| crate::symbols::objects::object_label(l))
            .collect();
        format!("{} (Raft code in {})", self.path.display(), libs.join(", "))
    }
}

impl Discovery {
    /// Pids of every process of the picked executables.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.picked.iter().flat_map(|e| e.pids.clone()).collect();
        pids.sort_unstable();
        pids
    }

    /// The picked executable `pid` runs, if any (by file identity).
    pub fn executable_of(&self, pid: u32) -> Option<&Executable> {
        let id = exe_id(pid)?;
        self.picked.iter().find(|e| e.id == id)
    }

    /// The line that says what was looked at and what was picked.
    pub fn summary(&self) -> String {
        let scope = match self.under {
            Some(pid) => format!("pid {pid} and its descendants: "),
            None => String::new(),
        };
        let mut s = format!(
            "discovery looked at {scope}{} processes ({} executables, {} symbol tables read) in \
             {:.2} s",
            self.processes,
            self.executables,
            self.symbol_tables_read,
            self.elapsed.as_secs_f64()
        );
        for e in &self.picked {
            let roles = if e.roles.is_empty() {
                String::new()
            } else {
                format!(" and the role functions ({})", e.roles.join(", "))
            };
            s.push_str(&format!(
                "; {} {} of {} resolve {} of {} patterns{roles}",
                e.pids.len(),
                plural(e.pids.len(), "process", "processes"),
                e.describe(),
                e.patterns.len(),
                self.patterns,
            ));
        }
        s
    }

    /// The error when no executable is picked: what was looked at, the closest candidates
    /// and how to pick a process anyway.
    pub fn nothing_found(&self) -> String {
        let mut s = format!(
            "no Raft node found: {} processes ({} executables) looked at{} in {:.2} s, none \
             runs a role function or {MIN_PATTERNS} of the profile's {} patterns.",
            self.processes,
            self.executables,
            self.under
                .map(|p| format!(" under pid {p}"))
                .unwrap_or_default(),
            self.elapsed.as_secs_f64(),
            self.patterns
        );
        s.push_str(&self.candidates_text(&self.near));
        s
    }

    /// The closest candidates (most patterns first) and how to pick them.
    pub fn candidates_text(&self, candidates: &[Executable]) -> String {
        let mut s = String::new();
        if candidates.is_empty() {
            s.push_str(
                " No process resolves any pattern. Is the cluster running on this host? Trace \
                 one anyway with --pid PID or --comm NAME; for a fork with other names write a \
                 profile from its symbols: tracer profile --suggest --pid PID -o fork.toml, then \
                 tracer run --profile fork.toml",
            );
            return s;
        }
        s.push_str(" Closest candidates:");
        for e in candidates.iter().take(5) {
            s.push_str(&format!(
                "\n  {} ({}, pid {}): {} of {} patterns{}",
                e.comm,
                e.describe(),
                e.pids
                    .iter()
                    .take(8)
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                e.patterns.len(),
                self.patterns,
                if e.patterns.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.patterns.join(", "))
                }
            ));
        }
        let first = &candidates[0];
        s.push_str(&format!(
            "\nTo trace one anyway: tracer run --pid {} (repeat --pid for every node) or --comm \
             {}; if it is a fork with other names: tracer profile --suggest --pid {} -o \
             fork.toml, then tracer run --profile fork.toml",
            first.pids[0], first.comm, first.pids[0]
        ));
        s
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// (device, inode) of the executable `pid` runs (`/proc/PID/exe` followed, so a deleted or
/// replaced file is still the one it runs).
pub fn exe_id(pid: u32) -> Option<FileId> {
    std::fs::metadata(format!("/proc/{pid}/exe"))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Finds the processes that run Raft code of `profile`: every process of the host, or of
/// the tree under `under`. Errors (with the closest candidates) when no executable is picked.
pub fn discover(profile: &Profile, under: Option<u32>) -> Result<Discovery> {
    let d = scan(profile, under);
    if d.picked.is_empty() {
        bail!("{}", d.nothing_found());
    }
    Ok(d)
}

/// One process as the scan sees it.
struct Seen {
    pid: u32,
    exe: PathBuf,
    exe_id: FileId,
}

/// [`discover`] without the error: what the scan found, picked or not.
pub fn scan(profile: &Profile, under: Option<u32>) -> Discovery {
    let started = Instant::now();
    let counted = CountedPatterns::of(profile);
    let me = std::process::id();
    let pids: Vec<u32> = match under {
        Some(root) => descendants(root),
        None => all_pids(),
    };
    let mut seen = Vec::new();
    for pid in pids {
        if pid == me {
            continue;
        }
        // Kernel threads have no executable.
        let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
            continue;
        };
        let Some(id) = exe_id(pid) else {
            continue;
        };
        seen.push(Seen {
            pid,
            exe,
            exe_id: id,
        });
    }
    // Executables, by file identity.
    let mut groups: BTreeMap<FileId, Vec<&Seen>> = BTreeMap::new();
    for s in &seen {
        groups.entry(s.exe_id).or_default().push(s);
    }
    let mut judge = Judge::new(&counted);
    let mut executables = Vec::new();
    for (id, procs) in &groups {
        let first = procs[0];
        let mut verdict = judge.object(
            id,
            &PathBuf::from(format!("/proc/{}/exe", first.pid)),
            &first.exe,
            ObjectKind::Executable,
        );
        // The application libraries any of its processes maps (each judged once).
        let mut libraries = Vec::new();
        let mut libs_seen: HashSet<(String, u64)> = HashSet::new();
        for p in procs {
            for lib in mapped_libraries(p.pid) {
                if !libs_seen.insert((lib.dev.clone(), lib.inode)) {
                    continue;
                }
                let Some(lib_id) = crate::symbols::objects::file_id(&lib.open_path) else {
                    continue;
                };
                if lib_id == *id {
                    continue;
                }
                let v = judge.object(&lib_id, &lib.open_path, &lib.path, ObjectKind::Library);
                if !v.patterns.is_empty() || !v.roles.is_empty() {
                    libraries.push(lib.path.clone());
                }
                verdict.add(&v);
            }
        }
        let mut pids: Vec<u32> = procs.iter().map(|p| p.pid).collect();
        pids.sort_unstable();
        executables.push(Executable {
            path: first.exe.clone(),
            id: *id,
            comm: procfs::comm(pids[0]).unwrap_or_else(|| "?".into()),
            pids,
            patterns: counted.texts(&verdict.patterns, &counted.probed),
            roles: counted.texts(&verdict.roles, &counted.roles),
            libraries,
        });
    }
    let by_matches = |a: &Executable, b: &Executable| {
        (b.roles.len() + b.patterns.len())
            .cmp(&(a.roles.len() + a.patterns.len()))
            .then(a.path.cmp(&b.path))
    };
    let (mut picked, mut near): (Vec<_>, Vec<_>) =
        executables.into_iter().partition(Executable::is_picked);
    near.retain(|e| !e.patterns.is_empty() || !e.roles.is_empty());
    picked.sort_by(by_matches);
    near.sort_by(by_matches);
    Discovery {
        picked,
        near,
        under,
        processes: seen.len(),
        executables: groups.len(),
        symbol_tables_read: judge.full_reads,
        patterns: counted.probed.len(),
        elapsed: started.elapsed(),
    }
}

/// Every pid of /proc.
pub fn all_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// `root` and every process descending from it (parents from /proc/PID/stat).
pub fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in all_pids() {
        if let Some(ppid) = parent_of(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        if out.contains(&p) {
            continue;
        }
        out.push(p);
        stack.extend(children.get(&p).into_iter().flatten().copied());
    }
    out.retain(|&p| procfs::is_alive(p));
    out
}

/// The parent of `pid` (`/proc/PID/stat`).
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    procfs::stat_fields(&stat)?.get(1)?.parse().ok()
}

/// One file-backed executable mapping of a process that is not its executable.
struct MappedLib {
    path: PathBuf,
    open_path: PathBuf,
    /// `maps`' device and inode: tells files apart without a stat per line.
    dev: String,
    inode: u64,
}

/// The application libraries `pid` maps with execute permission (system libraries are never
/// searched by unqualified patterns, see `symbols::objects`).
fn mapped_libraries(pid: u32) -> Vec<MappedLib> {
    let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return Vec::new();
    };
    let mut out: Vec<MappedLib> = Vec::new();
    for line in maps.lines() {
        let mut f = line.splitn(6, ' ');
        let (Some(range), Some(perms), Some(_), Some(dev), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let path = f.next().unwrap_or("").trim_start();
        if !perms.contains('x') || !path.starts_with('/') {
            continue;
        }
        let inode: u64 = inode.parse().unwrap_or(0);
        let (path, deleted) = match path.strip_suffix(" (deleted)") {
            Some(p) => (p, true),
            None => (path, false),
        };
        let path = PathBuf::from(path);
        if inode == 0 || is_system_path(&path) {
            continue;
        }
        if out.iter().any(|l| l.inode == inode && l.dev == dev) {
            continue;
        }
        let open_path = if deleted {
            PathBuf::from(format!("/proc/{pid}/map_files/{range}"))
        } else {
            path.clone()
        };
        out.push(MappedLib {
            path,
            open_path,
            dev: dev.to_string(),
            inode,
        });
    }
    out
}

/// The patterns discovery counts: the probed ones (`functions`, `entry_only`) and the role
/// functions, each with the literal pieces every symbol it matches contains.
struct CountedPatterns {
    probed: Vec<Counted>,
    roles: Vec<Counted>,
}

struct Counted {
    pattern: Pattern,
    /// Per alternative, the pieces of text its mangled symbols must contain.
    needles: Vec<Vec<String>>,
}

/// Words of a demangled name that a mangled name need not contain: the mangling writes
/// `std::` and its common templates as abbreviations (`St`, `Ss`, `Sa`...), builtin types as
/// letters, operators as codes, lambdas and anonymous namespaces in their own way.
const NOT_LITERAL: &[&str] = &[
    "std",
    "allocator",
    "basic_string",
    "string",
    "char_traits",
    "basic_istream",
    "basic_ostream",
    "basic_iostream",
    "istream",
    "ostream",
    "iostream",
    "operator",
    "anonymous",
    "namespace",
    "lambda",
    "clone",
    "const",
    "volatile",
    "unsigned",
    "signed",
    "char",
    "short",
    "int",
    "long",
    "bool",
    "void",
    "float",
    "double",
    "abi",
];

impl Counted {
    fn new(p: &Pattern) -> Counted {
        let needles = if p.case_insensitive {
            // Compared in lower case: any spelling may match; never ruled out by names.
            p.alternatives.iter().map(|_| Vec::new()).collect()
        } else {
            p.alternatives.iter().map(|a| needles_of(a)).collect()
        };
        Counted {
            pattern: p.clone(),
            needles,
        }
    }

    /// Whether some alternative's needles all occur in the object's names.
    fn may_match(&self, names: &mut Names) -> bool {
        self.needles
            .iter()
            .any(|pieces| pieces.iter().all(|n| names.contains(n)))
    }
}

/// What a symbol matched by the pattern alternative `alt` contains literally. A C++ name of
/// several scopes is mangled with every identifier written once as `<length><identifier>`
/// (`Raft::doHeartBeat` → `_ZN4Raft11doHeartBeatEv`; Rust's mangling does the same), so a
/// plain identifier component is looked for with its length: `4Raft` is much rarer than
/// `Raft`. A glob component gives its literal runs (`*?Service*` → `Service`); a one-scope
/// pattern may name a C function, whose symbol is the bare name. Runs under 3 characters and
/// words the mangling abbreviates ([`NOT_LITERAL`]) are not looked for.
fn needles_of(alt: &str) -> Vec<String> {
    let unanchored = alt.strip_prefix("::").unwrap_or(alt);
    let scopes = crate::cpp_names::split_scopes(unanchored);
    let mangled_scopes = scopes.len() > 1;
    let mut out: Vec<String> = Vec::new();
    let mut push = |n: String| {
        if !out.contains(&n) {
            out.push(n);
        }
    };
    for scope in scopes {
        let is_ident = !scope.is_empty()
            && scope.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !scope.starts_with(|c: char| c.is_ascii_digit());
        if mangled_scopes && is_ident && !NOT_LITERAL.contains(&scope) {
            push(format!("{}{scope}", scope.len()));
            continue;
        }
        for piece in scope.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if piece.len() >= 3
                && !NOT_LITERAL.contains(&piece)
                && !piece.starts_with(|c: char| c.is_ascii_digit())
            {
                push(piece.to_string());
            }
        }
    }
    out
}

impl CountedPatterns {
    fn of(profile: &Profile) -> CountedPatterns {
        let mut probed: Vec<Counted> = Vec::new();
        for layer in &profile.layers {
            for p in layer.functions.iter().chain(&layer.entry_only) {
                if !probed.iter().any(|c| c.pattern.text == p.text) {
                    probed.push(Counted::new(p));
                }
            }
        }
        let roles = profile
            .roles
            .leader_if_calls
            .iter()
            .map(Counted::new)
            .collect();
        CountedPatterns { probed, roles }
    }

    fn texts(&self, indexes: &BTreeSetIdx, list: &[Counted]) -> Vec<String> {
        indexes
            .iter()
            .map(|&i| list[i].pattern.text.clone())
            .collect()
    }
}

type BTreeSetIdx = std::collections::BTreeSet<usize>;

/// What one object resolves of the counted patterns (indexes into their lists).
#[derive(Clone, Debug, Default)]
struct Verdict {
    patterns: BTreeSetIdx,
    roles: BTreeSetIdx,
}

impl Verdict {
    fn add(&mut self, other: &Verdict) {
        self.patterns.extend(&other.patterns);
        self.roles.extend(&other.roles);
    }
}

/// Judges objects, each file once.
struct Judge<'a> {
    counted: &'a CountedPatterns,
    cache: HashMap<FileId, Verdict>,
    full_reads: usize,
}

impl<'a> Judge<'a> {
    fn new(counted: &'a CountedPatterns) -> Judge<'a> {
        Judge {
            counted,
            cache: HashMap::new(),
            full_reads: 0,
        }
    }

    fn object(&mut self, id: &FileId, open: &Path, path: &Path, kind: ObjectKind) -> Verdict {
        if let Some(v) = self.cache.get(id) {
            return v.clone();
        }
        let v = self.judge(open, path, kind);
        self.cache.insert(*id, v.clone());
        v
    }

    fn judge(&mut self, open: &Path, path: &Path, kind: ObjectKind) -> Verdict {
        let obj = MappedObject {
            path: path.to_path_buf(),
            open_path: open.to_path_buf(),
            id: None,
            kind,
            pids: Vec::new(),
        };
        let searched = |c: &Counted| resolve::pattern_searches(&c.pattern, &obj);
        // The names first: an object that cannot match is never parsed, and in one that may,
        // only the names holding some pattern's literal pieces are demangled (a compiler or
        // a browser holds hundreds of thousands of symbols; demangling them all takes
        // minutes).
        let Ok(mut names) = Names::read(open) else {
            return Verdict::default();
        };
        let probed: Vec<(usize, &Counted)> = self
            .counted
            .probed
            .iter()
            .enumerate()
            .filter(|(_, c)| searched(c) && c.may_match(&mut names))
            .collect();
        let roles: Vec<(usize, &Counted)> = self
            .counted
            .roles
            .iter()
            .enumerate()
            .filter(|(_, c)| searched(c) && c.may_match(&mut names))
            .collect();
        if probed.is_empty() && roles.is_empty() {
            return Verdict::default();
        }
        let candidates = names.candidates(probed.iter().chain(&roles).map(|(_, c)| *c));
        drop(names);
        let keep = |mangled: &[u8]| candidates.as_ref().is_none_or(|set| set.contains(mangled));
        let Ok(functions) = elf::read_function_names(open, keep) else {
            return Verdict::default();
        };
        self.full_reads += 1;
        let mut v = Verdict::default();
        let hits = |list: &[(usize, &Counted)], out: &mut BTreeSetIdx| {
            for (i, c) in list {
                if functions.iter().any(|f| c.pattern.matches(f)) {
                    out.insert(*i);
                }
            }
        };
        hits(&probed, &mut v.patterns);
        hits(&roles, &mut v.roles);
        v
    }
}

/// The symbol names of an ELF file (its `.strtab` and `.dynstr`), read without the rest of the
/// file: what rules an object out before any symbol is demangled. Each needle is looked for
/// once.
struct Names {
    tables: Vec<Vec<u8>>,
    found: HashMap<String, bool>,
}

impl Names {
    fn read(path: &Path) -> Result<Names> {
        use object::read::elf::{FileHeader, SectionHeader};
        use std::os::unix::fs::FileExt;
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            bail!("{} is not a regular file", path.display());
        }
        let file = std::fs::File::open(path)?;
        // Only the ELF and section headers and the section names are read here.
        let cache = object::ReadCache::new(&file);
        let header = object::elf::FileHeader64::<object::Endianness>::parse(&cache)?;
        let endian = header.endian()?;
        let sections = header.sections(endian, &cache)?;
        let mut tables = Vec::new();
        for section in sections.iter() {
            let name = sections.section_name(endian, section)?;
            if name != b".strtab" && name != b".dynstr" {
                continue;
            }
            let Some((offset, size)) = section.file_range(endian) else {
                continue;
            };
            let size = usize::try_from(size)?;
            if offset.saturating_add(size as u64) > meta.len() {
                bail!("{} has a string table past its end", path.display());
            }
            let mut table = vec![0u8; size];
            file.read_exact_at(&mut table, offset)?;
            tables.push(table);
        }
        Ok(Names {
            tables,
            found: HashMap::new(),
        })
    }

    /// The names holding every literal piece of some alternative of some of `patterns`: the
    /// only ones worth demangling. None when an alternative has no literal piece (any name
    /// may match it). A linker may store a name as the tail of a longer one; such a name is
    /// not among these (C++ names all start with `_Z`, so it is at most a C function).
    fn candidates<'a>(
        &self,
        patterns: impl Iterator<Item = &'a Counted>,
    ) -> Option<HashSet<Vec<u8>>> {
        let mut out: HashSet<Vec<u8>> = HashSet::new();
        for c in patterns {
            for pieces in &c.needles {
                let (first, rest) = pieces.split_first()?;
                let finder = memchr::memmem::Finder::new(first.as_bytes());
                for table in &self.tables {
                    for at in finder.find_iter(table) {
                        let start = memchr::memrchr(0, &table[..at]).map_or(0, |i| i + 1);
                        let end = memchr::memchr(0, &table[at..]).map_or(table.len(), |i| at + i);
                        let name = &table[start..end];
                        if rest
                            .iter()
                            .all(|n| memchr::memmem::find(name, n.as_bytes()).is_some())
                        {
                            out.insert(name.to_vec());
                        }
                    }
                }
            }
        }
        Some(out)
    }

    fn contains(&mut self, needle: &str) -> bool {
        if let Some(&known) = self.found.get(needle) {
            return known;
        }
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let known = self.tables.iter().any(|t| finder.find(t).is_some());
        self.found.insert(needle.to_string(), known);
        known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_are_what_mangled_names_spell_out() {
        assert_eq!(needles_of("Raft::*Ticker"), ["4Raft", "Ticker"]);
        assert_eq!(
            needles_of("*?Service*::AppendEntries"),
            ["Service", "13AppendEntries"]
        );
        // A C function's symbol is its bare name.
        assert_eq!(needles_of("::send"), ["send"]);
        assert_eq!(needles_of("fsync"), ["fsync"]);
        // std:: and builtin types are abbreviations in mangled names.
        assert_eq!(
            needles_of("std::basic_ostream<char, std::char_traits<char> >::write"),
            ["5write"]
        );
        assert_eq!(needles_of("KvServer::Put"), ["8KvServer", "3Put"]);
        assert_eq!(needles_of("Raft::~Raft"), ["4Raft", "Raft"]);
    }

    /// Every needle of every pattern of the built-in profile is in the mangled name of a
    /// function it matches (the names tell only what the symbols hold).
    #[test]
    fn needles_occur_in_mangled_names_the_pattern_matches() {
        let cases = [
            ("Raft::doHeartBeat", "_ZN4Raft11doHeartBeatEv"),
            ("Persister::{saveRaftState,SaveRaftState}", "_ZN9Persister13saveRaftStateERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE"),
            ("Persister::readRaftState", "_ZN9Persister13readRaftStateB5cxx11Ev"),
            ("*?Service*::AppendEntries", "_ZN2kv11RaftService13AppendEntriesEPN6google8protobuf13RpcControllerE"),
            ("Raft::applier", "_ZN12_GLOBAL__N_14Raft7applierIiEEvv"),
        ];
        for (pattern, mangled) in cases {
            let p = Pattern::parse(pattern).unwrap();
            assert!(
                p.matches(&crate::cpp_names::demangle(mangled)),
                "{pattern} ~ {mangled}"
            );
            let c = Counted::new(&p);
            let mut names = Names {
                tables: vec![mangled.as_bytes().to_vec()],
                found: HashMap::new(),
            };
            assert!(
                c.may_match(&mut names),
                "{pattern}: {:?} not all in {mangled}",
                c.needles
            );
        }
    }

    #[test]
    fn a_process_tree_without_raft_code_picks_nothing() {
        let profile = crate::profile::default_profile();
        let me = std::process::id();
        // This test process: Rust, no Raft names.
        let d = scan(&profile, Some(me));
        assert_eq!(d.processes, 0, "the scanning process itself is left out");
        let child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let d = scan(&profile, Some(me));
        assert_eq!(d.processes, 1);
        assert!(d.picked.is_empty() && d.near.is_empty(), "{d:?}");
        assert!(d
            .nothing_found()
            .contains("No process resolves any pattern"));
        let mut child = child;
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
