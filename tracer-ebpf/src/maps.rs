//! Every map of the kernel side, with its size. Sizes come from `tracer_common`, where user
//! space reads them too; every failed insert is counted in `DROPS`.
//!
//! Each map's symbol name is its `static`'s name, which must be the constant of the same name
//! in `tracer_common::maps` (aya-ebpf's `#[map]` takes only a literal): user space reaches the
//! maps by those constants, and `tracer/src/kernel/maps.rs`'s tests check that this object has
//! exactly the maps `tracer_common::maps::ALL` lists, with the sizes of their types.

use aya_ebpf::{
    bindings::{bpf_map_type::BPF_MAP_TYPE_TASK_STORAGE, task_struct, BPF_F_NO_PREALLOC},
    btf_maps::StackTrace,
    helpers::generated::bpf_task_storage_get,
    macros::{btf_map, map},
    maps::{Array, HashMap, PerCpuArray, PerCpuHashMap},
};
use tracer_common::{
    BlockReq, Drop, ExitRecord, FdInfo, FdKey, FileKey, FuncKey, FuncStats, OffCpuKey, OffCpuValue,
    PathBuf, SampleKey, SyscallKey, SyscallStats, TargetInfo, ThreadSiteKey, ThreadState,
    WindowControl, WindowCount, DROP_REASONS, MAX_BLOCK_DEVS, MAX_BLOCK_INFLIGHT, MAX_EXITS,
    MAX_FDS, MAX_FILE_KEYS, MAX_FUNC_KEYS, MAX_OFFCPU_KEYS, MAX_PATHS, MAX_SAMPLE_KEYS, MAX_STACKS,
    MAX_SYSCALL_KEYS, MAX_TARGETS, MAX_THREAD_SITES, STACK_DEPTH, WINDOW_COUNT_SLOTS,
};

/// tgid -> why it is traced. Written by user space at attach and by `task_newtask` on fork.
#[map]
pub static TARGETS: HashMap<u32, TargetInfo> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// Index 0: children `task_newtask` added to `TARGETS`. User space re-reads `TARGETS` (one
/// syscall per entry) only when this count changed.
#[map]
pub static TARGET_ADDS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// The `strace -c` table, per CPU so the hot path needs no atomics.
#[map]
pub static SYSCALL_STATS: PerCpuHashMap<SyscallKey, SyscallStats> =
    PerCpuHashMap::with_max_entries(MAX_SYSCALL_KEYS, 0);

/// Syscalls on regular files, per path (which files are written and fsynced).
#[map]
pub static FILE_STATS: PerCpuHashMap<FileKey, SyscallStats> =
    PerCpuHashMap::with_max_entries(MAX_FILE_KEYS, 0);

/// (tgid, fd) -> what the fd is. Seeded by user space from /proc at attach, kept up to date
/// by watching the syscalls that create, duplicate and close fds.
#[map]
pub static FDS: HashMap<FdKey, FdInfo> = HashMap::with_max_entries(MAX_FDS, 0);

/// Path id (FNV-1a of the path as passed to open) -> the path.
#[map]
pub static PATHS: HashMap<u64, PathBuf> = HashMap::with_max_entries(MAX_PATHS, 0);

/// Stack id -> up to `STACK_DEPTH` instruction pointers, user and kernel stacks alike, for
/// even stack epochs (`tracer_common::window`). 64 frames instead of perf's 127 buys twice the
/// buckets (half the collisions) for the same kernel memory; C++ node stacks plus the
/// kernel's network path fit well within. Two maps of 32,768 buckets take what one map of
/// 65,536 took (~17 MiB each).
#[btf_map]
pub static STACKS_0: StackTrace<{ MAX_STACKS as usize }, 0, { STACK_DEPTH as usize }> =
    StackTrace::new();

/// The same for odd stack epochs.
#[btf_map]
pub static STACKS_1: StackTrace<{ MAX_STACKS as usize }, 0, { STACK_DEPTH as usize }> =
    StackTrace::new();

/// CPU samples per (process, thread name, user stack, kernel stack, window).
#[map]
pub static SAMPLES: PerCpuHashMap<SampleKey, u64> =
    PerCpuHashMap::with_max_entries(MAX_SAMPLE_KEYS, 0);

/// Index 0: the window and stack epoch being recorded, written by user space.
#[map]
pub static WINDOW_CONTROL: Array<WindowControl> = Array::with_max_entries(1, 0);

/// Events taken and lost per window, two banks (`tracer_common::window_count_index`).
#[map]
pub static WINDOW_COUNTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(WINDOW_COUNT_SLOTS, 0);

/// Calls of probed functions per (process, function).
#[map]
pub static FUNC_STATS: PerCpuHashMap<FuncKey, FuncStats> =
    PerCpuHashMap::with_max_entries(MAX_FUNC_KEYS, 0);

/// All-zero initial value (too big for the BPF stack), never written.
#[map]
pub static ZERO_FUNC: PerCpuArray<FuncStats> = PerCpuArray::with_max_entries(1, 0);

/// Blocked time of traced threads by (process, thread name, stacks, layer, reason).
#[map]
pub static OFFCPU: PerCpuHashMap<OffCpuKey, OffCpuValue> =
    PerCpuHashMap::with_max_entries(MAX_OFFCPU_KEYS, 0);

/// Per-thread state of threads of traced processes, in task-local storage: one entry per live
/// thread that was traced (no size to set: the kernel frees an entry with its thread). Failed
/// creations are counted as `Drop::ThreadStateFailed`.
#[btf_map]
pub static THREADS: TaskStorage<ThreadState> = TaskStorage::new();

/// Block request -> issue time (ns).
#[map]
pub static BLOCK_INFLIGHT: HashMap<BlockReq, u64> =
    HashMap::with_max_entries(MAX_BLOCK_INFLIGHT, 0);

/// Device -> issue-to-completion latency of its block requests (all processes: completions
/// are asynchronous, so they cannot be charged to one).
#[map]
pub static BLOCK_LATENCY: PerCpuHashMap<u32, SyscallStats> =
    PerCpuHashMap::with_max_entries(MAX_BLOCK_DEVS, 0);

/// Threads created per (process, creating thread name, creating user stack, window). Drained
/// by window like `SAMPLES`; the stack ids point into the stack map of the key's epoch.
#[map]
pub static THREAD_SITES: PerCpuHashMap<ThreadSiteKey, u64> =
    PerCpuHashMap::with_max_entries(MAX_THREAD_SITES, 0);

/// tgid -> how the process ended (exit code or fatal signal, with the receiving thread's user
/// stack kept in the value: stack maps are cleared as epochs move on, this is not drained).
#[map]
pub static EXITS: HashMap<u32, ExitRecord> = HashMap::with_max_entries(MAX_EXITS, 0);

/// One all-zero `ExitRecord`, never written: the initial value of new `EXITS` entries.
#[map]
pub static ZERO_EXIT: PerCpuArray<ExitRecord> = PerCpuArray::with_max_entries(1, 0);

/// Counters of what could not be recorded, indexed by `tracer_common::Drop`.
#[map]
pub static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(DROP_REASONS, 0);

/// One all-zero `SyscallStats`, never written: the initial value of new stats entries
/// (too big to build on the 512-byte BPF stack).
#[map]
pub static ZERO_STATS: PerCpuArray<SyscallStats> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU scratch space for a path read from user memory.
#[map]
pub static PATH_SCRATCH: PerCpuArray<PathBuf> = PerCpuArray::with_max_entries(1, 0);

/// The window and stack epoch being recorded.
#[inline(always)]
pub fn window() -> WindowControl {
    WINDOW_CONTROL.get(0).copied().unwrap_or(WindowControl {
        gen: 0,
        stack_epoch: 0,
    })
}

/// Counts one event of window `gen`.
#[inline(always)]
pub fn count_window(gen: u32, what: WindowCount) {
    if let Some(p) = WINDOW_COUNTS.get_ptr_mut(tracer_common::window_count_index(gen, what)) {
        // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
        unsafe { *p += 1 };
    }
}

/// Walks the current stack into the stack map of `stack_epoch`.
#[inline(always)]
pub fn get_stackid<C: aya_ebpf::programs::tracing::StackIdContext>(
    ctx: &C,
    stack_epoch: u32,
    flags: u64,
) -> Result<core::ffi::c_long, i32> {
    if tracer_common::stack_map_of(stack_epoch) == 0 {
        ctx.get_stackid(&STACKS_0, flags)
    } else {
        ctx.get_stackid(&STACKS_1, flags)
    }
}

/// Counts one thing the kernel side could not record.
#[inline(always)]
pub fn count_drop(reason: Drop) {
    if let Some(p) = DROPS.get_ptr_mut(reason as u32) {
        // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
        unsafe { *p += 1 };
    }
}

/// Returns this CPU's value for `key` in `map`, inserting it first as a copy of `zero` (the
/// one slot of an array map nobody writes, so all zero) when absent; a full map counts `full`.
/// The values are larger than the 512-byte BPF stack, so the zero value is a map value too.
#[inline(always)]
pub fn entry_or_zeroed<K, V>(
    map: &PerCpuHashMap<K, V>,
    key: &K,
    zero: &PerCpuArray<V>,
    full: Drop,
) -> Option<*mut V> {
    if let Some(p) = map.get_ptr_mut(key) {
        return Some(p);
    }
    let zero = zero.get_ptr(0)?;
    // SAFETY: points into a map value that nobody writes. Passed by reference on purpose: a
    // copy would put the whole value on the BPF stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    if map.insert(key, unsafe { &*zero }, 0).is_err() {
        count_drop(full);
        return None;
    }
    map.get_ptr_mut(key)
}

/// A task-local storage map (`BPF_MAP_TYPE_TASK_STORAGE`), which aya-ebpf does not provide:
/// the same BTF map definition its own `btf_maps` types use (the loader reads the map's type,
/// key, value, size and flags from these fields' types). The kernel requires
/// `BPF_F_NO_PREALLOC`, `max_entries` 0 and an `int` key.
#[repr(C)]
pub struct TaskStorage<T> {
    r#type: *const [i32; BPF_MAP_TYPE_TASK_STORAGE as usize],
    key: *const i32,
    value: *const T,
    max_entries: *const [i32; 0],
    map_flags: *const [i32; BPF_F_NO_PREALLOC as usize],
}

// SAFETY: placeholder pointers the loader reads as BTF; never dereferenced.
unsafe impl<T> Sync for TaskStorage<T> {}

/// `BPF_LOCAL_STORAGE_GET_F_CREATE`.
const F_CREATE: u64 = 1;

impl<T> TaskStorage<T> {
    pub const fn new() -> Self {
        TaskStorage {
            r#type: core::ptr::null(),
            key: core::ptr::null(),
            value: core::ptr::null(),
            max_entries: core::ptr::null(),
            map_flags: core::ptr::null(),
        }
    }

    #[inline(always)]
    fn storage_get(&self, task: *mut task_struct, flags: u64) -> Option<*mut T> {
        // SAFETY: the verifier only accepts a `task` that is a valid task_struct pointer (from
        // `bpf_get_current_task_btf` or a BTF tracepoint argument).
        let p = unsafe {
            bpf_task_storage_get(
                core::ptr::from_ref(self).cast_mut().cast(),
                task,
                core::ptr::null_mut(),
                flags,
            )
        };
        if p.is_null() {
            None
        } else {
            Some(p.cast())
        }
    }

    /// The entry of `task`, if it has one.
    #[inline(always)]
    pub fn get(&self, task: *mut task_struct) -> Option<*mut T> {
        self.storage_get(task, 0)
    }

    /// The entry of `task`, created zeroed if it has none (None: it could not be created).
    #[inline(always)]
    pub fn get_or_create(&self, task: *mut task_struct) -> Option<*mut T> {
        self.storage_get(task, F_CREATE)
    }
}
