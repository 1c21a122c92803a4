//! Syscall accounting: remember each syscall at entry (per thread), aggregate it at exit into
//! the `strace -c` table (`SYSCALL_STATS`) and the per-file table (`FILE_STATS`).
//!
//! Counting happens at exit, like `strace -c`: a syscall that never returns (`exit_group`) is
//! not counted, a successful `execve` is counted once.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    programs::TracePointContext,
};
use tracer_common::{sysno, Drop, FdKind, FileKey, Inflight, SyscallKey};

use crate::{
    calls, fds, hist,
    maps::{count_drop, stats_entry, FILE_STATS, INFLIGHT, SYSCALL_STATS, TARGETS},
};

/// Offsets in the `raw_syscalls:sys_enter` / `sys_exit` records (see their `format` files).
const OFF_ID: usize = 8;
const OFF_ARGS: usize = 16;
const OFF_RET: usize = 16;

#[inline(always)]
fn arg(ctx: &TracePointContext, i: usize) -> u64 {
    // SAFETY: reading a field of the tracepoint record at its documented offset.
    unsafe { ctx.read_at::<u64>(OFF_ARGS + 8 * i) }.unwrap_or(0)
}

pub fn on_enter(ctx: &TracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    let tid = pid_tgid as u32;
    // SAFETY: documented field of the record.
    let Ok(id) = (unsafe { ctx.read_at::<i64>(OFF_ID) }) else {
        return;
    };
    if id < 0 {
        return;
    }
    let nr = id as u32;
    let mut entry = Inflight {
        start_ns: 0,
        nr,
        fd_kind: FdKind::None as u32,
        arg: 0,
        fd: -1,
        new_kind: FdKind::File as u32,
        layer: calls::current_layer(tid),
    };
    if sysno::contains(&sysno::FD_ARG0, nr) {
        let fd = arg(ctx, 0) as i64;
        entry.fd = fd;
        let (kind, path_id) = fds::classify(tgid, fd);
        entry.fd_kind = kind as u32;
        entry.arg = path_id;
    }
    fds::on_enter(ctx, tgid, nr, &mut entry);
    if nr == sysno::FUTEX {
        // The operation, for off-CPU time: FUTEX_PRIVATE_FLAG (128) and CLOCK_REALTIME (256)
        // do not change what is waited for.
        entry.arg = arg(ctx, 1) & !(128 | 256);
    }
    entry.start_ns = unsafe { bpf_ktime_get_ns() };
    if let Some(slot) = INFLIGHT.get_ptr_mut(tid) {
        // SAFETY: only this thread writes its own slot.
        unsafe { *slot = entry };
    } else if INFLIGHT.insert(tid, entry, 0).is_err() {
        count_drop(Drop::InflightFull);
    }
}

pub fn on_exit(ctx: &TracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    // Threads of untraced processes never have an INFLIGHT entry: one lookup and out.
    let Some(slot) = INFLIGHT.get_ptr_mut(tid) else {
        return;
    };
    // SAFETY: only this thread reads and writes its own slot.
    let entry = unsafe { *slot };
    if entry.start_ns == 0 {
        return;
    }
    unsafe { (*slot).start_ns = 0 };
    let now = unsafe { bpf_ktime_get_ns() };
    let ns = now.saturating_sub(entry.start_ns);
    let tgid = (pid_tgid >> 32) as u32;
    // SAFETY: documented field of the record.
    let ret = unsafe { ctx.read_at::<i64>(OFF_RET) }.unwrap_or(0);
    let nr = entry.nr;
    let counts_bytes = sysno::contains(&sysno::BYTES, nr);

    let key = SyscallKey {
        tgid,
        nr,
        fd_kind: entry.fd_kind,
        layer: entry.layer,
    };
    if let Some(s) = stats_entry(&SYSCALL_STATS, &key, Drop::SyscallMapFull) {
        hist::record(s, ns, ret, counts_bytes);
    }
    if entry.fd_kind == FdKind::File as u32 && entry.arg != 0 {
        let key = FileKey {
            tgid,
            nr,
            path_id: entry.arg,
        };
        if let Some(s) = stats_entry(&FILE_STATS, &key, Drop::FileMapFull) {
            hist::record(s, ns, ret, counts_bytes);
        }
    }
    fds::on_exit(tgid, &entry, ret);
}
