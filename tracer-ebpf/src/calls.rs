//! Probed function calls (uprobes + uretprobes): per (process, function) entry and return
//! counts and log2 latency histograms, and each thread's stack of active probed calls, whose
//! innermost layer is the thread's current layer (used to attribute syscalls and CPU samples).
//!
//! One entry program and one return program are attached to every probed function; the
//! attach cookie carries the function's index (low 32 bits) and layer (high 32 bits).

use aya_ebpf::{
    helpers::{bpf_get_attach_cookie, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    EbpfContext,
};
use tracer_common::{CallFrame, Drop, FuncKey, FuncStats, ThreadCalls, CALL_DEPTH};

use crate::maps::{count_drop, FUNC_STATS, TARGETS, THREAD_CALLS, ZERO_CALLS, ZERO_FUNC};

/// Set by user space when uprobes are attached; with 0 the syscall and sampling paths skip
/// the per-thread layer lookup entirely (`--no-uprobes` pays nothing for layers).
#[unsafe(no_mangle)]
static UPROBES_ON: u32 = 0;

#[inline(always)]
fn uprobes_on() -> bool {
    // SAFETY: a global the loader may rewrite before load; read it as memory, not a constant.
    unsafe { core::ptr::read_volatile(&UPROBES_ON) != 0 }
}

/// The layer of the innermost active probed call of thread `tid` (0: none).
#[inline(always)]
pub fn current_layer(tid: u32) -> u32 {
    if !uprobes_on() {
        return 0;
    }
    let Some(calls) = THREAD_CALLS.get_ptr(tid) else {
        return 0;
    };
    // SAFETY: plain reads of this thread's own map value.
    let depth = unsafe { (*calls).depth } as usize;
    if depth == 0 || depth > CALL_DEPTH {
        return 0;
    }
    unsafe { (*calls).frames.get(depth - 1).map(|f| f.layer).unwrap_or(0) }
}

#[inline(always)]
fn func_stats(key: &FuncKey) -> Option<*mut FuncStats> {
    if let Some(p) = FUNC_STATS.get_ptr_mut(key) {
        return Some(p);
    }
    let zero = ZERO_FUNC.get_ptr(0)?;
    // By reference on purpose: a copy would put the whole value on the BPF stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    // SAFETY: points into a map value that nobody writes.
    if FUNC_STATS.insert(key, unsafe { &*zero }, 0).is_err() {
        count_drop(Drop::FuncMapFull);
        return None;
    }
    FUNC_STATS.get_ptr_mut(key)
}

/// Entry of a probed function: count it and push it on the thread's call stack.
pub fn on_entry<C: EbpfContext>(ctx: &C) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    let tid = pid_tgid as u32;
    // SAFETY: the helper only reads the attach cookie of this program's link.
    let cookie = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) };
    let func = cookie as u32;
    let layer = (cookie >> 32) as u32;
    if let Some(s) = func_stats(&FuncKey { tgid, func }) {
        // SAFETY: per-CPU value.
        unsafe { (*s).entries += 1 };
    }
    let calls = match THREAD_CALLS.get_ptr_mut(tid) {
        Some(c) => c,
        None => {
            let Some(zero) = ZERO_CALLS.get_ptr(0) else {
                return;
            };
            #[allow(clippy::needless_borrows_for_generic_args)]
            // SAFETY: points into a map value that nobody writes.
            if THREAD_CALLS.insert(tid, unsafe { &*zero }, 0).is_err() {
                count_drop(Drop::ThreadMapFull);
                return;
            }
            let Some(c) = THREAD_CALLS.get_ptr_mut(tid) else {
                return;
            };
            c
        }
    };
    // SAFETY: only this thread touches its own entry.
    let calls = unsafe { &mut *calls };
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
/// Only threads of traced processes have a `THREAD_CALLS` entry (made at their first probed
/// entry), so that lookup is also the filter: one hash lookup fewer on the hottest path.
pub fn on_return<C: EbpfContext>(ctx: &C) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    let Some(calls) = THREAD_CALLS.get_ptr_mut(tid) else {
        return;
    };
    let tgid = (pid_tgid >> 32) as u32;
    // SAFETY: see on_entry.
    let func = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) } as u32;
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(stats) = func_stats(&FuncKey { tgid, func }) else {
        return;
    };
    // SAFETY: per-CPU value.
    let stats = unsafe { &mut *stats };
    // SAFETY: only this thread touches its own entry.
    let calls = unsafe { &mut *calls };
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
