//! How traced processes live and die: the threads they create (`THREAD_SITES`, with the user
//! stack that created each) and how they ended (`EXITS`: an exit code, or the fatal signal with
//! the stack of the thread that received it).

use crate::assert_size;

/// Distinct (process, creating thread name, creating user stack, window) keys between two
/// drains.
pub const MAX_THREAD_SITES: u32 = 4096;
/// Processes whose end is remembered (a fork-heavy workload ends many short-lived children).
pub const MAX_EXITS: u32 = 4096;
/// User frames kept with a fatal signal (the crashing thread's last stack).
pub const EXIT_STACK_DEPTH: usize = 32;

/// Key of `THREAD_SITES`: threads created by a thread of `tgid` named `comm` at the user stack
/// `user_stack` (an id into `STACKS_<stack_epoch & 1>`; -1 when no user stack could be walked,
/// -2 when it was lost), in window `gen`. Drained by window like `SAMPLES` (see
/// [`crate::window`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadSiteKey {
    pub tgid: u32,
    pub user_stack: i32,
    pub comm: [u8; 16],
    /// The window the creation was counted in (`WindowControl::gen`).
    pub gen: u32,
    /// The stack epoch of `user_stack` (`WindowControl::stack_epoch`).
    pub stack_epoch: u32,
}
assert_size!(ThreadSiteKey, 32);

/// `ExitRecord::kind`: nothing seen yet but the process's last exit (its comm).
pub const EXIT_SEEN: u32 = 0;
/// `ExitRecord::kind`: the process called `exit_group(code)`.
pub const EXIT_CODE: u32 = 1;
/// `ExitRecord::kind`: a thread of the process received a signal whose default action ends
/// the process (SIGSEGV, SIGABRT, ... with no handler installed).
pub const EXIT_SIGNAL: u32 = 2;

/// Value of `EXITS` (key: tgid): how a traced process ended.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExitRecord {
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) of the exit call or the signal's delivery.
    pub at_ns: u64,
    /// The thread that called exit_group or received the signal.
    pub tid: u32,
    /// [`EXIT_SEEN`], [`EXIT_CODE`] or [`EXIT_SIGNAL`].
    pub kind: u32,
    /// The exit code (low 8 bits, as `wait` reports it) or the signal number.
    pub code: i32,
    /// Bytes of `stack` filled (8 per frame); 0 without a stack.
    pub stack_bytes: u32,
    /// Name of the thread that called exit_group or received the signal.
    pub thread: [u8; 16],
    /// The process's name when its main thread exited (`sched_process_exit`), all zero until
    /// then: the name of a child gone before user space could read /proc.
    pub comm: [u8; 16],
    /// The receiving thread's user stack at a fatal signal, leaf first.
    pub stack: [u64; EXIT_STACK_DEPTH],
}
assert_size!(ExitRecord, 8 + 4 * 4 + 32 + 8 * EXIT_STACK_DEPTH);

/// Whether signal `sig`'s default action ends the process (`man 7 signal`: Term and Core),
/// except SIGKILL, which never reaches a handler choice and is reported by the exit status.
pub const fn fatal_by_default(sig: i32) -> bool {
    matches!(sig, 1..=8 | 10..=16 | 24..=27 | 29..=31)
}
