//! Following the traced process tree: forked children join `TARGETS` (like `strace -f`).
//! Per-thread state needs no exit hook: it is task-local storage (`THREADS`), which the kernel
//! frees with the task, so hours of short-lived threads cannot fill anything.

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, programs::TracePointContext};
use tracer_common::{Drop, TargetInfo};

use crate::maps::{count_drop, TARGETS, TARGET_ADDS};

const CLONE_THREAD: u64 = 0x0001_0000;
const BPF_NOEXIST: u64 = 1;

/// `task:task_newtask` runs in the parent: `pid` at offset 8, `clone_flags` at offset 32.
pub fn on_newtask(ctx: &TracePointContext) {
    let parent = (bpf_get_current_pid_tgid() >> 32) as u32;
    let Some(info) = TARGETS.get_ptr(parent) else {
        return;
    };
    // SAFETY: plain read of a map value.
    let info = unsafe { *info };
    // SAFETY: documented fields of the record.
    let flags = unsafe { ctx.read_at::<u64>(32) }.unwrap_or(0);
    if flags & CLONE_THREAD != 0 {
        crate::lifecycle::on_thread_created(ctx, parent);
        return;
    }
    if info.follow_children == 0 {
        return;
    }
    let Ok(child) = (unsafe { ctx.read_at::<i32>(8) }) else {
        return;
    };
    let child_info = TargetInfo {
        root_tgid: info.root_tgid,
        follow_children: 1,
    };
    match TARGETS.insert(child as u32, child_info, BPF_NOEXIST) {
        Ok(()) => {
            if let Some(n) = TARGET_ADDS.get_ptr_mut(0) {
                // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
                unsafe { *n += 1 };
            }
        }
        Err(e) if e != -17 => count_drop(Drop::TargetMapFull),
        Err(_) => {}
    }
}
