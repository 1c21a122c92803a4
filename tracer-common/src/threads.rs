//! The kernel side's per-thread state: `THREADS` (task-local storage).

use crate::{assert_size, Inflight, OffCpuKey, ThreadCalls};

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
assert_size!(ThreadState, 48 + 264 + 8 + 56);
