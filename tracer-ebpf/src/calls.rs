//! Probed function calls (uprobes + uretprobes): per (process, function) entry and return
//! counts and log2 latency histograms, and each thread's stack of active probed calls, whose
//! innermost layer is the thread's current layer (used to attribute syscalls and CPU samples).
//!
//! One entry program and one return program are attached to every probed function; the
//! attach cookie carries the function's index (low 32 bits) and layer (high 32 bits).

use aya_ebpf::{
    helpers::{
        bpf_get_attach_cookie, bpf_get_current_pid_tgid, bpf_ktime_get_ns,
        generated::bpf_get_current_task_btf,
    },
    EbpfContext,
};
use tracer_common::{CallFrame, Drop, FuncKey, FuncStats, ThreadCalls, ThreadState, CALL_DEPTH};

use crate::maps::{count_drop, entry_or_zeroed, FUNC_STATS, TARGETS, THREADS, ZERO_FUNC};

/// Set by user space when uprobes are attached; with 0 the syscall and sampling paths skip
/// reading the per-thread layer (`--no-uprobes` pays nothing for layers).
#[unsafe(no_mangle)]
static UPROBES_ON: u32 = 0;

#[inline(always)]
fn uprobes_on() -> bool {
    // SAFETY: a global the loader may rewrite before load; read it as memory, not a constant.
    unsafe { core::ptr::read_volatile(&UPROBES_ON) != 0 }
}

/// The layer of the innermost active probed call of the thread whose state this is (0: none).
#[inline(always)]
pub fn current_layer(state: &ThreadState) -> u32 {
    if !uprobes_on() {
        return 0;
    }
    let calls = &state.calls;
    let depth = calls.depth as usize;
    if depth == 0 || depth > CALL_DEPTH {
        return 0;
    }
    calls.frames.get(depth - 1).map(|f| f.layer).unwrap_or(0)
}

/// The layer of the running thread (0: none, or no state yet).
#[inline(always)]
pub fn current_layer_of_current() -> u32 {
    if !uprobes_on() {
        return 0;
    }
    // SAFETY: the helper takes no arguments and returns the running task.
    let task = unsafe { bpf_get_current_task_btf() };
    match THREADS.get(task) {
        // SAFETY: the running thread's own entry.
        Some(state) => current_layer(unsafe { &*state }),
        None => 0,
    }
}

/// This CPU's stats of function `func` in process `tgid`, created zeroed when new.
#[inline(always)]
fn func_stats(tgid: u32, func: u32) -> Option<*mut FuncStats> {
    entry_or_zeroed(
        &FUNC_STATS,
        &FuncKey { tgid, func },
        &ZERO_FUNC,
        Drop::FuncMapFull,
    )
}

/// Entry of a probed function: count it and push it on the thread's call stack.
pub fn on_entry<C: EbpfContext>(ctx: &C) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    // SAFETY: the helper only reads the attach cookie of this program's link.
    let cookie = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) };
    let func = cookie as u32;
    let layer = (cookie >> 32) as u32;
    if let Some(s) = func_stats(tgid, func) {
        // SAFETY: per-CPU value.
        unsafe { (*s).entries += 1 };
    }
    // SAFETY: the helper takes no arguments and returns the running task.
    let task = unsafe { bpf_get_current_task_btf() };
    let Some(state) = THREADS.get_or_create(task) else {
        count_drop(Drop::ThreadStateFailed);
        return;
    };
    // SAFETY: only this thread touches its own entry while it runs.
    let calls = unsafe { &mut (*state).calls };
    calls.seen = 1;
    let depth = calls.depth as usize;
    match calls.frames.get_mut(depth) {
        Some(frame) => {
            *frame = CallFrame {
                func,
                layer,
                start_ns: unsafe { bpf_ktime_get_ns() },
            };
            calls.depth += 1;
        }
        None => count_drop(Drop::CallDepthExceeded),
    }
}

/// Return of a probed function: pop its innermost active call and record the latency.
///
/// Only threads of traced processes have a `THREADS` entry, and only those that entered a
/// probed function since tracing began have `calls.seen`: that is the filter, without the
/// `TARGETS` lookup, on the hottest path.
pub fn on_return<C: EbpfContext>(ctx: &C) {
    // SAFETY: the helper takes no arguments and returns the running task.
    let task = unsafe { bpf_get_current_task_btf() };
    let Some(state) = THREADS.get(task) else {
        return;
    };
    // SAFETY: only this thread touches its own entry while it runs.
    let calls = unsafe { &mut (*state).calls };
    if calls.seen == 0 {
        return;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    // SAFETY: see on_entry.
    let func = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) } as u32;
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(stats) = func_stats(tgid, func) else {
        return;
    };
    // SAFETY: per-CPU value.
    let stats = unsafe { &mut *stats };
    let depth = calls.depth as usize;
    // Innermost matching call: correct for recursion; calls above it whose returns were never
    // seen (a fiber switched away, longjmp) are dropped with it. The common case, the call on
    // top, is checked first.
    let top = depth.wrapping_sub(1);
    if let Some(frame) = calls.frames.get(top) {
        if frame.func == func {
            pop(calls, stats, top, now);
            return;
        }
    }
    for i in (0..CALL_DEPTH).rev() {
        if i >= top {
            continue;
        }
        let Some(frame) = calls.frames.get(i) else {
            break;
        };
        if frame.func == func {
            pop(calls, stats, i, now);
            return;
        }
    }
    stats.unmatched_returns += 1;
}

/// Ends active call `i` (and every call above it) and records its latency.
#[inline(always)]
fn pop(calls: &mut ThreadCalls, stats: &mut FuncStats, i: usize, now: u64) {
    let Some(frame) = calls.frames.get(i) else {
        return;
    };
    let ns = now.saturating_sub(frame.start_ns);
    calls.depth = i as u32;
    stats.returns += 1;
    stats.total_ns += ns;
    if ns > stats.max_ns {
        stats.max_ns = ns;
    }
    if let Some(slot) = stats.hist.get_mut(tracer_common::fine_bucket(ns)) {
        *slot += 1;
    }
}
