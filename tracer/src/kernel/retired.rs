//! Kernel state of processes that exited, moved to user space so the kernel maps stay bounded
//! however many processes come and go (issue 11 item 2).
//!
//! When a traced process exits, its entries in `SYSCALL_STATS`, `FILE_STATS` and `FUNC_STATS`
//! are read, deleted from the kernel maps and added here; its `FDS` entries are deleted.
//! Nothing writes them any more (the process is gone), so nothing is lost between the read
//! and the delete. Paths are moved out of `PATHS` every read the same way (see
//! [`maps::take_paths`]). [`super::collect::read`] adds these sums to what it reads from the
//! kernel, so a read stays cumulative over the whole run and a window stays the difference
//! of two reads.

use anyhow::Result;
use std::collections::{HashMap, HashSet};
use tracer_common::{FileKey, FuncKey, FuncStats, SyscallKey, SyscallStats};

use super::{attach::Attached, maps};

/// What exited processes left behind, and every path seen so far.
#[derive(Debug, Default)]
pub struct Retired {
    pub syscalls: HashMap<SyscallKey, SyscallStats>,
    pub files: HashMap<FileKey, SyscallStats>,
    pub functions: HashMap<FuncKey, FuncStats>,
    /// path id -> path as opened, moved out of `PATHS`.
    pub paths: HashMap<u64, String>,
}

impl Retired {
    /// Moves the kernel entries of `tgids`, which exited, into user space (one walk of each
    /// map for all of them: a churning service ends many processes per poll).
    pub fn retire(&mut self, attached: &mut Attached, tgids: &HashSet<u32>) -> Result<()> {
        if tgids.is_empty() {
            return Ok(());
        }
        for (k, v) in maps::take_syscall_stats_of(attached, tgids)? {
            add(&mut self.syscalls, k, v, |a, b| {
                maps::sum_syscall_stats(&[*a, b])
            });
        }
        for (k, v) in maps::take_file_stats_of(attached, tgids)? {
            add(&mut self.files, k, v, |a, b| {
                maps::sum_syscall_stats(&[*a, b])
            });
        }
        for (k, v) in maps::take_function_stats_of(attached, tgids)? {
            add(&mut self.functions, k, v, |a, b| {
                maps::sum_func_stats(&[*a, b])
            });
        }
        maps::remove_fds_of(attached, tgids)
    }

    /// Moves the paths the kernel side stored since the last call into user space.
    pub fn take_paths(&mut self, attached: &mut Attached) -> Result<()> {
        self.paths.extend(maps::take_paths(attached)?);
        Ok(())
    }
}

/// Adds `v` to `key`'s sum (a pid reused by a later traced process adds up).
fn add<K: std::hash::Hash + Eq, V>(
    sums: &mut HashMap<K, V>,
    key: K,
    v: V,
    sum: impl Fn(&V, V) -> V,
) {
    let merged = match sums.remove(&key) {
        Some(old) => sum(&old, v),
        None => v,
    };
    sums.insert(key, merged);
}

/// `kernel` entries with `retired`'s added, key by key.
pub fn merged<K: Copy + std::hash::Hash + Eq, V: Copy>(
    kernel: Vec<(K, V)>,
    retired: &HashMap<K, V>,
    sum: impl Fn(&[V]) -> V,
) -> Vec<(K, V)> {
    let mut out: HashMap<K, V> = retired.clone();
    for (k, v) in kernel {
        let m = match out.get(&k) {
            Some(old) => sum(&[*old, v]),
            None => v,
        };
        out.insert(k, m);
    }
    out.into_iter().collect()
}
