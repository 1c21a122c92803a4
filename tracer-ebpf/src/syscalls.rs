//! Syscall accounting: remember each syscall at entry (per thread), aggregate it at exit into
//! the `strace -c` table (`SYSCALL_STATS`) and the per-file table (`FILE_STATS`).
//!
//! Counting happens at exit, like `strace -c`: a syscall that never returns (`exit_group`) is
//! not counted, a successful `execve` is counted once.
//!
//! Both programs run on every syscall of the machine, so they are BTF tracepoints
//! (`tp_btf/sys_enter`, `tp_btf/sys_exit`): the kernel hands over its `pt_regs` and the
//! syscall number or return value as they are, instead of first formatting a
//! `raw_syscalls` record (six arguments copied) for every syscall, traced or not. The syscall
//! in flight lives in the thread's task-local storage (`THREADS`), so exit finds it through
//! the current `task_struct` instead of hashing the thread id, and threads of untraced
//! processes (which have no entry) leave after a pointer test.

use aya_ebpf::{
    bindings::pt_regs,
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, generated::bpf_get_current_task_btf},
    programs::BtfTracePointContext,
};
use tracer_common::{sysno, Drop, FdKind, FileKey, Inflight, SyscallKey};

use crate::{
    calls, fds, hist,
    maps::{count_drop, entry_or_zeroed, FILE_STATS, SYSCALL_STATS, TARGETS, THREADS, ZERO_STATS},
};

/// The syscall's arguments, read from the user registers saved at syscall entry (x86-64
/// syscall convention: rdi, rsi, rdx, r10, r8, r9). `pt_regs` is a BTF pointer here, so these
/// are plain loads the verifier checks against the kernel's own `struct pt_regs`.
#[derive(Clone, Copy)]
pub struct Args(*const pt_regs);

impl Args {
    #[inline(always)]
    pub fn get(self, i: usize) -> u64 {
        // SAFETY: `self.0` is the tracepoint's `pt_regs` argument; the verifier turns these
        // loads into fault-tolerant ones.
        unsafe {
            match i {
                0 => (*self.0).rdi,
                1 => (*self.0).rsi,
                2 => (*self.0).rdx,
                3 => (*self.0).r10,
                4 => (*self.0).r8,
                _ => (*self.0).r9,
            }
        }
    }
}

/// `sys_enter(struct pt_regs *regs, long id)`.
pub fn on_enter(ctx: &BtfTracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if TARGETS.get_ptr(tgid).is_none() {
        return;
    }
    let id: i64 = ctx.arg(1);
    if id < 0 || id == sysno::URETPROBE as i64 {
        return;
    }
    // SAFETY: the helper takes no arguments and returns the running task.
    let task = unsafe { bpf_get_current_task_btf() };
    let Some(state) = THREADS.get_or_create(task) else {
        count_drop(Drop::ThreadStateFailed);
        return;
    };
    // SAFETY: only this thread writes its own entry while it runs.
    let state = unsafe { &mut *state };
    let args = Args(ctx.arg(0));
    let nr = id as u32;
    let mut entry = Inflight {
        start_ns: 0,
        nr,
        fd_kind: FdKind::None as u32,
        arg: 0,
        fd: -1,
        new_kind: FdKind::File as u32,
        layer: calls::current_layer(state),
        open_flags: 0,
        _pad: 0,
    };
    if nr == sysno::EXIT_GROUP {
        crate::lifecycle::on_exit_group(tgid, pid_tgid as u32, args.get(0));
    }
    if sysno::contains(&sysno::FD_ARG0, nr) {
        let fd = args.get(0) as i64;
        entry.fd = fd;
        let (kind, path_id) = fds::classify(tgid, fd);
        entry.fd_kind = kind as u32;
        entry.arg = path_id;
    }
    fds::on_enter(args, nr, &mut entry);
    if nr == sysno::FUTEX {
        // The operation, for off-CPU time: FUTEX_PRIVATE_FLAG (128) and CLOCK_REALTIME (256)
        // do not change what is waited for.
        entry.arg = args.get(1) & !(128 | 256);
    }
    entry.start_ns = unsafe { bpf_ktime_get_ns() };
    state.inflight = entry;
}

/// `sys_exit(struct pt_regs *regs, long ret)`.
pub fn on_exit(ctx: &BtfTracePointContext) {
    // SAFETY: as in `on_enter`.
    let task = unsafe { bpf_get_current_task_btf() };
    // Threads of untraced processes have no entry: one pointer test and out.
    let Some(state) = THREADS.get(task) else {
        return;
    };
    // SAFETY: only this thread reads and writes its own entry while it runs.
    let slot = unsafe { &mut (*state).inflight };
    let entry = *slot;
    if entry.start_ns == 0 {
        return;
    }
    slot.start_ns = 0;
    let now = unsafe { bpf_ktime_get_ns() };
    let ns = now.saturating_sub(entry.start_ns);
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let ret: i64 = ctx.arg(1);
    let nr = entry.nr;
    let counts_bytes = sysno::contains(&sysno::BYTES, nr);

    let key = SyscallKey {
        tgid,
        nr,
        fd_kind: entry.fd_kind,
        layer: entry.layer,
    };
    if let Some(s) = entry_or_zeroed(&SYSCALL_STATS, &key, &ZERO_STATS, Drop::SyscallMapFull) {
        hist::record(s, ns, ret, counts_bytes);
    }
    // Syscalls on file fds (`arg` holds the fd's path id), and successful opens of regular
    // files by path (the path id `fds::on_exit` read; `arg` is the path pointer there).
    let opened = fds::on_exit(tgid, &entry, ret);
    let path_id = if fds::is_open(nr) {
        opened
    } else if entry.fd_kind == FdKind::File as u32 {
        entry.arg
    } else {
        0
    };
    if path_id != 0 {
        let key = FileKey {
            tgid,
            nr,
            path_id,
            layer: entry.layer,
            flags: entry.open_flags,
        };
        if let Some(s) = entry_or_zeroed(&FILE_STATS, &key, &ZERO_STATS, Drop::FileMapFull) {
            hist::record(s, ns, ret, counts_bytes);
        }
    }
}
