//! Off-CPU time: when a traced thread blocks (switches out not runnable), remember where
//! (stacks), in which layer and in which syscall (futex = lock or condition wait); when it
//! runs again, add the blocked time to `OFFCPU`. Preemptions (switched out still runnable)
//! are CPU contention, not waits, and are not recorded.
//!
//! This runs on every context switch of the machine, so it is a BTF tracepoint
//! (`tp_btf/sched_switch`): it gets the two `task_struct`s themselves instead of a formatted
//! record (which the kernel would build, comms and all, before each run), and the start of a
//! blocked interval lives in the thread's task-local storage (`THREADS`): the switched-in
//! thread's entry is found through its `task_struct` (no hash of its id; threads of untraced
//! processes have none, which costs one pointer test), and updated in place instead of being
//! inserted into and removed from a hash map on every block.

use aya_ebpf::{
    bindings::{pt_regs, task_struct},
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns,
        generated::bpf_task_pt_regs,
    },
    programs::BtfTracePointContext,
};
use tracer_common::{
    sysno, Drop, OffCpuKey, OffCpuValue, WindowCount, MAX_FRAME_SPAN, OFFCPU_NO_SYSCALL,
    STACK_IP_ONLY,
};

use crate::maps::{count_drop, count_window, get_stackid, window, OFFCPU, TARGETS, THREADS};

const BPF_F_USER_STACK: u64 = 1 << 8;

/// Task states (`include/linux/sched.h`) that decide whether a switch-out is a wait.
const TASK_INTERRUPTIBLE: u32 = 0x1;
const TASK_UNINTERRUPTIBLE: u32 = 0x2;
/// The states `sched:sched_switch` can report (`TASK_REPORT`, without the exit states).
const TASK_REPORT: u32 = 0x7f;
const TASK_NOLOAD: u32 = 0x400;
const TASK_RTLOCK_WAIT: u32 = 0x1000;
const TASK_FROZEN: u32 = 0x8000;

/// Whether a thread switched out with `prev_state` is asleep (S or D), exactly as the classic
/// `sched:sched_switch` record's `prev_state` says (`__trace_sched_switch_state`): a preempted
/// thread is runnable; the record shows the highest `TASK_REPORT` bit of the state, so a
/// stopped, traced or parked thread is not asleep; `TASK_IDLE` (D without load) shows as I;
/// rtlock waits and frozen threads show as D. The record also ORs in `exit_state` (zombie,
/// dead): this argument does not carry it, but an exiting thread's last switch has state
/// `TASK_DEAD` (0x80), which is not a sleep either way.
#[inline(always)]
fn is_sleep(preempt: bool, prev_state: u32) -> bool {
    if preempt {
        return false;
    }
    if prev_state & (TASK_UNINTERRUPTIBLE | TASK_NOLOAD) == TASK_UNINTERRUPTIBLE | TASK_NOLOAD {
        return false;
    }
    if prev_state & (TASK_RTLOCK_WAIT | TASK_FROZEN) != 0 {
        return true;
    }
    let reported = prev_state & TASK_REPORT;
    reported & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE) != 0
        && reported & !(TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE) == 0
}

/// `sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
/// unsigned int prev_state)`; it runs in the context of `prev`, the thread switching out.
pub fn on_switch(ctx: &BtfTracePointContext) {
    let next: *mut task_struct = ctx.arg(2);
    let now = unsafe { bpf_ktime_get_ns() };
    switched_in(next, now);

    // bool arguments come as a u64 slot; only the low byte is defined.
    let preempt = ctx.arg::<u64>(0) as u8 != 0;
    let prev_state: u64 = ctx.arg(3);
    if !is_sleep(preempt, prev_state as u32) {
        return;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if tgid == 0 || TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    let prev: *mut task_struct = ctx.arg(1);
    let Some(state) = THREADS.get_or_create(prev) else {
        count_drop(Drop::ThreadStateFailed);
        let gen = window().gen;
        count_window(gen, WindowCount::OffCpuTaken);
        count_window(gen, WindowCount::OffCpuLostNoThreadState);
        return;
    };
    // SAFETY: this thread's own entry; it is switching out, nothing else writes it now.
    let state = unsafe { &mut *state };
    let f = &state.inflight;
    let (reason, futex_op) = if f.start_ns != 0 {
        let op = if f.nr == sysno::FUTEX {
            f.arg as u32
        } else {
            u32::MAX
        };
        (f.nr, op)
    } else {
        (OFFCPU_NO_SYSCALL, u32::MAX)
    };
    let stack_epoch = window().stack_epoch;
    let (user_stack, user_ip) = user_stack(ctx, prev, stack_epoch);
    state.offcpu_key = OffCpuKey {
        tgid,
        user_stack,
        user_ip,
        // No kernel stack: blocking always goes through the same futex/schedule path, and
        // walking it on every context switch costs more than everything else here (and is CPU
        // time the sampler, itself a BPF program, cannot see).
        kernel_stack: -1,
        layer: crate::calls::current_layer(state),
        reason,
        futex_op,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
        // Set when the interval ends and is counted.
        gen: 0,
        stack_epoch,
    };
    state.offcpu_start_ns = now;
}

/// The user stack of `prev`, blocking now: walked into `STACKS` when its frame pointer can
/// start a walk, else just its instruction pointer (`STACK_IP_ONLY`, see there).
#[inline(always)]
fn user_stack(ctx: &BtfTracePointContext, prev: *mut task_struct, stack_epoch: u32) -> (i32, u64) {
    // SAFETY: `prev` is the tracepoint's task argument; the helper returns its user-mode
    // registers (saved at kernel entry) as a BTF pointer the verifier checks loads from.
    let regs = unsafe { bpf_task_pt_regs(prev) } as *const pt_regs;
    if !regs.is_null() {
        // SAFETY: see above.
        let (ip, sp, bp) = unsafe { ((*regs).rip, (*regs).rsp, (*regs).rbp) };
        if ip != 0 && (bp < sp || bp - sp > MAX_FRAME_SPAN || bp & 7 != 0) {
            return (STACK_IP_ONLY, ip);
        }
    }
    let id = get_stackid(ctx, stack_epoch, BPF_F_USER_STACK)
        .map(|i| i as i32)
        .unwrap_or(-1);
    (id, 0)
}

/// Ends the blocked interval of `next`, if it has one recorded.
#[inline(always)]
fn switched_in(next: *mut task_struct, now: u64) {
    let Some(state) = THREADS.get(next) else {
        return;
    };
    // SAFETY: `next`'s own entry; `next` is not running yet, so nothing else writes it.
    let state = unsafe { &mut *state };
    let start = state.offcpu_start_ns;
    if start == 0 {
        return;
    }
    state.offcpu_start_ns = 0;
    let ns = now.saturating_sub(start);
    let gen = window().gen;
    count_window(gen, WindowCount::OffCpuTaken);
    state.offcpu_key.gen = gen;
    // The key by reference on purpose: the helpers read it where it is, in the thread's entry,
    // instead of from a 48-byte copy on the BPF stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    if let Some(v) = OFFCPU.get_ptr_mut(&state.offcpu_key) {
        // SAFETY: per-CPU value.
        unsafe {
            (*v).total_ns += ns;
            (*v).count += 1;
        }
    } else if OFFCPU
        .insert(
            &state.offcpu_key,
            OffCpuValue {
                total_ns: ns,
                count: 1,
            },
            0,
        )
        .is_err()
    {
        count_drop(Drop::OffCpuMapFull);
        count_window(gen, WindowCount::OffCpuLostMapFull);
    }
}
