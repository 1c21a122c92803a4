//! On-CPU stack sampling (`perf record -g` without the per-sample traffic): a CPU-clock perf
//! event fires on every CPU at the chosen frequency; samples in traced processes are counted
//! in the kernel by (process, thread name, user stack id, kernel stack id).

use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid},
    programs::PerfEventContext,
};
use tracer_common::{Drop, SampleKey, WindowCount};

use crate::maps::{count_drop, count_window, get_stackid, window, SAMPLES, TARGETS};

const BPF_F_USER_STACK: u64 = 1 << 8;
const EFAULT: i32 = -14;
const EEXIST: i32 = -17;

pub fn on_sample(ctx: &PerfEventContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if tgid == 0 || TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    // One read of the window for the whole sample: its count, its stacks and its record
    // agree on the window and the stack map even when user space switches meanwhile.
    let w = window();
    count_window(w.gen, WindowCount::SamplesTaken);
    let key = SampleKey {
        tgid,
        user_stack: stack_id(ctx, w.stack_epoch, BPF_F_USER_STACK),
        kernel_stack: stack_id(ctx, w.stack_epoch, 0),
        layer: crate::calls::current_layer_of_current(),
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
        gen: w.gen,
        stack_epoch: w.stack_epoch,
    };
    if let Some(n) = SAMPLES.get_ptr_mut(key) {
        // SAFETY: per-CPU value.
        unsafe { *n += 1 };
    } else if SAMPLES.insert(key, 1, 0).is_err() {
        count_drop(Drop::SampleMapFull);
        count_window(w.gen, WindowCount::SamplesLostMapFull);
    }
}

/// Stack id, or -1 when there is no such stack (a sample taken in user mode has no kernel
/// stack), or -2 when it was lost (counted).
#[inline(always)]
fn stack_id(ctx: &PerfEventContext, stack_epoch: u32, flags: u64) -> i32 {
    match get_stackid(ctx, stack_epoch, flags) {
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
