//! The `strace -c` view of a set of processes, and the disk figures the original script's
//! fourth test asked for (fsync rate and latency, write:fsync ratio, fsync share of time).

use std::collections::BTreeMap;

use crate::model::{FdKind, Snapshot, Stats};

/// One syscall of the table: totals over fd kinds, and the split by kind.
#[derive(Clone, Debug)]
pub struct SyscallRow {
    pub name: String,
    pub total: Stats,
    pub by_kind: BTreeMap<FdKind, Stats>,
}

/// Rows for the processes in `pids`, sorted like `strace -c`: by time, then calls, then name.
pub fn table(snapshot: &Snapshot, pids: &[u32]) -> Vec<SyscallRow> {
    let mut rows: BTreeMap<&str, SyscallRow> = BTreeMap::new();
    for rec in snapshot.syscalls.iter().filter(|r| pids.contains(&r.pid)) {
        let row = rows.entry(&rec.name).or_insert_with(|| SyscallRow {
            name: rec.name.clone(),
            total: Stats::default(),
            by_kind: BTreeMap::new(),
        });
        row.total.merge(&rec.stats);
        row.by_kind
            .entry(rec.fd_kind)
            .or_default()
            .merge(&rec.stats);
    }
    let mut rows: Vec<SyscallRow> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        b.total
            .total_ns
            .cmp(&a.total.total_ns)
            .then(b.total.count.cmp(&a.total.count))
            .then(a.name.cmp(&b.name))
    });
    rows
}

/// Sum of all rows.
pub fn total(rows: &[SyscallRow]) -> Stats {
    let mut t = Stats::default();
    for r in rows {
        t.merge(&r.total);
    }
    t
}

/// Syscalls that make file data durable.
pub const FLUSH_SYSCALLS: &[&str] = &["fsync", "fdatasync", "sync_file_range", "syncfs"];
/// Syscalls that work on files by path (no fd of a file yet, so their rows carry no fd kind):
/// opening, creating, inspecting, renaming and removing files. With the rows on file fds
/// (read, write, close, fstat...) and the flushes they make up the time spent on file I/O.
pub const PATH_SYSCALLS: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "truncate",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "readlink",
    "readlinkat",
];
/// Syscalls that write data.
pub const WRITE_SYSCALLS: &[&str] = &["write", "pwrite64", "writev", "pwritev", "pwritev2"];

/// The disk figures of one node (or a set of processes) over the run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DiskFigures {
    pub duration_s: f64,
    /// fsync + fdatasync calls.
    pub flushes: u64,
    pub flushes_per_s: f64,
    pub mean_flush_us: f64,
    pub p99_flush_us: f64,
    pub max_flush_us: f64,
    /// write-family calls on regular files.
    pub file_writes: u64,
    pub file_write_bytes: u64,
    /// file writes per flush (None without flushes).
    pub writes_per_flush: Option<f64>,
    /// bytes written to files per flush (None without flushes).
    pub bytes_per_flush: Option<f64>,
    /// share of all traced syscall time spent in fsync/fdatasync, in percent.
    pub flush_time_share_pct: f64,
    pub total_syscall_s: f64,
}

/// Computes [`DiskFigures`] for the processes in `pids`.
pub fn disk_figures(snapshot: &Snapshot, pids: &[u32]) -> DiskFigures {
    let mut flush = Stats::default();
    let mut writes = Stats::default();
    let mut all = Stats::default();
    for rec in snapshot.syscalls.iter().filter(|r| pids.contains(&r.pid)) {
        all.merge(&rec.stats);
        if rec.name == "fsync" || rec.name == "fdatasync" {
            flush.merge(&rec.stats);
        }
        if rec.fd_kind == FdKind::File && WRITE_SYSCALLS.contains(&rec.name.as_str()) {
            writes.merge(&rec.stats);
        }
    }
    let d = snapshot.duration_s.max(1e-9);
    let per_flush = |x: f64| (flush.count > 0).then(|| x / flush.count as f64);
    DiskFigures {
        duration_s: snapshot.duration_s,
        flushes: flush.count,
        flushes_per_s: flush.count as f64 / d,
        mean_flush_us: flush.mean_ns() / 1e3,
        p99_flush_us: flush.quantile_ns(0.99) / 1e3,
        max_flush_us: flush.max_ns as f64 / 1e3,
        file_writes: writes.count,
        file_write_bytes: writes.bytes,
        writes_per_flush: per_flush(writes.count as f64),
        bytes_per_flush: per_flush(writes.bytes as f64),
        flush_time_share_pct: if all.total_ns == 0 {
            0.0
        } else {
            100.0 * flush.total_ns as f64 / all.total_ns as f64
        },
        total_syscall_s: all.total_ns as f64 / 1e9,
    }
}

/// Per-file activity: which files are written and flushed, with how many calls and bytes.
#[derive(Clone, Debug)]
pub struct FileActivity {
    pub pid: u32,
    pub path: String,
    /// syscall name -> stats on this file
    pub by_syscall: BTreeMap<String, Stats>,
}

impl FileActivity {
    fn sum(&self, names: &[&str]) -> Stats {
        let mut s = Stats::default();
        for (n, st) in &self.by_syscall {
            if names.contains(&n.as_str()) {
                s.merge(st);
            }
        }
        s
    }
    pub fn writes(&self) -> Stats {
        self.sum(WRITE_SYSCALLS)
    }
    pub fn flushes(&self) -> Stats {
        self.sum(&["fsync", "fdatasync"])
    }
}

/// Files of the processes in `pids`, most written first.
pub fn files(snapshot: &Snapshot, pids: &[u32]) -> Vec<FileActivity> {
    let mut map: BTreeMap<(u32, &str), FileActivity> = BTreeMap::new();
    for rec in snapshot.files.iter().filter(|r| pids.contains(&r.pid)) {
        let fa = map
            .entry((rec.pid, &rec.path))
            .or_insert_with(|| FileActivity {
                pid: rec.pid,
                path: rec.path.clone(),
                by_syscall: BTreeMap::new(),
            });
        fa.by_syscall
            .entry(rec.syscall.clone())
            .or_default()
            .merge(&rec.stats);
    }
    let mut out: Vec<FileActivity> = map.into_values().collect();
    out.sort_by(|a, b| {
        (b.writes().count + b.flushes().count)
            .cmp(&(a.writes().count + a.flushes().count))
            .then(a.path.cmp(&b.path))
    });
    out
}
