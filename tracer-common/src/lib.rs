//! The whole contract between the eBPF programs (`tracer-ebpf`) and user space (`tracer`).
//!
//! Like a libbpf-tools header, this one file says what every map holds and how big it is.
//! Everything here is `#[repr(C)]`, padded explicitly, and `no_std`, because the same bytes
//! are written by the kernel-side programs and read by user space. `docs/ARCHITECTURE.md`
//! ("The kernel/user contract") describes the maps and how to add one.
#![no_std]

/// Number of log2 latency buckets. Bucket `i` holds latencies in `[2^i, 2^(i+1))` ns
/// (bucket 0 also holds 0 ns); the last bucket holds everything larger (2^39 ns ≈ 9 min).
pub const HIST_BUCKETS: usize = 40;

/// Longest file path captured at `open*` time, NUL included. Longer paths are truncated.
pub const PATH_LEN: usize = 256;

/// Traced processes (nodes and the children they fork).
pub const MAX_TARGETS: u32 = 4096;
/// Distinct (process, syscall, fd kind) triples. ~60 syscalls x 3 kinds x dozens of processes.
pub const MAX_SYSCALL_KEYS: u32 = 8192;
/// Distinct (process, file, syscall) triples for syscalls on regular files.
pub const MAX_FILE_KEYS: u32 = 8192;
/// Open file descriptors tracked across all traced processes.
pub const MAX_FDS: u32 = 65536;
/// Distinct file paths seen by `open*`.
pub const MAX_PATHS: u32 = 8192;

/// What kind of object a file descriptor refers to, so `read`/`write` on sockets can be told
/// apart from `read`/`write` on files (the network layer vs the log & I/O layer).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// The syscall takes no file descriptor.
    None = 0,
    /// A file (or directory) opened by path, outside the pseudo file systems /dev, /proc and
    /// /sys: the files whose writes and flushes are disk I/O.
    File = 1,
    /// A socket (socket, accept, accept4, socketpair).
    Socket = 2,
    /// A pipe, eventfd, epoll, timerfd, a device or a /proc or /sys file: anything that is
    /// neither a disk file nor a socket.
    Other = 3,
    /// An fd the tracer never saw created and could not classify when it attached.
    Unknown = 4,
}

impl FdKind {
    pub const fn from_u32(v: u32) -> FdKind {
        match v {
            1 => FdKind::File,
            2 => FdKind::Socket,
            3 => FdKind::Other,
            4 => FdKind::Unknown,
            _ => FdKind::None,
        }
    }
}

/// Key of `SYSCALL_STATS`: one row of the per-process `strace -c` table, split by fd kind.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyscallKey {
    pub tgid: u32,
    pub nr: u32,
    pub fd_kind: u32,
    /// The layer the calling thread was in (innermost active probed function), 0 for none.
    pub layer: u32,
}

/// Aggregated cost of one syscall (or of one syscall on one file). Kept per CPU in the kernel,
/// summed in user space, so the hot path needs no atomics.
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

impl SyscallStats {
    pub const ZERO: SyscallStats = SyscallStats {
        count: 0,
        errors: 0,
        total_ns: 0,
        max_ns: 0,
        bytes: 0,
        hist: [0; HIST_BUCKETS],
    };
}

/// Key of `FILE_STATS`: a syscall on a regular file, identified by the hash of its path.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub tgid: u32,
    pub nr: u32,
    pub path_id: u64,
}

/// Key of `FDS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FdKey {
    pub tgid: u32,
    pub fd: u32,
}

/// Value of `FDS`: what the fd is and, for files, which path (an id into `PATHS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdInfo {
    pub kind: u32,
    pub _pad: u32,
    pub path_id: u64,
}

/// The syscall a thread is inside right now (`ThreadState::inflight`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Inflight {
    /// `bpf_ktime_get_ns` at entry; 0 means "no syscall in flight".
    pub start_ns: u64,
    pub nr: u32,
    pub fd_kind: u32,
    /// For fd syscalls on files: the file's path id. For `open*`: the id of the path being
    /// opened. For `dup*`/`fcntl`: the source fd. For `socketpair`/`pipe*`: the user pointer.
    pub arg: u64,
    /// The fd argument (or the new fd for dup2/dup3), -1 when there is none.
    pub fd: i64,
    /// For `open*`: the kind the new fd gets (`File`, or `Other` for /dev, /proc, /sys).
    pub new_kind: u32,
    /// The thread's layer at entry (see `SyscallKey::layer`).
    pub layer: u32,
}

/// A path captured at `open*`, NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PathBuf {
    pub bytes: [u8; PATH_LEN],
}

/// Buckets of the stack-trace map. A bucket collision between two different stacks loses the
/// newer one (counted as `Drop::StackCollision`): with n distinct stacks about n^2/(2 x
/// MAX_STACKS) collide, e.g. ~0.5% of 2,000 distinct stacks.
pub const MAX_STACKS: u32 = 65536;
/// Frames kept per stack (user and kernel stacks are stored separately).
pub const STACK_DEPTH: u32 = 64;
/// Distinct (process, thread name, user stack, kernel stack) sample keys.
pub const MAX_SAMPLE_KEYS: u32 = 32768;

/// Key of `SAMPLES`: one distinct on-CPU stack of one thread name of one process. Threads are
/// keyed by name, not id, so a leader that creates thousands of short-lived `hb-send` threads
/// a second still has one key per distinct stack.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SampleKey {
    pub tgid: u32,
    /// Id in the stack-trace map, or negative when there is none (see `Drop`).
    pub user_stack: i32,
    pub kernel_stack: i32,
    /// The thread's layer when sampled (see `SyscallKey::layer`).
    pub layer: u32,
    /// The thread's name (`comm`) when sampled.
    pub comm: [u8; 16],
}

/// Probed calls that can be active at once on one thread (nesting, recursion, and entries of
/// functions that never return, such as ticker loops running in fibers).
pub const CALL_DEPTH: usize = 16;
/// Distinct (process, probed function) pairs (a few nodes x a few dozen functions).
pub const MAX_FUNC_KEYS: u32 = 1024;

/// Buckets of the log-linear latency histogram of probed functions: 16 linear sub-buckets per
/// power of two (each ~6% wide), so a percentile is known to within ~3%. Values below 16 ns
/// get a bucket each. See [`fine_bucket`].
pub const FINE_BUCKETS: usize = 592;

/// Bucket of `ns` in the log-linear histogram: `ns` itself below 16, else
/// `(e - 3) * 16 + s` where `e = floor(log2 ns)` and `s` is the next 4 bits below the top bit.
#[inline(always)]
pub fn fine_bucket(ns: u64) -> usize {
    if ns < 16 {
        return ns as usize;
    }
    let e = 63 - ns.leading_zeros() as usize;
    let idx = (e - 3) * 16 + ((ns >> (e - 4)) & 15) as usize;
    if idx >= FINE_BUCKETS {
        FINE_BUCKETS - 1
    } else {
        idx
    }
}

/// Lower and upper bound (ns) of log-linear bucket `idx` (inverse of [`fine_bucket`]).
pub fn fine_bucket_bounds(idx: usize) -> (u64, u64) {
    if idx < 16 {
        return (idx as u64, idx as u64 + 1);
    }
    let e = idx / 16 + 3;
    let sub = (idx % 16) as u64;
    ((16 + sub) << (e - 4), (17 + sub) << (e - 4))
}

/// One active probed call of a thread.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CallFrame {
    /// Index of the function in the list user space attached (the uprobe's cookie, low half).
    pub func: u32,
    /// Its layer (the cookie's high half), 1-based; 0 means no layer.
    pub layer: u32,
    pub start_ns: u64,
}

/// The probed calls active on a thread (`ThreadState::calls`), innermost last. Its innermost
/// layer is the thread's current layer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ThreadCalls {
    pub depth: u32,
    /// 1 once a probed function was entered on this thread since tracing began. Until then a
    /// probed return is ignored, not counted as unmatched: the thread's state may exist for
    /// its syscalls, but its calls were all entered before tracing.
    pub seen: u32,
    pub frames: [CallFrame; CALL_DEPTH],
}

/// Key of `FUNC_STATS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FuncKey {
    pub tgid: u32,
    pub func: u32,
}

/// Calls of one probed function in one process. Latency is measured for calls whose return
/// was seen; `entries - returns` are calls still running or that never return (ticker loops).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FuncStats {
    pub entries: u64,
    pub returns: u64,
    /// Returns without a matching entry (the entry happened before tracing started, or was
    /// pushed off a full call stack).
    pub unmatched_returns: u64,
    pub total_ns: u64,
    pub max_ns: u64,
    /// Log-linear histogram, see [`fine_bucket`].
    pub hist: [u64; FINE_BUCKETS],
}

/// Distinct off-CPU keys (process, thread name, stacks, layer, reason).
pub const MAX_OFFCPU_KEYS: u32 = 32768;
/// Block requests in flight at once (issue recorded, completion not yet seen).
pub const MAX_BLOCK_INFLIGHT: u32 = 16384;
/// Block devices tracked.
pub const MAX_BLOCK_DEVS: u32 = 64;

/// `OffCpuKey::reason` for a thread that blocked outside any syscall (page fault, ...).
pub const OFFCPU_NO_SYSCALL: u32 = 0xffff_ffff;

/// Key of `OFFCPU`: where and why threads of a traced process blocked.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OffCpuKey {
    pub tgid: u32,
    pub user_stack: i32,
    pub kernel_stack: i32,
    pub layer: u32,
    /// The syscall the thread blocked in (202 = futex), or `OFFCPU_NO_SYSCALL`.
    pub reason: u32,
    /// For futex: the operation without the PRIVATE/CLOCK_REALTIME flags (glibc waits for a
    /// mutex with FUTEX_WAIT = 0 and for a condition variable with FUTEX_WAIT_BITSET = 9), so
    /// lock waits can be told from condition waits even when the stack stops inside libc.
    /// `u32::MAX` otherwise.
    pub futex_op: u32,
    /// With `user_stack == STACK_IP_ONLY`: the user instruction pointer the thread blocked at,
    /// which is its whole user stack (see `STACK_IP_ONLY`); 0 otherwise.
    pub user_ip: u64,
    pub comm: [u8; 16],
}

/// `OffCpuKey::user_stack` when no stack was walked because the user frame pointer at the
/// block does not point into the thread's stack just above its stack pointer: glibc (built
/// without frame pointers here) has used `rbp` as a general register by the time it blocks in
/// a futex. The kernel's walk would then yield the instruction pointer plus garbage read at
/// that "frame pointer" — and pay a faulting user read, ~1 µs in this project's VMs — so the
/// instruction pointer alone (`user_ip`) is recorded.
pub const STACK_IP_ONLY: i32 = -3;

/// Largest distance from the user stack pointer to a plausible frame pointer of the innermost
/// frame (a frame's locals would have to be larger than this).
pub const MAX_FRAME_SPAN: u64 = 8 << 20;

/// Value of `OFFCPU`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct OffCpuValue {
    pub total_ns: u64,
    pub count: u64,
}

/// Value of `THREADS`, the kernel side's per-thread state. It lives in task-local storage
/// (attached to the kernel's `task_struct`, freed with it), not in a hash map keyed by thread
/// id: reaching it is a pointer walk instead of a hash lookup, and no exit hook has to free it.
/// Created zeroed for threads of traced processes only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ThreadState {
    /// The syscall it is in (`start_ns` 0: none, or entered before tracing began).
    pub inflight: Inflight,
    /// Its active probed calls (uprobes).
    pub calls: ThreadCalls,
    /// When the thread blocked (switched out asleep); 0 while it is not blocked, or blocked
    /// without being recorded.
    pub offcpu_start_ns: u64,
    /// Where and why it blocked, added to `OFFCPU` when it runs again.
    pub offcpu_key: OffCpuKey,
}

/// Key of `BLOCK_INFLIGHT`: a block request.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockReq {
    pub dev: u32,
    pub _pad: u32,
    pub sector: u64,
}

/// Reasons the kernel side could not record something, indexes into the `DROPS` array.
/// Every one of them is shown to the user.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// `SYSCALL_STATS` was full: a syscall went uncounted.
    SyscallMapFull = 0,
    /// No longer recorded: the in-flight syscall now lives in `ThreadState` (failures there
    /// are `ThreadStateFailed`). Kept so that the other reasons keep their indexes.
    InflightFull = 1,
    /// `FDS` was full: an fd will be classified as unknown.
    FdMapFull = 2,
    /// `PATHS` was full: a file will show without its path.
    PathMapFull = 3,
    /// `FILE_STATS` was full: a per-file row went uncounted (the syscall itself was counted).
    FileMapFull = 4,
    /// `TARGETS` was full: a forked child of a traced process is not traced.
    TargetMapFull = 5,
    /// `SAMPLES` was full: a CPU sample went uncounted.
    SampleMapFull = 6,
    /// A stack could not be stored because a different stack occupied its bucket in the
    /// stack-trace map; the sample is counted without that stack.
    StackCollision = 7,
    /// The kernel could not walk a stack for another reason (the sample is counted without it).
    StackFailed = 8,
    /// A probed function was entered with `CALL_DEPTH` probed calls already active on the
    /// thread: its entry is counted, its latency is not measured.
    CallDepthExceeded = 9,
    /// `FUNC_STATS` was full: a probed call went uncounted.
    FuncMapFull = 10,
    /// No longer recorded: a thread's probed calls now live in `ThreadState` (failures there
    /// are `ThreadStateFailed`). Kept so that the other reasons keep their indexes.
    ThreadMapFull = 11,
    /// `OFFCPU` was full: a blocked interval went unrecorded.
    OffCpuMapFull = 12,
    /// `BLOCK_INFLIGHT` or `BLOCK_LATENCY` was full: a block request's latency went unrecorded.
    BlockMapFull = 13,
    /// A traced thread's state (`THREADS`, task-local storage) could not be created (kernel
    /// memory, or a nested use of task storage on that CPU): a syscall or blocked interval of
    /// that thread went unrecorded.
    ThreadStateFailed = 14,
}

/// Number of [`Drop`] reasons (length of the `DROPS` array).
pub const DROP_REASONS: u32 = 15;

/// Names of [`Drop`] reasons, indexed by their value, as shown in reports.
pub const DROP_NAMES: [&str; DROP_REASONS as usize] = [
    "syscall_map_full",
    "inflight_map_full",
    "fd_map_full",
    "path_map_full",
    "file_map_full",
    "target_map_full",
    "sample_map_full",
    "stack_collision",
    "stack_failed",
    "call_depth_exceeded",
    "func_map_full",
    "thread_map_full",
    "offcpu_map_full",
    "block_map_full",
    "thread_state_failed",
];

/// Value of `TARGETS`: why this process is traced.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    /// The traced process this one descends from (itself for processes user space named).
    pub root_tgid: u32,
    /// 1 when forked children should be traced too.
    pub follow_children: u32,
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: all of these are #[repr(C)], made only of integers, with explicit padding.
    unsafe impl aya::Pod for SyscallKey {}
    unsafe impl aya::Pod for SyscallStats {}
    unsafe impl aya::Pod for FileKey {}
    unsafe impl aya::Pod for FdKey {}
    unsafe impl aya::Pod for FdInfo {}
    unsafe impl aya::Pod for Inflight {}
    unsafe impl aya::Pod for PathBuf {}
    unsafe impl aya::Pod for TargetInfo {}
    unsafe impl aya::Pod for SampleKey {}
    unsafe impl aya::Pod for FuncKey {}
    unsafe impl aya::Pod for FuncStats {}
    unsafe impl aya::Pod for ThreadCalls {}
    unsafe impl aya::Pod for OffCpuKey {}
    unsafe impl aya::Pod for OffCpuValue {}
    unsafe impl aya::Pod for BlockReq {}
}

/// x86-64 syscall numbers the kernel side treats specially, and per-syscall properties as
/// bitmaps (a bit per syscall number) because BPF has no jump tables.
pub mod sysno {
    pub const READ: u32 = 0;
    pub const WRITE: u32 = 1;
    pub const FUTEX: u32 = 202;
    /// The kernel's uretprobe trampoline (x86-64, since 6.11): a function probed with a
    /// uretprobe returns through this syscall. It is tracer's own doing, not the target's,
    /// so it is not counted (`strace -c` on an untraced run would never see it).
    pub const URETPROBE: u32 = 335;
    pub const OPEN: u32 = 2;
    pub const CLOSE: u32 = 3;
    pub const FSTAT: u32 = 5;
    pub const LSEEK: u32 = 8;
    pub const IOCTL: u32 = 16;
    pub const PREAD64: u32 = 17;
    pub const PWRITE64: u32 = 18;
    pub const READV: u32 = 19;
    pub const WRITEV: u32 = 20;
    pub const PIPE: u32 = 22;
    pub const DUP: u32 = 32;
    pub const DUP2: u32 = 33;
    pub const SENDFILE: u32 = 40;
    pub const SOCKET: u32 = 41;
    pub const CONNECT: u32 = 42;
    pub const ACCEPT: u32 = 43;
    pub const SENDTO: u32 = 44;
    pub const RECVFROM: u32 = 45;
    pub const SENDMSG: u32 = 46;
    pub const RECVMSG: u32 = 47;
    pub const SHUTDOWN: u32 = 48;
    pub const BIND: u32 = 49;
    pub const LISTEN: u32 = 50;
    pub const GETSOCKNAME: u32 = 51;
    pub const GETPEERNAME: u32 = 52;
    pub const SOCKETPAIR: u32 = 53;
    pub const SETSOCKOPT: u32 = 54;
    pub const GETSOCKOPT: u32 = 55;
    pub const FCNTL: u32 = 72;
    pub const FLOCK: u32 = 73;
    pub const FSYNC: u32 = 74;
    pub const FDATASYNC: u32 = 75;
    pub const FTRUNCATE: u32 = 77;
    pub const CREAT: u32 = 85;
    pub const EPOLL_CREATE: u32 = 213;
    pub const GETDENTS64: u32 = 217;
    pub const FADVISE64: u32 = 221;
    pub const EPOLL_WAIT: u32 = 232;
    pub const EPOLL_CTL: u32 = 233;
    pub const OPENAT: u32 = 257;
    pub const SPLICE: u32 = 275;
    pub const SYNC_FILE_RANGE: u32 = 277;
    pub const EPOLL_PWAIT: u32 = 281;
    pub const SIGNALFD: u32 = 282;
    pub const TIMERFD_CREATE: u32 = 283;
    pub const EVENTFD: u32 = 284;
    pub const FALLOCATE: u32 = 285;
    pub const ACCEPT4: u32 = 288;
    pub const SIGNALFD4: u32 = 289;
    pub const EVENTFD2: u32 = 290;
    pub const EPOLL_CREATE1: u32 = 291;
    pub const DUP3: u32 = 292;
    pub const PIPE2: u32 = 293;
    pub const INOTIFY_INIT1: u32 = 294;
    pub const PREADV: u32 = 295;
    pub const PWRITEV: u32 = 296;
    pub const RECVMMSG: u32 = 299;
    pub const SYNCFS: u32 = 306;
    pub const SENDMMSG: u32 = 307;
    pub const MEMFD_CREATE: u32 = 319;
    pub const COPY_FILE_RANGE: u32 = 326;
    pub const PREADV2: u32 = 327;
    pub const PWRITEV2: u32 = 328;
    pub const PIDFD_OPEN: u32 = 434;
    pub const OPENAT2: u32 = 437;

    /// Syscall numbers covered by the bitmaps.
    pub const BITMAP_NRS: u32 = 512;

    /// A set of syscall numbers, one bit each.
    pub type Bitmap = [u64; (BITMAP_NRS / 64) as usize];

    const fn bitmap(nrs: &[u32]) -> Bitmap {
        let mut map = [0u64; (BITMAP_NRS / 64) as usize];
        let mut i = 0;
        while i < nrs.len() {
            map[(nrs[i] / 64) as usize] |= 1 << (nrs[i] % 64);
            i += 1;
        }
        map
    }

    /// Whether `nr` is in `map`.
    #[inline(always)]
    pub fn contains(map: &Bitmap, nr: u32) -> bool {
        let word = (nr / 64) as usize;
        word < map.len() && (map[word] >> (nr % 64)) & 1 == 1
    }

    /// Syscalls whose first argument is a file descriptor: their fd kind is looked up.
    pub const FD_ARG0: Bitmap = bitmap(&[
        READ,
        WRITE,
        CLOSE,
        FSTAT,
        LSEEK,
        IOCTL,
        PREAD64,
        PWRITE64,
        READV,
        WRITEV,
        SENDFILE,
        CONNECT,
        ACCEPT,
        SENDTO,
        RECVFROM,
        SENDMSG,
        RECVMSG,
        SHUTDOWN,
        BIND,
        LISTEN,
        GETSOCKNAME,
        GETPEERNAME,
        SETSOCKOPT,
        GETSOCKOPT,
        FCNTL,
        FLOCK,
        FSYNC,
        FDATASYNC,
        FTRUNCATE,
        GETDENTS64,
        FADVISE64,
        EPOLL_WAIT,
        EPOLL_CTL,
        SYNC_FILE_RANGE,
        EPOLL_PWAIT,
        FALLOCATE,
        ACCEPT4,
        PREADV,
        PWRITEV,
        RECVMMSG,
        SYNCFS,
        SENDMMSG,
        COPY_FILE_RANGE,
        PREADV2,
        PWRITEV2,
    ]);

    /// Syscalls whose positive return value is a number of bytes moved.
    pub const BYTES: Bitmap = bitmap(&[
        READ,
        WRITE,
        PREAD64,
        PWRITE64,
        READV,
        WRITEV,
        SENDFILE,
        SENDTO,
        RECVFROM,
        SENDMSG,
        RECVMSG,
        SPLICE,
        PREADV,
        PWRITEV,
        COPY_FILE_RANGE,
        PREADV2,
        PWRITEV2,
    ]);

    /// Syscalls that return a new fd that is neither a file nor a socket.
    pub const NEW_OTHER_FD: Bitmap = bitmap(&[
        EPOLL_CREATE,
        SIGNALFD,
        TIMERFD_CREATE,
        EVENTFD,
        SIGNALFD4,
        EVENTFD2,
        EPOLL_CREATE1,
        INOTIFY_INIT1,
        MEMFD_CREATE,
        PIDFD_OPEN,
    ]);
}

/// FNV-1a parameters of path ids: the kernel hashes the path passed to `open*`, user space
/// hashes paths it seeds from /proc with [`path_id`]; both must agree.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// True for paths of pseudo file systems (/dev, /proc, /sys), whose I/O is not disk I/O.
pub fn is_pseudo_path(bytes: &[u8]) -> bool {
    bytes.starts_with(b"/dev/") || bytes.starts_with(b"/proc/") || bytes.starts_with(b"/sys/")
}

/// Path id of `bytes` (no NUL), as the kernel side computes it: FNV-1a, never 0.
pub fn path_id(bytes: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET;
    for &b in bytes.iter().take(PATH_LEN - 1) {
        hash ^= b as u64;
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    if hash == 0 {
        1
    } else {
        hash
    }
}
