//! The `strace -c` tables: `SYSCALL_STATS` (per process, syscall, fd kind and layer) and
//! `FILE_STATS` (per process, syscall and file), and the syscall a thread is inside.

use crate::{assert_size, HIST_BUCKETS};

/// Distinct (process, syscall, fd kind) triples. ~60 syscalls x 3 kinds x dozens of processes.
pub const MAX_SYSCALL_KEYS: u32 = 8192;
/// Distinct (process, file, syscall) triples for syscalls on regular files.
pub const MAX_FILE_KEYS: u32 = 8192;

/// Key of `SYSCALL_STATS`: one row of the per-process `strace -c` table, split by fd kind.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyscallKey {
    pub tgid: u32,
    pub nr: u32,
    /// A [`crate::FdKind`].
    pub fd_kind: u32,
    /// The layer the calling thread was in (innermost active probed function), 0 for none.
    pub layer: u32,
}
assert_size!(SyscallKey, 16);

/// Aggregated cost of one syscall (or of one syscall on one file, or of one device's block
/// requests). Kept per CPU in the kernel, summed in user space, so the hot path needs no
/// atomics.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SyscallStats {
    pub count: u64,
    /// Calls that returned -errno.
    pub errors: u64,
    /// Sum of enter-to-exit latencies (wall clock, ns).
    pub total_ns: u64,
    pub max_ns: u64,
    /// Bytes moved by data syscalls (read/write/send/recv families): sum of positive returns.
    pub bytes: u64,
    /// log2 histogram of latencies, see [`HIST_BUCKETS`].
    pub hist: [u64; HIST_BUCKETS],
}
assert_size!(SyscallStats, 8 * (5 + HIST_BUCKETS));

/// Key of `FILE_STATS`: a syscall on a regular file, identified by the hash of its path, in the
/// layer the thread was in. Opens of a file (`open*`, `creat`) are rows too, keyed by the path
/// opened, with [`FILE_OPEN_TRUNC`] in `flags` when they truncate it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub tgid: u32,
    pub nr: u32,
    /// [`crate::path_id`] of the file's path.
    pub path_id: u64,
    /// The layer the calling thread was in (see `SyscallKey::layer`), 0 for none.
    pub layer: u32,
    /// [`FILE_OPEN_TRUNC`] for opens with `O_TRUNC` (`creat` included), else 0.
    pub flags: u32,
}
assert_size!(FileKey, 24);

/// `FileKey::flags`: an open that truncates the file (`O_TRUNC`).
pub const FILE_OPEN_TRUNC: u32 = 1;
/// `O_TRUNC` (x86-64).
pub const O_TRUNC: u64 = 0o1000;

/// The syscall a thread is inside right now (`ThreadState::inflight`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Inflight {
    /// `bpf_ktime_get_ns` at entry; 0 means "no syscall in flight".
    pub start_ns: u64,
    pub nr: u32,
    pub fd_kind: u32,
    /// For fd syscalls on files: the file's path id. For `open*`: the user pointer to the path
    /// being opened (read at exit if the open succeeded). For `dup*`/`fcntl`: the source fd. For `socketpair`/`pipe*`: the user pointer.
    pub arg: u64,
    /// The fd argument (or the new fd for dup2/dup3), -1 when there is none.
    pub fd: i64,
    /// For `open*`: the kind the new fd gets (`File`, or `Other` for /dev, /proc, /sys).
    pub new_kind: u32,
    /// The thread's layer at entry (see `SyscallKey::layer`).
    pub layer: u32,
    /// For `open*`/`creat`: [`FILE_OPEN_TRUNC`] when the open truncates; else 0.
    pub open_flags: u32,
    pub _pad: u32,
}
assert_size!(Inflight, 48);
