//! The whole contract between the eBPF programs (`tracer-ebpf`) and user space (`tracer`).
//!
//! Like a libbpf-tools header, this crate says what every map holds and how big it is, one
//! module per concern, all re-exported here so both sides write `tracer_common::SyscallKey`.
//! Everything is `#[repr(C)]`, padded explicitly, size-checked at compile time (a layout change
//! fails the build of both sides), and `no_std`, because the same bytes are written by the
//! kernel-side programs and read by user space. `docs/ARCHITECTURE.md` ("The kernel/user
//! contract") describes the maps and how to add one.
//!
//! | module | what it holds |
//! |---|---|
//! | [`maps`] | the name of every map (user space reaches maps only through these) |
//! | [`targets`] | which processes are traced (`TARGETS`) |
//! | [`syscalls`] | the `strace -c` tables (`SYSCALL_STATS`, `FILE_STATS`), the syscall in flight |
//! | [`sysno`] | x86-64 syscall numbers and per-syscall bitmaps for the kernel side |
//! | [`fds`] | fd kinds and file paths (`FDS`, `PATHS`), the path hash both sides compute |
//! | [`stacks`] | stack-trace map sizes and on-CPU samples (`STACKS`, `SAMPLES`) |
//! | [`calls`] | probed function calls (`FUNC_STATS`) and the per-thread call stack |
//! | [`offcpu`] | blocked time (`OFFCPU`) |
//! | [`block`] | block-request latency (`BLOCK_INFLIGHT`, `BLOCK_LATENCY`) |
//! | [`threads`] | the kernel side's per-thread state (`THREADS`) |
//! | [`drops`] | why something could not be recorded (`DROPS`) |
//! | [`window`] | the generation switch that makes drained windows lossless (`WINDOW_CONTROL`, `WINDOW_COUNTS`) |
//! | [`lifecycle`] | threads created (`THREAD_SITES`) and how processes ended (`EXITS`) |
//! | [`hist`] | the log2 latency histogram shared by syscalls and block requests |
#![no_std]

pub mod block;
pub mod calls;
pub mod drops;
pub mod fds;
pub mod hist;
pub mod lifecycle;
pub mod maps;
pub mod offcpu;
pub mod stacks;
pub mod syscalls;
pub mod sysno;
pub mod targets;
pub mod threads;
pub mod window;

pub use block::*;
pub use calls::*;
pub use drops::*;
pub use fds::*;
pub use hist::*;
pub use lifecycle::*;
pub use offcpu::*;
pub use stacks::*;
pub use syscalls::*;
pub use targets::*;
pub use threads::*;
pub use window::*;

/// Fails the build (of both crates) when a type's size differs from what the other side reads.
macro_rules! assert_size {
    ($t:ty, $n:expr) => {
        const _: () = assert!(core::mem::size_of::<$t>() == $n);
    };
}
pub(crate) use assert_size;

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: all of these are #[repr(C)], made only of integers, with explicit padding
    // (their sizes are asserted next to their definitions).
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
    unsafe impl aya::Pod for WindowControl {}
    unsafe impl aya::Pod for BlockReq {}
    unsafe impl aya::Pod for ThreadSiteKey {}
    unsafe impl aya::Pod for ExitRecord {}
}
