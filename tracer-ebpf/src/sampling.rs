//! On-CPU stack sampling (`perf record -g` without the per-sample traffic): a CPU-clock perf
//! event fires on every CPU at the chosen frequency; samples in traced processes are counted
//! in the kernel by (process, thread name, user stack id, kernel stack id).

use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid},
    programs::{tracing::StackIdContext, PerfEventContext},
};
use tracer_common::{Drop, SampleKey};

use crate::maps::{count_drop, SAMPLES, SAMPLE_COUNT, STACKS, TARGETS};

const BPF_F_USER_STACK: u64 = 1 << 8;
const EFAULT: i32 = -14;
const EEXIST: i32 = -17;

pub fn on_sample(ctx: &PerfEventContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if tgid == 0 || TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    if let Some(n) = SAMPLE_COUNT.get_ptr_mut(0) {
        // SAFETY: per-CPU slot.
        unsafe { *n += 1 };
    }
    let key = SampleKey {
        tgid,
        user_stack: stack_id(ctx, BPF_F_USER_STACK),
        kernel_stack: stack_id(ctx, 0),
        layer: crate::calls::current_layer_of_current(),
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
    };
    if let Some(n) = SAMPLES.get_ptr_mut(key) {
        // SAFETY: per-CPU value.
        unsafe { *n += 1 };
    } else if SAMPLES.insert(key, 1, 0).is_err() {
        count_drop(Drop::SampleMapFull);
    }
}

/// Stack id, or -1 when there is no such stack (a sample taken in user mode has no kernel
/// stack), or -2 when it was lost (counted).
#[inline(always)]
fn stack_id(ctx: &PerfEventContext, flags: u64) -> i32 {
    match ctx.get_stackid(&STACKS, flags) {
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
    }
}
