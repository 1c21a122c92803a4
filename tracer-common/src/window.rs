//! Lossless windows: the generation switch between the kernel side and user space.
//!
//! `SAMPLES`, `OFFCPU` and `THREAD_SITES` are drained every window. Reading a map, then deleting what was read,
//! loses every increment that lands in between, silently. Instead each record carries the
//! window (`gen`) it was counted in, which the kernel side reads from [`WindowControl`]:
//! user space moves `gen` on, waits until no program can still be writing the old one (the
//! programs that write these maps run with preemption off: the perf-event overflow handler,
//! `sched_switch` and `task_newtask`), and only then reads and deletes the old window's records, which nothing
//! writes any more. The per-window counts of events taken and lost ([`WindowCount`]) are kept
//! the same way, in two banks selected by `gen & 1`, so every window says
//! taken = recorded + lost by reason, exactly.
//!
//! Stacks are not drained with the windows: a thread that blocked in one window holds its
//! stack id until it runs again, possibly windows later. There are two stack maps,
//! `STACKS_0` and `STACKS_1`; the kernel side walks stacks into `STACKS_<stack_epoch & 1>`
//! and records the epoch beside the id. User space moves to the next epoch only when the
//! current map fills up (see `tracer::kernel::collect`), clearing the other map first: ids of
//! the epoch before stay readable for a whole epoch, and an id older than that is recognised
//! by its epoch and counted as an expired stack, never read as another stack.

use crate::assert_size;

/// Value of `WINDOW_CONTROL` (one entry): what the kernel side records into.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowControl {
    /// The window being recorded (starts at 1: 0 is "before any window").
    pub gen: u32,
    /// Which stack map is being filled: `STACKS_<stack_epoch & 1>`.
    pub stack_epoch: u32,
}
assert_size!(WindowControl, 8);

/// What a window counts besides its records: indexes into one bank of `WINDOW_COUNTS`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowCount {
    /// CPU samples that hit a traced process (recorded or not).
    SamplesTaken = 0,
    /// Of those, not recorded because `SAMPLES` was full.
    SamplesLostMapFull = 1,
    /// Blocked intervals of traced threads that ended (or could not be started).
    OffCpuTaken = 2,
    /// Of those, not recorded because `OFFCPU` was full.
    OffCpuLostMapFull = 3,
    /// Of those, not recorded because the thread's state could not be created when it blocked.
    OffCpuLostNoThreadState = 4,
}

/// Counts per bank.
pub const WINDOW_COUNTS_PER_BANK: u32 = 5;
/// Entries of `WINDOW_COUNTS`: two banks, `gen & 1`.
pub const WINDOW_COUNT_SLOTS: u32 = 2 * WINDOW_COUNTS_PER_BANK;

/// Index of `what` in the bank of window `gen`.
#[inline(always)]
pub const fn window_count_index(gen: u32, what: WindowCount) -> u32 {
    (gen & 1) * WINDOW_COUNTS_PER_BANK + what as u32
}

/// Index of the stack map ids of `stack_epoch` live in (0 or 1).
#[inline(always)]
pub const fn stack_map_of(stack_epoch: u32) -> u32 {
    stack_epoch & 1
}
