//! Why the kernel side could not record something: the `DROPS` counters, one per [`Drop`].
//! Every one of them is shown to the user, by [`Drop::name`].

use crate::assert_size;

/// Reasons the kernel side could not record something, indexes into the `DROPS` array.
///
/// The indexes are private to one build (the kernel side and user space are compiled
/// together); what outlives a run is the name, in `snapshot.json`'s `drops`. A reason that is
/// no longer recorded is removed here and its name moves to [`RETIRED_DROP_NAMES`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// `SYSCALL_STATS` was full: a syscall went uncounted.
    SyscallMapFull = 0,
    /// `FDS` was full: an fd will be classified as unknown.
    FdMapFull = 1,
    /// `PATHS` was full: a file will show without its path.
    PathMapFull = 2,
    /// `FILE_STATS` was full: a per-file row went uncounted (the syscall itself was counted).
    FileMapFull = 3,
    /// `TARGETS` was full: a forked child of a traced process is not traced.
    TargetMapFull = 4,
    /// `SAMPLES` was full: a CPU sample went uncounted.
    SampleMapFull = 5,
    /// A stack could not be stored because a different stack occupied its bucket in the
    /// stack-trace map; the sample is counted without that stack.
    StackCollision = 6,
    /// The kernel could not walk a stack for another reason (the sample is counted without it).
    StackFailed = 7,
    /// A probed function was entered with `CALL_DEPTH` probed calls already active on the
    /// thread: its entry is counted, its latency is not measured.
    CallDepthExceeded = 8,
    /// `FUNC_STATS` was full: a probed call went uncounted.
    FuncMapFull = 9,
    /// `OFFCPU` was full: a blocked interval went unrecorded.
    OffCpuMapFull = 10,
    /// `BLOCK_INFLIGHT` or `BLOCK_LATENCY` was full: a block request's latency went unrecorded.
    BlockMapFull = 11,
    /// A traced thread's state (`THREADS`, task-local storage) could not be created (kernel
    /// memory, or a nested use of task storage on that CPU): a syscall or blocked interval of
    /// that thread went unrecorded.
    ThreadStateFailed = 12,
    /// `THREAD_SITES` was full: a created thread went uncounted.
    ThreadSiteMapFull = 13,
    /// `EXITS` was full: how a process ended went unrecorded.
    ExitMapFull = 14,
}
assert_size!(Drop, 4);

/// Number of [`Drop`] reasons (length of the `DROPS` array).
pub const DROP_REASONS: u32 = 15;

impl Drop {
    /// Every reason, in index order.
    pub const ALL: [Drop; DROP_REASONS as usize] = [
        Drop::SyscallMapFull,
        Drop::FdMapFull,
        Drop::PathMapFull,
        Drop::FileMapFull,
        Drop::TargetMapFull,
        Drop::SampleMapFull,
        Drop::StackCollision,
        Drop::StackFailed,
        Drop::CallDepthExceeded,
        Drop::FuncMapFull,
        Drop::OffCpuMapFull,
        Drop::BlockMapFull,
        Drop::ThreadStateFailed,
        Drop::ThreadSiteMapFull,
        Drop::ExitMapFull,
    ];

    /// The name shown in reports, metrics and `snapshot.json`.
    pub const fn name(self) -> &'static str {
        match self {
            Drop::SyscallMapFull => "syscall_map_full",
            Drop::FdMapFull => "fd_map_full",
            Drop::PathMapFull => "path_map_full",
            Drop::FileMapFull => "file_map_full",
            Drop::TargetMapFull => "target_map_full",
            Drop::SampleMapFull => "sample_map_full",
            Drop::StackCollision => "stack_collision",
            Drop::StackFailed => "stack_failed",
            Drop::CallDepthExceeded => "call_depth_exceeded",
            Drop::FuncMapFull => "func_map_full",
            Drop::OffCpuMapFull => "offcpu_map_full",
            Drop::BlockMapFull => "block_map_full",
            Drop::ThreadStateFailed => "thread_state_failed",
            Drop::ThreadSiteMapFull => "thread_site_map_full",
            Drop::ExitMapFull => "exit_map_full",
        }
    }
}

/// Names of reasons earlier versions showed and this one no longer records. Sessions saved by
/// those versions still carry them in `snapshot.json` (always 0); they load and re-render as
/// they were saved. A name here is never reused for another reason.
/// - `inflight_map_full`: the in-flight syscall moved into `ThreadState` (failures there are
///   `thread_state_failed`);
/// - `thread_map_full`: a thread's probed calls moved into `ThreadState` (likewise).
pub const RETIRED_DROP_NAMES: [&str; 2] = ["inflight_map_full", "thread_map_full"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_at_its_index_with_a_new_name() {
        for (i, d) in Drop::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i, "{d:?}");
            assert!(
                !RETIRED_DROP_NAMES.contains(&d.name()),
                "{d:?} reuses a retired name"
            );
            for other in &Drop::ALL[..i] {
                assert_ne!(other.name(), d.name());
            }
        }
    }
}
