//! The objects a process runs: its executable and every shared library, each once however many
//! processes map it and by whatever path.
//!
//! Real forks build their Raft core as a shared library (the executable holds only `main`), so
//! the functions a profile names may live in any object. Running processes tell which objects
//! they run in `/proc/PID/maps` ([`objects_of_pids`]); a file that is not running yet (`tracer
//! probes --binary`, `tracer run -- CMD`) is followed through its `DT_NEEDED` entries the way
//! the dynamic loader finds them ([`objects_of_executable`]: `DT_RPATH`, `LD_LIBRARY_PATH`,
//! `DT_RUNPATH`, `/etc/ld.so.conf`, the default directories). Libraries `dlopen`ed later show in
//! the maps once loaded; the run loop looks again while processes are young.
//!
//! Objects are told apart by file identity (device, inode): uprobes belong to an inode, so a
//! library mapped by three nodes is probed once, and a file reached by two paths is one object.
//! System libraries (under `/lib`, `/usr/lib` and their 32/64-bit siblings: libc, libstdc++,
//! libgrpc, libprotobuf…) are listed but searched only by patterns that name them
//! ([`crate::profile::pattern::ObjectName`]); `/usr/local` and everything else is the
//! application's.

use anyhow::{Context, Result};
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use serde::Serialize;

use crate::profile::pattern::wildcard_match;
use std::collections::{HashSet, VecDeque};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// (device, inode) of a file.
pub type FileId = (u64, u64);

/// What an object is to the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Executable,
    /// A shared library of the application (searched by every pattern).
    Library,
    /// A library of the system (searched only by patterns that name it).
    SystemLibrary,
}

/// One object file a target runs.
#[derive(Debug, Clone, Serialize)]
pub struct MappedObject {
    /// Its path as the process or the loader names it (what reports show, and what an
    /// object qualifier is compared with).
    pub path: PathBuf,
    /// A path that opens this very file, for reading symbols and attaching uprobes: `path`,
    /// or `/proc/PID/exe` / `/proc/PID/map_files/…` for a file deleted or replaced since.
    pub open_path: PathBuf,
    #[serde(skip)]
    pub id: Option<FileId>,
    pub kind: ObjectKind,
    /// The processes mapping it (empty for files not running).
    pub pids: Vec<u32>,
}

impl MappedObject {
    fn new(path: PathBuf, open_path: PathBuf, kind: ObjectKind) -> MappedObject {
        let id = file_id(&open_path);
        MappedObject {
            path,
            open_path,
            id,
            kind,
            pids: Vec::new(),
        }
    }

    /// Same file: same identity, or the same path when the identity is unknown.
    pub fn same_file(&self, other: &MappedObject) -> bool {
        match (self.id, other.id) {
            (Some(a), Some(b)) => a == b,
            _ => self.open_path == other.open_path,
        }
    }

    /// The file name, for tables (`libraftcore.so`).
    pub fn file_name(&self) -> String {
        object_label(&self.path)
    }
}

/// The file name of an object path, for tables and reports.
pub fn object_label(path: &Path) -> String {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// (device, inode) of the file at `path`.
pub fn file_id(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The distribution's library directories: what the loader's default search and
/// `/etc/ld.so.conf` point at for system packages. `/usr/local/lib` is not among them: a fork
/// installed with `make install` lands there.
const SYSTEM_DIRS: &[&str] = &[
    "/lib/",
    "/lib32/",
    "/lib64/",
    "/libx32/",
    "/usr/lib/",
    "/usr/lib32/",
    "/usr/lib64/",
    "/usr/libx32/",
];

/// Whether `path` is a system library (see [`SYSTEM_DIRS`]).
pub fn is_system_path(path: &Path) -> bool {
    let s = path.to_string_lossy();
    SYSTEM_DIRS.iter().any(|d| s.starts_with(d))
}

fn library_kind(path: &Path) -> ObjectKind {
    if is_system_path(path) {
        ObjectKind::SystemLibrary
    } else {
        ObjectKind::Library
    }
}

/// Adds `obj` to `out` (merging its pids into an entry for the same file).
fn merge(out: &mut Vec<MappedObject>, obj: MappedObject) {
    match out.iter_mut().find(|o| o.same_file(&obj)) {
        Some(known) => {
            for pid in obj.pids {
                if !known.pids.contains(&pid) {
                    known.pids.push(pid);
                }
            }
            // A file that is one process's executable is an executable.
            if obj.kind == ObjectKind::Executable {
                known.kind = ObjectKind::Executable;
            }
        }
        None => out.push(obj),
    }
}

/// One target executable, the processes running it and every object they run.
#[derive(Debug, Clone, Serialize)]
pub struct TargetObjects {
    /// The executable (a path that opens it).
    pub executable: PathBuf,
    pub pids: Vec<u32>,
    /// The executable first, then its libraries.
    pub objects: Vec<MappedObject>,
    /// Libraries the loader would not find (`--binary`/`-- CMD` only).
    pub missing: Vec<String>,
}

/// The targets of running processes: one per executable file (processes running it share
/// it), with every object any of them maps.
pub fn targets_of_pids(pids: &[u32]) -> Vec<TargetObjects> {
    let mut out: Vec<TargetObjects> = Vec::new();
    for &pid in pids {
        let objects = objects_of_pids(&[pid]);
        let Some(exe) = objects.first().filter(|o| o.kind == ObjectKind::Executable) else {
            continue;
        };
        match out.iter_mut().find(|t| t.objects[0].same_file(exe)) {
            Some(t) => {
                t.pids.push(pid);
                for o in objects {
                    merge(&mut t.objects, o);
                }
            }
            None => out.push(TargetObjects {
                executable: exe.open_path.clone(),
                pids: vec![pid],
                objects,
                missing: Vec::new(),
            }),
        }
    }
    out
}

/// The target of an executable file that is not running (yet): it and the libraries the
/// loader would load for it.
pub fn target_of_executable(exe: &Path) -> Result<TargetObjects> {
    let (objects, missing) = objects_of_executable(exe)?;
    Ok(TargetObjects {
        executable: exe.to_path_buf(),
        pids: Vec::new(),
        objects,
        missing,
    })
}

// ---------------------------------------------------------------------------------------------
// Running processes: /proc/PID/maps
// ---------------------------------------------------------------------------------------------

/// Every object the processes `pids` map with execute permission, executables first, each
/// once by file identity, with the pids mapping it. Processes whose maps cannot be read (gone,
/// or another user's without root) are left out.
pub fn objects_of_pids(pids: &[u32]) -> Vec<MappedObject> {
    let mut out: Vec<MappedObject> = Vec::new();
    let mut libraries: Vec<MappedObject> = Vec::new();
    for &pid in pids {
        let Ok(exe) = super::resolve::binary_of_pid(pid) else {
            continue;
        };
        let exe_id = file_id(&exe);
        let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
            continue;
        };
        let mut exe_obj = None;
        for m in parse_maps(&maps) {
            let open_path = if m.deleted {
                PathBuf::from(format!("/proc/{pid}/map_files/{}", m.range))
            } else {
                m.path.clone()
            };
            let id = file_id(&open_path).or(Some((u64::MAX, m.inode)));
            let mut obj = MappedObject {
                kind: library_kind(&m.path),
                path: m.path,
                open_path,
                id,
                pids: vec![pid],
            };
            if id.is_some() && id == exe_id {
                obj.kind = ObjectKind::Executable;
                obj.open_path = exe.clone();
                exe_obj.get_or_insert(obj);
            } else {
                merge(&mut libraries, obj);
            }
        }
        // A process whose maps name no executable mapping (not seen in practice): its exe.
        let exe_obj = exe_obj.unwrap_or_else(|| {
            let mut o = MappedObject::new(exe.clone(), exe.clone(), ObjectKind::Executable);
            o.pids.push(pid);
            o
        });
        merge(&mut out, exe_obj);
    }
    for lib in libraries {
        merge(&mut out, lib);
    }
    out
}

/// One executable file mapping of `/proc/PID/maps`.
#[derive(Debug, PartialEq)]
struct MapsEntry {
    /// `start-end` as written (the name of its `/proc/PID/map_files` entry).
    range: String,
    inode: u64,
    /// Without the ` (deleted)` suffix.
    path: PathBuf,
    deleted: bool,
}

/// The file-backed mappings with execute permission, in order, each path once.
fn parse_maps(text: &str) -> Vec<MapsEntry> {
    let mut out: Vec<MapsEntry> = Vec::new();
    for line in text.lines() {
        // start-end perms offset dev inode   path (the path may contain spaces)
        let mut fields = line.splitn(6, ' ');
        let (Some(range), Some(perms), Some(_), Some(_), Some(inode)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        let path = fields.next().unwrap_or("").trim_start();
        if !perms.contains('x') || !path.starts_with('/') {
            continue;
        }
        let inode: u64 = inode.parse().unwrap_or(0);
        if inode == 0 {
            continue;
        }
        let (path, deleted) = match path.strip_suffix(" (deleted)") {
            Some(p) => (p, true),
            None => (path, false),
        };
        if out
            .iter()
            .any(|e| e.path == Path::new(path) && e.inode == inode)
        {
            continue;
        }
        out.push(MapsEntry {
            range: range.to_string(),
            inode,
            path: PathBuf::from(path),
            deleted,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Files not running yet: DT_NEEDED as the loader follows it
// ---------------------------------------------------------------------------------------------

/// The executable at `exe` and every library the dynamic loader would load for it, in the
/// loader's breadth-first order, found the way glibc's `ld.so` searches (see
/// [`LoaderSearch`]). Libraries that cannot be found are returned as errors beside the list
/// (the loader would refuse to start the program; a dry run still shows the rest).
pub fn objects_of_executable(exe: &Path) -> Result<(Vec<MappedObject>, Vec<String>)> {
    let search = LoaderSearch::from_system();
    objects_with(exe, &search)
}

fn objects_with(exe: &Path, search: &LoaderSearch) -> Result<(Vec<MappedObject>, Vec<String>)> {
    let root = DynamicInfo::read(exe)?;
    let machine = root.machine;
    let mut nodes = vec![Node {
        path: exe.to_path_buf(),
        info: root,
        loader: None,
    }];
    let mut missing = Vec::new();
    let mut seen_names: HashSet<String> = HashSet::new();
    let mut seen_ids: HashSet<FileId> = nodes[0].id().into_iter().collect();
    let mut queue: VecDeque<usize> = VecDeque::from([0]);
    while let Some(i) = queue.pop_front() {
        let needed = nodes[i].info.needed.clone();
        for name in needed {
            if !seen_names.insert(name.clone()) {
                continue;
            }
            let Some(path) = search.find(&name, &nodes, i, machine) else {
                missing.push(format!(
                    "{} needs {name}, which the loader's search path does not hold",
                    nodes[i].path.display()
                ));
                continue;
            };
            let info = match DynamicInfo::read(&path) {
                Ok(info) => info,
                Err(e) => {
                    missing.push(format!("{name} ({}): {e:#}", path.display()));
                    continue;
                }
            };
            let node = Node {
                path,
                info,
                loader: Some(i),
            };
            if let Some(id) = node.id() {
                if !seen_ids.insert(id) {
                    continue;
                }
            }
            if let Some(soname) = &node.info.soname {
                seen_names.insert(soname.clone());
            }
            nodes.push(node);
            queue.push_back(nodes.len() - 1);
        }
    }
    let mut out: Vec<MappedObject> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let kind = if i == 0 {
            ObjectKind::Executable
        } else {
            library_kind(&n.path)
        };
        merge(
            &mut out,
            MappedObject::new(n.path.clone(), n.path.clone(), kind),
        );
    }
    // The program interpreter (ld.so) is mapped too; it is a system library.
    if let Some(interp) = &nodes[0].info.interpreter {
        let p = PathBuf::from(interp);
        if p.exists() {
            merge(
                &mut out,
                MappedObject::new(p.clone(), p.clone(), library_kind(&p)),
            );
        }
    }
    Ok((out, missing))
}

/// An object in the loader's tree.
struct Node {
    path: PathBuf,
    info: DynamicInfo,
    /// The object whose `DT_NEEDED` brought it in.
    loader: Option<usize>,
}

impl Node {
    fn id(&self) -> Option<FileId> {
        file_id(&self.path)
    }
}

/// What the loader reads from an object's dynamic section.
#[derive(Debug, Default)]
struct DynamicInfo {
    needed: Vec<String>,
    soname: Option<String>,
    /// `DT_RPATH` directories, `$ORIGIN` expanded.
    rpath: Vec<PathBuf>,
    /// `DT_RUNPATH` directories, `$ORIGIN` expanded.
    runpath: Vec<PathBuf>,
    has_runpath: bool,
    interpreter: Option<String>,
    machine: u16,
}

impl DynamicInfo {
    fn read(path: &Path) -> Result<DynamicInfo> {
        // A FIFO or a device would block or never end.
        let meta =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if !meta.is_file() {
            anyhow::bail!("{} is not a regular file", path.display());
        }
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&data, path).with_context(|| format!("{} is not an ELF object", path.display()))
    }

    fn parse(data: &[u8], path: &Path) -> Result<DynamicInfo> {
        let header = object::elf::FileHeader64::<object::Endianness>::parse(data)?;
        let endian = header.endian()?;
        let mut info = DynamicInfo {
            machine: header.e_machine(endian),
            ..DynamicInfo::default()
        };
        for ph in header.program_headers(endian, data)? {
            if let Some(interp) = ph.interpreter(endian, data)? {
                info.interpreter = Some(String::from_utf8_lossy(interp).into_owned());
            }
        }
        let sections = header.sections(endian, data)?;
        let Some((dyns, link)) = sections.dynamic(endian, data)? else {
            return Ok(info);
        };
        let strings = sections.strings(endian, data, link)?;
        let origin = path
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| path.parent().map(Path::to_path_buf).unwrap_or_default());
        for d in dyns {
            let tag = d.d_tag(endian);
            let text = || {
                d.string(endian, strings)
                    .ok()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
            };
            match tag {
                object::elf::DT_NEEDED => info.needed.extend(text()),
                object::elf::DT_SONAME => info.soname = text(),
                object::elf::DT_RPATH => info
                    .rpath
                    .extend(text().iter().flat_map(|t| split_dirs(t, &origin))),
                object::elf::DT_RUNPATH => {
                    info.has_runpath = true;
                    info.runpath
                        .extend(text().iter().flat_map(|t| split_dirs(t, &origin)));
                }
                object::elf::DT_NULL => break,
                _ => {}
            }
        }
        Ok(info)
    }
}

/// A colon-separated search path with `$ORIGIN` (the object's own directory) expanded, as the
/// loader reads `DT_RPATH`, `DT_RUNPATH` and `LD_LIBRARY_PATH`. Empty entries mean the current
/// directory.
fn split_dirs(list: &str, origin: &Path) -> Vec<PathBuf> {
    let origin = origin.to_string_lossy();
    list.split([':', ';'])
        .map(|d| {
            let d = d.replace("${ORIGIN}", &origin).replace("$ORIGIN", &origin);
            if d.is_empty() {
                PathBuf::from(".")
            } else {
                PathBuf::from(d)
            }
        })
        .collect()
}

/// Where glibc's loader looks for a library named without a `/` (ld.so(8)):
/// 1. the `DT_RPATH` of the object that needs it, then of the object that loaded that one, up to
///    the executable — unless the needing object has a `DT_RUNPATH` (objects with one ignore
///    their `DT_RPATH`);
/// 2. `LD_LIBRARY_PATH`;
/// 3. the `DT_RUNPATH` of the needing object only;
/// 4. the directories of `/etc/ld.so.conf` (what `ldconfig` puts in its cache);
/// 5. the default directories.
///
/// Each candidate must be an ELF file for the executable's machine (a 32-bit library of the
/// same name is skipped, as the loader does).
#[derive(Debug, Clone, Default)]
pub struct LoaderSearch {
    pub ld_library_path: Vec<PathBuf>,
    pub conf_dirs: Vec<PathBuf>,
    pub default_dirs: Vec<PathBuf>,
}

impl LoaderSearch {
    /// The search of this system for a program started from this environment.
    pub fn from_system() -> LoaderSearch {
        let cwd = std::env::current_dir().unwrap_or_default();
        LoaderSearch {
            ld_library_path: std::env::var("LD_LIBRARY_PATH")
                .map(|v| split_dirs(&v, &cwd))
                .unwrap_or_default(),
            conf_dirs: ld_so_conf(Path::new("/etc/ld.so.conf"), 0),
            default_dirs: [
                "/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu",
                "/lib64",
                "/usr/lib64",
                "/lib",
                "/usr/lib",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
        }
    }

    fn find(&self, name: &str, nodes: &[Node], needing: usize, machine: u16) -> Option<PathBuf> {
        if name.contains('/') {
            let p = PathBuf::from(name);
            return is_elf_for(&p, machine).then_some(p);
        }
        let mut dirs: Vec<&Path> = Vec::new();
        if !nodes[needing].info.has_runpath {
            let mut at = Some(needing);
            while let Some(i) = at {
                if !nodes[i].info.has_runpath {
                    dirs.extend(nodes[i].info.rpath.iter().map(PathBuf::as_path));
                }
                at = nodes[i].loader;
            }
        }
        dirs.extend(self.ld_library_path.iter().map(PathBuf::as_path));
        dirs.extend(nodes[needing].info.runpath.iter().map(PathBuf::as_path));
        dirs.extend(self.conf_dirs.iter().map(PathBuf::as_path));
        dirs.extend(self.default_dirs.iter().map(PathBuf::as_path));
        dirs.into_iter()
            .map(|d| d.join(name))
            .find(|p| is_elf_for(p, machine))
    }
}

/// Whether `path` is a 64-bit ELF file for `machine`.
fn is_elf_for(path: &Path, machine: u16) -> bool {
    use std::io::Read;
    let mut head = [0u8; 20];
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    if f.read_exact(&mut head).is_err() {
        return false;
    }
    // ELFCLASS64, little-endian (x86-64 and aarch64 both are).
    head[..4] == *b"\x7fELF"
        && head[4] == 2
        && head[5] == 1
        && u16::from_le_bytes([head[18], head[19]]) == machine
}

/// The directories of an `ld.so.conf` file, following `include` lines (globs in the file
/// name, as Debian's `include /etc/ld.so.conf.d/*.conf`); `hwcap` lines are skipped.
fn ld_so_conf(path: &Path, depth: u32) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with("hwcap ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("include") {
            if depth >= 8 {
                continue;
            }
            for pattern in rest.split_whitespace() {
                let pattern = if pattern.starts_with('/') {
                    PathBuf::from(pattern)
                } else {
                    path.parent().unwrap_or(Path::new("/")).join(pattern)
                };
                for file in glob_files(&pattern) {
                    out.extend(ld_so_conf(&file, depth + 1));
                }
            }
            continue;
        }
        for dir in line.split([':', ',', ' ', '\t']).filter(|d| !d.is_empty()) {
            if dir.starts_with('/') {
                out.push(PathBuf::from(dir));
            }
        }
    }
    out
}

/// The files matching `pattern`, whose last component may hold `*`/`?`; sorted, as glob(3).
fn glob_files(pattern: &Path) -> Vec<PathBuf> {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !crate::cpp_names::has_wildcard(name) {
        return vec![pattern.to_path_buf()];
    }
    let dir = pattern.parent().unwrap_or(Path::new("/"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| wildcard_match(name.as_bytes(), n.as_bytes()))
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keep_executable_file_mappings_once() {
        let maps = "\
5586a000-5586b000 r--p 00000000 08:01 1234 /opt/kv/bin/node
5586b000-5586c000 r-xp 00001000 08:01 1234 /opt/kv/bin/node
7f00-7f10 r-xp 00000000 08:01 99 /opt/kv/lib/lib raft.so (deleted)
7f20-7f30 r-xp 00000000 08:01 77 /usr/lib/x86_64-linux-gnu/libc.so.6
7f40-7f50 r-xp 00000000 00:00 0 [vdso]
7f60-7f70 rw-p 00000000 00:00 0
7f80-7f90 r-xp 00010000 08:01 77 /usr/lib/x86_64-linux-gnu/libc.so.6
";
        let got = parse_maps(maps);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].path, Path::new("/opt/kv/bin/node"));
        assert_eq!(got[1].path, Path::new("/opt/kv/lib/lib raft.so"));
        assert!(got[1].deleted);
        assert_eq!(got[1].range, "7f00-7f10");
        assert!(is_system_path(&got[2].path));
        assert!(!is_system_path(Path::new("/usr/local/lib/libraft.so")));
        assert!(!is_system_path(Path::new("/usr/libfoo/x.so")));
    }

    #[test]
    fn search_dirs_expand_origin_and_empty_entries() {
        let dirs = split_dirs("$ORIGIN/../lib:${ORIGIN}:/abs::", Path::new("/opt/kv/bin"));
        assert_eq!(
            dirs,
            [
                PathBuf::from("/opt/kv/bin/../lib"),
                PathBuf::from("/opt/kv/bin"),
                PathBuf::from("/abs"),
                PathBuf::from("."),
                PathBuf::from("."),
            ]
        );
    }

    #[test]
    fn ld_so_conf_follows_includes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(
            d.join("ld.so.conf"),
            format!(
                "# comment\ninclude {}/conf.d/*.conf\n/opt/a:/opt/b\n",
                d.display()
            ),
        )
        .unwrap();
        std::fs::write(d.join("conf.d/b.conf"), "/usr/lib/x86_64-linux-gnu\n").unwrap();
        std::fs::write(d.join("conf.d/a.conf"), "/usr/local/lib # local\n").unwrap();
        std::fs::write(d.join("conf.d/skip.txt"), "/nope\n").unwrap();
        assert_eq!(
            ld_so_conf(&d.join("ld.so.conf"), 0),
            [
                PathBuf::from("/usr/local/lib"),
                PathBuf::from("/usr/lib/x86_64-linux-gnu"),
                PathBuf::from("/opt/a"),
                PathBuf::from("/opt/b"),
            ]
        );
    }
}
