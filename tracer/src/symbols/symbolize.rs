//! Turning sampled instruction pointers into demangled function names with blazesym.
//!
//! User addresses are resolved per process. Their memory maps are cached when the process is
//! first seen (and refreshed while it lives), so stacks of processes that exit during the run
//! still resolve at the end. Kernel addresses resolve through /proc/kallsyms.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;

use blazesym::symbolize::{source, Input, Symbolized, Symbolizer};
use blazesym::MaybeDefault;

use crate::model::KERNEL_SUFFIX;

/// Frame name for an address nothing could be known about.
pub const UNKNOWN: &str = "[unknown]";

/// Function names that start a thread or process: a user stack that ends in one of these was
/// walked completely.
const THREAD_ENTRIES: &[&str] = &[
    "_start",
    "clone3",
    "__clone3",
    "clone",
    "__clone",
    "start_thread",
];

/// An executable mapping of a process, for naming addresses no symbol covers.
#[derive(Clone, Debug)]
struct Mapping {
    start: u64,
    end: u64,
    /// File offset of `start`.
    offset: u64,
    path: PathBuf,
}

/// What a process looked like: its executable and its executable mappings.
#[derive(Clone, Debug, Default)]
struct ProcessLayout {
    exe: Option<PathBuf>,
    mappings: Vec<Mapping>,
}

/// Where the outermost frame of a user stack lies, i.e. why the stack walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkEnd {
    /// At a thread or process entry (`_start`, `clone3`, `start_thread`): the stack is whole.
    ThreadEntry,
    /// In a system library (libc, libstdc++...) built without frame pointers: everything from
    /// the traced program's own code is there, the library's callers are not.
    Library,
    /// Inside the program's own code (its executable or one of its libraries, such as a
    /// fork's `libraftcore.so`), or at an address outside any mapping: a frame chain is broken
    /// (built without frame pointers), frames are missing.
    Truncated,
}

/// Entries of the address caches beyond which they are emptied (with the names) before the
/// next lookups. Sampled leaf addresses keep being new for hours (a 1-hour soak grew the
/// kernel cache by ~100 addresses per window), and these caches only save blazesym lookups
/// that stay cheap without them: it keeps kallsyms and each ELF file's symbols itself. At
/// this size they hold ~100 KiB each.
const CACHE_CAP: usize = 2048;

pub struct StackSymbolizer {
    symbolizer: Symbolizer,
    layouts: RefCell<HashMap<u32, ProcessLayout>>,
    /// (pid, address) -> name; most addresses recur in many stacks. Addresses outside every
    /// mapping are not cached: they are found unknown at once, and broken frame-pointer
    /// chains (libc built without frame pointers) produce an endless variety of them.
    user_cache: HashMap<(u32, u64), Rc<str>>,
    kernel_cache: HashMap<u64, Rc<str>>,
    /// Every name once: many addresses share a (long, demangled C++) name.
    names: HashSet<Rc<str>>,
}

impl Default for StackSymbolizer {
    fn default() -> Self {
        Self::new()
    }
}

impl StackSymbolizer {
    pub fn new() -> Self {
        StackSymbolizer {
            // Demangling on: users name `Persister::readRaftState`, not `_ZN9Persister...`.
            symbolizer: Symbolizer::builder()
                .enable_demangling(true)
                .enable_code_info(false)
                .enable_inlined_fns(false)
                .build(),
            layouts: RefCell::new(HashMap::new()),
            user_cache: HashMap::new(),
            kernel_cache: HashMap::new(),
            names: HashSet::new(),
        }
    }

    /// Remembers `pid`'s memory maps so its addresses resolve even after it exits. Call it when
    /// a process is first seen and again now and then (it may load libraries later).
    pub fn remember_process(&self, pid: u32) {
        // A process that exited but is not reaped yet has an empty /proc/PID/maps: that must
        // not replace the maps remembered while it lived.
        if let Some(layout) = read_layout(pid).filter(|l| !l.mappings.is_empty()) {
            self.layouts.borrow_mut().insert(pid, layout);
        }
    }

    /// The mapping containing `addr` in `pid`, and whether it is the main executable.
    fn module_of(&self, pid: u32, addr: u64) -> Option<(PathBuf, bool)> {
        self.file_offset_of(pid, addr)
            .map(|(path, _, is_exe)| (path, is_exe))
    }

    /// The file mapped at `addr` in `pid`, the offset of `addr` in it, and whether it is the
    /// main executable.
    fn file_offset_of(&self, pid: u32, addr: u64) -> Option<(PathBuf, u64, bool)> {
        let layouts = self.layouts.borrow();
        let layout = layouts.get(&pid)?;
        let m = layout
            .mappings
            .iter()
            .find(|m| m.start <= addr && addr < m.end)?;
        Some((
            m.path.clone(),
            addr - m.start + m.offset,
            layout.exe.as_ref() == Some(&m.path),
        ))
    }

    /// Why the walk of a leaf-first user stack of `pid` ended.
    pub fn walk_end(&mut self, pid: u32, ips: &[u64]) -> WalkEnd {
        let names = self.user_frames(pid, ips);
        let (Some(root_name), Some(&root_ip)) = (names.last(), ips.last()) else {
            return WalkEnd::Truncated;
        };
        if THREAD_ENTRIES.contains(&root_name.as_str()) {
            return WalkEnd::ThreadEntry;
        }
        let addr = if ips.len() > 1 {
            root_ip.saturating_sub(1)
        } else {
            root_ip
        };
        match self.module_of(pid, addr) {
            Some((path, false)) if crate::symbols::objects::is_system_path(&path) => {
                WalkEnd::Library
            }
            _ => WalkEnd::Truncated,
        }
    }

    /// For a truncated walk (see [`WalkEnd::Truncated`]): the object whose frame chain broke,
    /// i.e. the file holding the outermost frame that lies in a mapping (the frames beyond it,
    /// if any, are garbage read through a frame pointer that object did not keep). `None`
    /// when no frame is in a known mapping.
    pub fn walk_broke_in(&self, pid: u32, ips: &[u64]) -> Option<String> {
        ips.iter().enumerate().rev().find_map(|(i, &ip)| {
            // Return addresses point after the call: look up the call itself.
            let addr = if i > 0 { ip.saturating_sub(1) } else { ip };
            self.module_of(pid, addr)
                .map(|(path, _)| path.display().to_string())
        })
    }

    /// Loads the kernel's symbol table now (reading /proc/kallsyms costs the kernel ~1 s of
    /// formatting), so that writing the session after stop does not wait for it.
    pub fn warm_kernel(&mut self) {
        let addr = std::fs::read_to_string("/proc/kallsyms")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.ends_with(" do_syscall_64"))
                    .and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
            });
        if let Some(a) = addr {
            self.resolve_kernel(&[a]);
        }
    }

    /// Symbolises every address of many stacks in one request per process and one for the
    /// kernel: per-request costs (source setup, kallsyms lookups) dominate otherwise.
    /// `user` holds (pid, leaf-first stack) pairs.
    pub fn prefetch<'a>(
        &mut self,
        user: impl IntoIterator<Item = (u32, &'a [u64])>,
        kernel: impl IntoIterator<Item = &'a [u64]>,
    ) {
        let mut by_pid: HashMap<u32, Vec<u64>> = HashMap::new();
        for (pid, ips) in user {
            by_pid.entry(pid).or_default().extend(lookup_addrs(ips));
        }
        for (pid, mut addrs) in by_pid {
            addrs.sort_unstable();
            addrs.dedup();
            // Already leaf-adjusted: resolve them as leaves.
            self.resolve_user(pid, &addrs);
        }
        let mut kaddrs: Vec<u64> = kernel.into_iter().flat_map(lookup_addrs).collect();
        kaddrs.sort_unstable();
        kaddrs.dedup();
        self.resolve_kernel(&kaddrs);
    }

    /// Names of a user stack of `pid`, leaf first (as the kernel records them).
    pub fn user_frames(&mut self, pid: u32, ips: &[u64]) -> Vec<String> {
        let addrs: Vec<u64> = lookup_addrs(ips).collect();
        self.resolve_user(pid, &addrs);
        addrs
            .iter()
            .map(|a| {
                self.user_cache
                    .get(&(pid, *a))
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| UNKNOWN.to_string())
            })
            .collect()
    }

    /// Names of a kernel stack, leaf first, each with the `_[k]` suffix.
    pub fn kernel_frames(&mut self, ips: &[u64]) -> Vec<String> {
        let addrs: Vec<u64> = lookup_addrs(ips).collect();
        self.resolve_kernel(&addrs);
        addrs
            .iter()
            .map(|a| format!("{}{KERNEL_SUFFIX}", self.kernel_cache[a]))
            .collect()
    }

    /// Resolves (already leaf-adjusted) user addresses of `pid` that are not cached yet.
    fn resolve_user(&mut self, pid: u32, addrs: &[u64]) {
        let missing: Vec<u64> = addrs
            .iter()
            .copied()
            .filter(|a| !self.user_cache.contains_key(&(pid, *a)))
            .collect();
        if missing.is_empty() {
            return;
        }
        if self.user_cache.len() + missing.len() > CACHE_CAP {
            self.clear_caches();
        }
        // Resolve through the files, by file offset, from the maps remembered while the
        // process lived: that keeps working after it exits (and is reaped).
        let mut by_file: HashMap<PathBuf, Vec<(u64, u64)>> = HashMap::new();
        for &a in &missing {
            if let Some((path, off, _)) = self.file_offset_of(pid, a) {
                by_file.entry(path).or_default().push((a, off));
            }
        }
        for (path, pairs) in by_file {
            let offsets: Vec<u64> = pairs.iter().map(|p| p.1).collect();
            let mut src = source::Elf::new(&path);
            src.debug_syms = false;
            let syms = self
                .symbolizer
                .symbolize(&source::Source::Elf(src), Input::FileOffset(&offsets))
                .unwrap_or_default();
            let resolved: Vec<(u64, String)> = pairs
                .into_iter()
                .enumerate()
                .map(|(i, (a, _))| {
                    let name = match syms.get(i) {
                        Some(Symbolized::Sym(sym)) => sym.name.to_string(),
                        // No symbol: name the library like perf does (`[libstdc++.so.6.0.30]`).
                        _ => format!(
                            "[{}]",
                            path.file_name().unwrap_or_default().to_string_lossy()
                        ),
                    };
                    (a, name)
                })
                .collect();
            for (a, name) in resolved {
                let name = self.intern(name);
                self.user_cache.insert((pid, a), name);
            }
        }
    }

    /// Empties both address caches and the names they share, returning their memory.
    fn clear_caches(&mut self) {
        self.user_cache = HashMap::new();
        self.kernel_cache = HashMap::new();
        self.names = HashSet::new();
    }

    fn intern(&mut self, name: String) -> Rc<str> {
        if let Some(n) = self.names.get(name.as_str()) {
            return n.clone();
        }
        let n: Rc<str> = name.into();
        self.names.insert(n.clone());
        n
    }

    /// Resolves (already leaf-adjusted) kernel addresses that are not cached yet.
    fn resolve_kernel(&mut self, addrs: &[u64]) {
        let missing: Vec<u64> = addrs
            .iter()
            .copied()
            .filter(|a| !self.kernel_cache.contains_key(a))
            .collect();
        if missing.is_empty() {
            return;
        }
        if self.kernel_cache.len() + missing.len() > CACHE_CAP {
            self.clear_caches();
        }
        let src = source::Kernel {
            vmlinux: MaybeDefault::None,
            debug_syms: false,
            ..Default::default()
        };
        let names = self
            .symbolizer
            .symbolize(&source::Source::Kernel(src), Input::AbsAddr(&missing))
            .map(|syms| syms.iter().map(name_of).collect::<Vec<_>>())
            .unwrap_or_else(|_| vec![UNKNOWN.to_string(); missing.len()]);
        for (a, n) in missing.into_iter().zip(names) {
            let n = self.intern(n);
            self.kernel_cache.insert(a, n);
        }
    }
}

/// Addresses to look up for a leaf-first stack: the leaf as sampled; every caller frame holds
/// a return address, which may already belong to the next function, so look up `addr - 1`
/// (what perf does).
fn lookup_addrs(ips: &[u64]) -> impl Iterator<Item = u64> + '_ {
    ips.iter()
        .enumerate()
        .map(|(i, &a)| if i == 0 { a } else { a.saturating_sub(1) })
}

fn name_of(s: &Symbolized) -> String {
    match s {
        Symbolized::Sym(sym) => sym.name.to_string(),
        Symbolized::Unknown(_) => UNKNOWN.to_string(),
    }
}

/// Reads the executable and the executable mappings of `pid` from /proc.
fn read_layout(pid: u32) -> Option<ProcessLayout> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let mut mappings = Vec::new();
    for line in maps.lines() {
        // start-end perms offset dev inode path
        let mut cols = line.split_whitespace();
        let (Some(range), Some(perms), Some(offset)) = (cols.next(), cols.next(), cols.next())
        else {
            continue;
        };
        let offset = u64::from_str_radix(offset, 16).unwrap_or(0);
        let path = cols.nth(2).unwrap_or("");
        if !perms.contains('x') || !path.starts_with('/') {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        mappings.push(Mapping {
            start,
            end,
            offset,
            path: PathBuf::from(path),
        });
    }
    Some(ProcessLayout { exe, mappings })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function of this test binary, never inlined, whose address we symbolise.
    #[inline(never)]
    fn marker_function_for_symbolize_test() -> u64 {
        std::hint::black_box(42)
    }

    #[test]
    fn resolves_own_function_and_libc_module() {
        let pid = std::process::id();
        let mut s = StackSymbolizer::new();
        s.remember_process(pid);
        let f = marker_function_for_symbolize_test as *const () as u64;
        let libc_fn = libc::getpid as *const () as u64;
        std::hint::black_box(marker_function_for_symbolize_test());
        let names = s.user_frames(pid, &[f]);
        assert!(
            names[0].contains("marker_function_for_symbolize_test"),
            "{names:?}"
        );
        let libc_names = s.user_frames(pid, &[libc_fn]);
        assert!(
            libc_names[0].contains("getpid") || libc_names[0].contains("libc"),
            "{libc_names:?}"
        );
        assert_eq!(
            s.walk_end(pid, &[f]),
            WalkEnd::Truncated,
            "ends in our own exe"
        );
        assert_eq!(
            s.walk_end(pid, &[f, 0x10]),
            WalkEnd::Truncated,
            "no mapping"
        );
    }
}
