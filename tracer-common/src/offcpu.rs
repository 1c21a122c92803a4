//! Blocked time of traced threads: `OFFCPU`.

use crate::assert_size;

/// Distinct off-CPU keys (process, thread name, stacks, layer, reason).
pub const MAX_OFFCPU_KEYS: u32 = 32768;

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
    /// The window the blocked interval was counted in, when it ended (`WindowControl::gen`).
    pub gen: u32,
    /// The stack epoch of the stack ids, when the thread blocked (`WindowControl::stack_epoch`):
    /// a thread may stay blocked for several windows.
    pub stack_epoch: u32,
}
assert_size!(OffCpuKey, 56);

/// Value of `OFFCPU`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct OffCpuValue {
    pub total_ns: u64,
    pub count: u64,
}
assert_size!(OffCpuValue, 16);
