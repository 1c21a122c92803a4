//! The name of every map of the kernel side, as its ELF symbol is called.
//!
//! `tracer-ebpf/src/maps.rs` declares each map as a `static` of this name (aya-ebpf's `#[map]`
//! takes only a string literal, so it cannot use these constants); user space reaches maps
//! only through these constants, in `tracer/src/kernel/maps.rs`, whose tests check that the
//! loaded object has exactly the maps listed in [`ALL`], with the key and value sizes of the
//! types named here.

/// tgid ([`u32`]) → [`crate::TargetInfo`]: the traced processes. Written by user space and by
/// the kernel side on fork.
pub const TARGETS: &str = "TARGETS";
/// Per CPU, index 0: children the kernel side added to `TARGETS` ([`u64`]).
pub const TARGET_ADDS: &str = "TARGET_ADDS";
/// [`crate::SyscallKey`] → [`crate::SyscallStats`], per CPU: the `strace -c` table.
pub const SYSCALL_STATS: &str = "SYSCALL_STATS";
/// [`crate::FileKey`] → [`crate::SyscallStats`], per CPU: syscalls on regular files.
pub const FILE_STATS: &str = "FILE_STATS";
/// [`crate::FdKey`] → [`crate::FdInfo`]: what each fd of a traced process is.
pub const FDS: &str = "FDS";
/// Path id ([`u64`], [`crate::path_id`]) → [`crate::PathBuf`]: paths as opened.
pub const PATHS: &str = "PATHS";
/// Stack id → instruction pointers (a BPF stack-trace map, [`crate::STACK_DEPTH`] frames):
/// the stacks of even stack epochs (see [`crate::window`]).
pub const STACKS_0: &str = "STACKS_0";
/// The same for odd stack epochs.
pub const STACKS_1: &str = "STACKS_1";
/// [`crate::SampleKey`] → sample count ([`u64`]), per CPU: on-CPU samples.
pub const SAMPLES: &str = "SAMPLES";
/// Index 0: [`crate::WindowControl`], the window and stack epoch being recorded (written by
/// user space).
pub const WINDOW_CONTROL: &str = "WINDOW_CONTROL";
/// Per CPU, [`crate::window_count_index`]: events taken and lost per window ([`u64`]).
pub const WINDOW_COUNTS: &str = "WINDOW_COUNTS";
/// [`crate::FuncKey`] → [`crate::FuncStats`], per CPU: probed calls.
pub const FUNC_STATS: &str = "FUNC_STATS";
/// [`crate::OffCpuKey`] → [`crate::OffCpuValue`], per CPU: blocked time.
pub const OFFCPU: &str = "OFFCPU";
/// [`crate::BlockReq`] → issue time (ns, [`u64`]): block requests in flight (kernel only).
pub const BLOCK_INFLIGHT: &str = "BLOCK_INFLIGHT";
/// Device (dev_t, [`u32`]) → [`crate::SyscallStats`], per CPU: block-request latency.
pub const BLOCK_LATENCY: &str = "BLOCK_LATENCY";
/// Per CPU, indexed by [`crate::Drop`]: what could not be recorded ([`u64`]).
pub const DROPS: &str = "DROPS";
/// [`crate::ThreadSiteKey`] → threads created ([`u64`]), per CPU: thread creation sites,
/// drained by window like `SAMPLES`.
pub const THREAD_SITES: &str = "THREAD_SITES";
/// tgid ([`u32`]) → [`crate::ExitRecord`]: how traced processes ended.
pub const EXITS: &str = "EXITS";
/// Per CPU, index 0: an all-zero [`crate::ExitRecord`] (kernel only).
pub const ZERO_EXIT: &str = "ZERO_EXIT";
/// Task-local storage of [`crate::ThreadState`] (kernel only: aya has no user-space type for
/// it).
pub const THREADS: &str = "THREADS";
/// Per CPU, index 0: an all-zero [`crate::SyscallStats`], the initial value of new entries
/// (kernel only).
pub const ZERO_STATS: &str = "ZERO_STATS";
/// Per CPU, index 0: an all-zero [`crate::FuncStats`] (kernel only).
pub const ZERO_FUNC: &str = "ZERO_FUNC";
/// Per CPU, index 0: scratch space for a path read from user memory (kernel only).
pub const PATH_SCRATCH: &str = "PATH_SCRATCH";

/// Every map of the kernel side.
pub const ALL: &[&str] = &[
    TARGETS,
    TARGET_ADDS,
    SYSCALL_STATS,
    FILE_STATS,
    FDS,
    PATHS,
    STACKS_0,
    STACKS_1,
    SAMPLES,
    WINDOW_CONTROL,
    WINDOW_COUNTS,
    FUNC_STATS,
    OFFCPU,
    BLOCK_INFLIGHT,
    BLOCK_LATENCY,
    DROPS,
    THREAD_SITES,
    EXITS,
    ZERO_EXIT,
    THREADS,
    ZERO_STATS,
    ZERO_FUNC,
    PATH_SCRATCH,
];

/// Load-time global (`u32`, in `.rodata`): 1 when uprobes are attached. Set by user space
/// before load; with 0 the kernel side never looks up per-thread layers.
pub const UPROBES_ON: &str = "UPROBES_ON";
