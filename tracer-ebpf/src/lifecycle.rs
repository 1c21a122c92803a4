//! How traced processes live and die. Thread creation (`task_newtask` with `CLONE_THREAD`,
//! which runs in the creating thread) is counted per creating user stack in `THREAD_SITES`:
//! thread churn and who causes it. The end of a process goes to `EXITS`: the code it passed to
//! `exit_group`, or the fatal signal a thread received (`signal_deliver` runs in that thread,
//! so its user stack is where it crashed), and the process's name when its main thread exits.
//! One entry per process, never per event.

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns, generated::bpf_get_stack,
    },
    programs::TracePointContext,
    EbpfContext,
};
use tracer_common::{
    fatal_by_default, Drop, ExitRecord, ThreadSiteKey, EXIT_CODE, EXIT_SEEN, EXIT_SIGNAL,
    EXIT_STACK_DEPTH,
};

use crate::maps::{count_drop, get_stackid, window, EXITS, TARGETS, THREAD_SITES, ZERO_EXIT};

const BPF_F_USER_STACK: u64 = 1 << 8;
const EFAULT: i32 = -14;
const EEXIST: i32 = -17;
/// `SIG_DFL`: no handler installed.
const SIG_DFL: u64 = 0;

/// A thread of traced process `tgid` created a thread (runs in the creating thread).
#[inline(always)]
pub fn on_thread_created(ctx: &TracePointContext, tgid: u32) {
    let w = window();
    let user_stack = match get_stackid(ctx, w.stack_epoch, BPF_F_USER_STACK) {
        Ok(id) => id as i32,
        Err(EFAULT) => -1,
        Err(EEXIST) => {
            count_drop(Drop::StackCollision);
            -2
        }
        Err(_) => {
            count_drop(Drop::StackFailed);
            -2
        }
    };
    let key = ThreadSiteKey {
        tgid,
        user_stack,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
        gen: w.gen,
        stack_epoch: w.stack_epoch,
    };
    if let Some(n) = THREAD_SITES.get_ptr_mut(key) {
        // SAFETY: per-CPU value.
        unsafe { *n += 1 };
    } else if THREAD_SITES.insert(key, 1, 0).is_err() {
        count_drop(Drop::ThreadSiteMapFull);
    }
}

/// The `EXITS` entry of `tgid`, created zeroed when absent.
#[inline(always)]
fn exit_entry(tgid: u32) -> Option<*mut ExitRecord> {
    if let Some(p) = EXITS.get_ptr_mut(tgid) {
        return Some(p);
    }
    let zero = ZERO_EXIT.get_ptr(0)?;
    // SAFETY: a map value nobody writes; by reference, it is larger than the BPF stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    if EXITS.insert(&tgid, unsafe { &*zero }, 0).is_err() {
        count_drop(Drop::ExitMapFull);
        return None;
    }
    EXITS.get_ptr_mut(tgid)
}

/// `exit_group(code)` entered by thread `tid` of traced process `tgid`.
#[inline(always)]
pub fn on_exit_group(tgid: u32, tid: u32, code: u64) {
    let Some(e) = exit_entry(tgid) else {
        return;
    };
    // SAFETY: a map value; concurrent writers for one process are its own threads ending it.
    let e = unsafe { &mut *e };
    if e.kind == EXIT_SIGNAL {
        return;
    }
    e.kind = EXIT_CODE;
    e.code = (code & 0xff) as i32;
    e.tid = tid;
    e.at_ns = unsafe { bpf_ktime_get_ns() };
    e.thread = bpf_get_current_comm().unwrap_or([0; 16]);
}

/// `signal_deliver`: `sig` at offset 8, `sa_handler` at 24. Only the first fatal signal of a
/// process is kept: the others are the group exit killing its remaining threads.
pub fn on_signal_deliver(ctx: &TracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    // SAFETY: documented fields of the record.
    let sig = unsafe { ctx.read_at::<i32>(8) }.unwrap_or(0);
    let handler = unsafe { ctx.read_at::<u64>(24) }.unwrap_or(1);
    if handler != SIG_DFL || !fatal_by_default(sig) {
        return;
    }
    let Some(e) = exit_entry(tgid) else {
        return;
    };
    // SAFETY: as in `on_exit_group`.
    let e = unsafe { &mut *e };
    if e.kind == EXIT_SIGNAL {
        return;
    }
    e.kind = EXIT_SIGNAL;
    e.code = sig;
    e.tid = pid_tgid as u32;
    e.at_ns = unsafe { bpf_ktime_get_ns() };
    e.thread = bpf_get_current_comm().unwrap_or([0; 16]);
    // SAFETY: the helper writes at most the given size into the value's array.
    let n = unsafe {
        bpf_get_stack(
            ctx.as_ptr(),
            e.stack.as_mut_ptr().cast(),
            (EXIT_STACK_DEPTH * 8) as u32,
            BPF_F_USER_STACK,
        )
    };
    e.stack_bytes = if n > 0 { n as u32 } else { 0 };
}

/// `sched_process_exit`: `pid` (the thread) at offset 24. When the main thread of a traced
/// process exits, its name is the process's name: kept for children gone before user space
/// read /proc.
pub fn on_process_exit(_ctx: &TracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if pid_tgid as u32 != tgid || TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    let Some(e) = exit_entry(tgid) else {
        return;
    };
    // SAFETY: as in `on_exit_group`.
    let e = unsafe { &mut *e };
    e.comm = bpf_get_current_comm().unwrap_or([0; 16]);
    if e.kind == EXIT_SEEN {
        e.at_ns = unsafe { bpf_ktime_get_ns() };
        e.tid = tgid;
    }
}
