//! Off-CPU time: when a traced thread blocks (switches out not runnable), remember where
//! (stacks), in which layer and in which syscall (futex = lock or condition wait); when it
//! runs again, add the blocked time to `OFFCPU`. Preemptions (switched out still runnable)
//! are CPU contention, not waits, and are not recorded.

use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    programs::{tracing::StackIdContext, TracePointContext},
};
use tracer_common::{sysno, Drop, OffCpuKey, OffCpuStart, OffCpuValue, OFFCPU_NO_SYSCALL};

use crate::maps::{count_drop, INFLIGHT, OFFCPU, OFFCPU_START, STACKS, TARGETS};

const BPF_F_USER_STACK: u64 = 1 << 8;
/// `sched:sched_switch` record offsets.
const OFF_PREV_STATE: usize = 32;
const OFF_NEXT_PID: usize = 56;

pub fn on_switch(ctx: &TracePointContext) {
    // SAFETY: documented fields of the record.
    let next = unsafe { ctx.read_at::<i32>(OFF_NEXT_PID) }.unwrap_or(0) as u32;
    let now = unsafe { bpf_ktime_get_ns() };
    if next != 0 {
        switched_in(next, now);
    }
    // The program runs in the context of the task switching out.
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if tgid == 0 || TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    // Only sleeps count: interruptible (S, 0x1) or uninterruptible (D, 0x2). Preempted tasks
    // are still runnable (CPU contention, not a wait), and a dying task's last switch (zombie
    // or dead) would leave an entry no switch-in ever ends: thread ids are reused within
    // seconds when a leader creates thousands of threads a second.
    let state = unsafe { ctx.read_at::<i64>(OFF_PREV_STATE) }.unwrap_or(0);
    if state & 0x3 == 0 {
        return;
    }
    let tid = pid_tgid as u32;
    let (reason, futex_op) = match INFLIGHT.get_ptr(tid) {
        // SAFETY: plain reads of this thread's own entry.
        Some(f) if unsafe { (*f).start_ns } != 0 => {
            let nr = unsafe { (*f).nr };
            let op = if nr == sysno::FUTEX {
                unsafe { (*f).arg as u32 }
            } else {
                u32::MAX
            };
            (nr, op)
        }
        _ => (OFFCPU_NO_SYSCALL, u32::MAX),
    };
    let key = OffCpuKey {
        tgid,
        user_stack: ctx
            .get_stackid(&STACKS, BPF_F_USER_STACK)
            .map(|i| i as i32)
            .unwrap_or(-1),
        // No kernel stack: blocking always goes through the same futex/schedule path, and
        // walking it on every context switch costs more than everything else here (and is CPU
        // time the sampler, itself a BPF program, cannot see).
        kernel_stack: -1,
        layer: crate::calls::current_layer(tid),
        reason,
        futex_op,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
    };
    let start = OffCpuStart { start_ns: now, key };
    if OFFCPU_START.insert(tid, start, 0).is_err() {
        count_drop(Drop::OffCpuMapFull);
    }
}

#[inline(always)]
fn switched_in(tid: u32, now: u64) {
    let Some(start) = OFFCPU_START.get_ptr(tid) else {
        return;
    };
    // SAFETY: plain copy of the entry before removing it.
    let start = unsafe { *start };
    let _ = OFFCPU_START.remove(tid);
    let ns = now.saturating_sub(start.start_ns);
    if let Some(v) = OFFCPU.get_ptr_mut(start.key) {
        // SAFETY: per-CPU value.
        unsafe {
            (*v).total_ns += ns;
            (*v).count += 1;
        }
    } else if OFFCPU
        .insert(
            start.key,
            OffCpuValue {
                total_ns: ns,
                count: 1,
            },
            0,
        )
        .is_err()
    {
        count_drop(Drop::OffCpuMapFull);
    }
}
