//! File-descriptor bookkeeping: which fds are files (and which path), which are sockets.
//!
//! User space seeds `FDS` from /proc/PID/fd when it attaches; from then on the syscalls that
//! create, duplicate and close fds keep it current. That is how `write` on a socket is told
//! apart from `write` on a file without reading kernel structures.
//!
//! A path enters `PATHS` only when its `open*` succeeded (read again from the caller's memory
//! at the syscall's exit): probing for files that do not exist fills nothing. User space
//! moves `PATHS` into its own table every window (`tracer::kernel::collect`), so the map only
//! holds the paths opened since.

use aya_ebpf::helpers::bpf_probe_read_user_str_bytes;
use tracer_common::{
    is_pseudo_path, path_hash, sysno, Drop, FdInfo, FdKey, FdKind, Inflight, FILE_OPEN_TRUNC,
    O_TRUNC,
};

use crate::{
    maps::{count_drop, FDS, PATHS, PATH_SCRATCH},
    syscalls::Args,
};

const EEXIST: i32 = -17;
const F_DUPFD: u64 = 0;
const F_DUPFD_CLOEXEC: u64 = 1030;
const BPF_NOEXIST: u64 = 1;

/// Kind and path id of `fd` in process `tgid`.
#[inline(always)]
pub fn classify(tgid: u32, fd: i64) -> (FdKind, u64) {
    if fd < 0 {
        return (FdKind::Unknown, 0);
    }
    let key = FdKey {
        tgid,
        fd: fd as u32,
    };
    match FDS.get_ptr(key) {
        // SAFETY: plain read of a map value.
        Some(info) => unsafe { (FdKind::from_u32((*info).kind), (*info).path_id) },
        None => (FdKind::Unknown, 0),
    }
}

/// Remembers what the exit side needs to update `FDS` for fd-creating syscalls.
#[inline(always)]
pub fn on_enter(args: Args, nr: u32, entry: &mut Inflight) {
    match nr {
        // The path is read at exit, and only if the open succeeded: keep the pointer.
        sysno::OPEN => {
            entry.arg = args.get(0);
            entry.open_flags = trunc_flag(args.get(1));
        }
        sysno::CREAT => {
            entry.arg = args.get(0);
            entry.open_flags = FILE_OPEN_TRUNC;
        }
        sysno::OPENAT => {
            entry.arg = args.get(1);
            entry.open_flags = trunc_flag(args.get(2));
        }
        sysno::OPENAT2 => {
            entry.arg = args.get(1);
            // `struct open_how` starts with the u64 flags.
            // SAFETY: bpf_probe_read_user tolerates bad pointers (returns an error).
            let flags =
                unsafe { aya_ebpf::helpers::bpf_probe_read_user(args.get(2) as *const u64) };
            entry.open_flags = trunc_flag(flags.unwrap_or(0));
        }
        sysno::DUP => entry.arg = args.get(0),
        sysno::DUP2 | sysno::DUP3 => {
            entry.arg = args.get(0);
            entry.fd = args.get(1) as i64;
        }
        // Only the dup commands create fds; remember the command in `arg`, the old fd is `fd`.
        sysno::FCNTL => entry.arg = args.get(1),
        sysno::PIPE | sysno::PIPE2 => entry.arg = args.get(0),
        sysno::SOCKETPAIR => entry.arg = args.get(3),
        _ => {}
    }
}

/// Whether `nr` opens a file by path (`open`, `openat`, `openat2`, `creat`).
#[inline(always)]
pub fn is_open(nr: u32) -> bool {
    matches!(
        nr,
        sysno::OPEN | sysno::CREAT | sysno::OPENAT | sysno::OPENAT2
    )
}

#[inline(always)]
fn trunc_flag(open_flags: u64) -> u32 {
    if open_flags & O_TRUNC != 0 {
        FILE_OPEN_TRUNC
    } else {
        0
    }
}

/// Applies a completed fd-creating (or closing) syscall to `FDS`. Returns the path id of the
/// regular file a successful `open*`/`creat` opened, 0 for anything else (a failed open, a
/// pseudo file system, an unreadable path, not an open).
#[inline(always)]
pub fn on_exit(tgid: u32, entry: &Inflight, ret: i64) -> u64 {
    if ret < 0 {
        return 0;
    }
    let nr = entry.nr;
    match nr {
        sysno::OPEN | sysno::CREAT | sysno::OPENAT | sysno::OPENAT2 => {
            let mut kind = entry.new_kind;
            let path_id = path_id_of(entry.arg, &mut kind);
            set(tgid, ret, FdKind::from_u32(kind), path_id);
            if kind == FdKind::File as u32 {
                return path_id;
            }
        }
        sysno::SOCKET | sysno::ACCEPT | sysno::ACCEPT4 => set(tgid, ret, FdKind::Socket, 0),
        sysno::CLOSE => {
            let _ = FDS.remove(FdKey {
                tgid,
                fd: entry.fd as u32,
            });
        }
        sysno::DUP => copy(tgid, entry.arg as i64, ret),
        sysno::DUP2 | sysno::DUP3 => copy(tgid, entry.arg as i64, ret),
        sysno::FCNTL if entry.arg == F_DUPFD || entry.arg == F_DUPFD_CLOEXEC => {
            copy(tgid, entry.fd, ret)
        }
        sysno::PIPE | sysno::PIPE2 => set_pair(tgid, entry.arg, FdKind::Other),
        sysno::SOCKETPAIR => set_pair(tgid, entry.arg, FdKind::Socket),
        _ => {
            if sysno::contains(&sysno::NEW_OTHER_FD, nr) {
                set(tgid, ret, FdKind::Other, 0)
            }
        }
    }
    0
}

#[inline(always)]
fn set(tgid: u32, fd: i64, kind: FdKind, path_id: u64) {
    let key = FdKey {
        tgid,
        fd: fd as u32,
    };
    let info = FdInfo {
        kind: kind as u32,
        _pad: 0,
        path_id,
    };
    if FDS.insert(key, info, 0).is_err() {
        count_drop(Drop::FdMapFull);
    }
}

#[inline(always)]
fn copy(tgid: u32, from: i64, to: i64) {
    let (kind, path_id) = classify(tgid, from);
    set(tgid, to, kind, path_id);
}

/// `pipe`/`socketpair` write two fds into a user array.
#[inline(always)]
fn set_pair(tgid: u32, user_ptr: u64, kind: FdKind) {
    // SAFETY: bpf_probe_read_user tolerates bad pointers (returns an error).
    if let Ok(pair) = unsafe { aya_ebpf::helpers::bpf_probe_read_user(user_ptr as *const [i32; 2]) }
    {
        set(tgid, pair[0] as i64, kind, 0);
        set(tgid, pair[1] as i64, kind, 0);
    }
}

/// Reads the path at `user_ptr` (the `open*` argument, still in the caller's memory at the
/// syscall's exit), stores it in `PATHS`, and returns its id (`tracer_common::path_hash`,
/// which user space's `path_id` computes too), 0 when it cannot be read. Sets `new_kind` to
/// what the new fd is (pseudo file systems are not disk files).
#[inline(always)]
fn path_id_of(user_ptr: u64, new_kind: &mut u32) -> u64 {
    let Some(buf) = PATH_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: per-CPU scratch buffer, only this program on this CPU uses it.
    let buf = unsafe { &mut *buf };
    let len = match unsafe { bpf_probe_read_user_str_bytes(user_ptr as *const u8, &mut buf.bytes) }
    {
        Ok(s) => s.len(),
        Err(_) => return 0,
    };
    if is_pseudo_path(&buf.bytes) {
        *new_kind = FdKind::Other as u32;
    }
    let hash = path_hash(&buf.bytes, len);
    // Passed by reference on purpose: a copy would put 256 bytes on the 512-byte BPF stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    if let Err(e) = PATHS.insert(hash, &*buf, BPF_NOEXIST) {
        if e != EEXIST {
            count_drop(Drop::PathMapFull);
        }
    }
    hash
}
