//! Stacks and on-CPU samples: the stack-trace map `STACKS` and `SAMPLES`.

use crate::assert_size;

/// Buckets of each of the two stack-trace maps (`STACKS_0`, `STACKS_1`, see
/// [`crate::window`]). A bucket collision between two different stacks loses the newer one
/// (counted as `Drop::StackCollision`): with n distinct stacks about n^2/(2 x MAX_STACKS)
/// collide, e.g. ~1% of 2,000 distinct stacks. User space moves to the other map (a new stack
/// epoch) once [`STACK_EPOCH_FILL`] distinct stacks were seen in the current one.
pub const MAX_STACKS: u32 = 32768;
/// Distinct stacks seen in the current stack map after which user space starts the next stack
/// epoch: at an eighth full, a new stack collides with probability 1/8.
pub const STACK_EPOCH_FILL: u32 = MAX_STACKS / 8;
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
    /// The window the sample was counted in (`WindowControl::gen`).
    pub gen: u32,
    /// The stack epoch of `user_stack` and `kernel_stack` (`WindowControl::stack_epoch`).
    pub stack_epoch: u32,
}
assert_size!(SampleKey, 40);

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
