//! tracer's eBPF programs. This file only declares the programs; each concern lives in a module
//! of its own. Nothing is sent to user space per event: everything is aggregated in maps
//! (see `maps.rs`) that user space drains. The contract with user space is `tracer-common`;
//! `docs/ARCHITECTURE.md` says where a new collector touches each crate.
#![no_std]
#![no_main]

mod block;
mod calls;
mod fds;
mod hist;
mod lifecycle;
mod maps;
mod offcpu;
mod sampling;
mod syscalls;
mod targets;

use aya_ebpf::{
    macros::{btf_tracepoint, perf_event, tracepoint, uprobe, uretprobe},
    programs::{
        BtfTracePointContext, PerfEventContext, ProbeContext, RetProbeContext, TracePointContext,
    },
};

/// `sys_enter` (BTF tracepoint): every syscall of every process enters here; non-targets
/// leave after one hash lookup.
#[btf_tracepoint(function = "sys_enter")]
pub fn sys_enter(ctx: BtfTracePointContext) -> u32 {
    syscalls::on_enter(&ctx);
    0
}

/// `sys_exit` (BTF tracepoint): completes the syscall remembered at entry and aggregates it.
#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit(ctx: BtfTracePointContext) -> u32 {
    syscalls::on_exit(&ctx);
    0
}

/// `task:task_newtask`: a traced process forked; trace the child too (like `strace -f`).
#[tracepoint]
pub fn task_newtask(ctx: TracePointContext) -> u32 {
    targets::on_newtask(&ctx);
    0
}

/// `signal:signal_deliver`: runs in the thread that takes a signal; a fatal one (default
/// action, no handler) is how a traced process crashed.
#[tracepoint]
pub fn signal_deliver(ctx: TracePointContext) -> u32 {
    lifecycle::on_signal_deliver(&ctx);
    0
}

/// `sched:sched_process_exit`: a thread exits; the main thread's name is the process's.
#[tracepoint]
pub fn sched_process_exit(ctx: TracePointContext) -> u32 {
    lifecycle::on_process_exit(&ctx);
    0
}

/// `sched_switch` (BTF tracepoint: typed task pointers, no formatted record): off-CPU time
/// of traced threads.
#[btf_tracepoint(function = "sched_switch")]
pub fn sched_switch(ctx: BtfTracePointContext) -> u32 {
    offcpu::on_switch(&ctx);
    0
}

/// `block:block_rq_issue`: a block request goes to the device.
#[tracepoint]
pub fn block_rq_issue(ctx: TracePointContext) -> u32 {
    block::on_issue(&ctx);
    0
}

/// `block:block_rq_complete`: the device completed it.
#[tracepoint]
pub fn block_rq_complete(ctx: TracePointContext) -> u32 {
    block::on_complete(&ctx);
    0
}

/// CPU-clock perf event, one per CPU: an on-CPU stack sample.
#[perf_event]
pub fn cpu_sample(ctx: PerfEventContext) -> u32 {
    sampling::on_sample(&ctx);
    0
}

/// Entry of a probed C++ function (attached once per function, the cookie says which).
#[uprobe]
pub fn func_entry(ctx: ProbeContext) -> u32 {
    calls::on_entry(&ctx);
    0
}

/// Return of a probed C++ function.
#[uretprobe]
pub fn func_return(ctx: RetProbeContext) -> u32 {
    calls::on_return(&ctx);
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
