//! File descriptors and paths: `FDS` (what each fd is) and `PATHS` (paths by id), and the
//! path hash both sides compute ([`path_hash`]).

use crate::assert_size;

/// Longest file path captured at `open*` time, NUL included. Longer paths are truncated.
pub const PATH_LEN: usize = 256;
/// Open file descriptors tracked across all traced processes.
pub const MAX_FDS: u32 = 65536;
/// Distinct file paths seen by `open*`.
pub const MAX_PATHS: u32 = 8192;

/// What kind of object a file descriptor refers to, so `read`/`write` on sockets can be told
/// apart from `read`/`write` on files (the network layer vs the log & I/O layer).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// The syscall takes no file descriptor.
    None = 0,
    /// A file (or directory) opened by path, outside the pseudo file systems /dev, /proc and
    /// /sys: the files whose writes and flushes are disk I/O.
    File = 1,
    /// A socket (socket, accept, accept4, socketpair).
    Socket = 2,
    /// A pipe, eventfd, epoll, timerfd, a device or a /proc or /sys file: anything that is
    /// neither a disk file nor a socket.
    Other = 3,
    /// An fd the tracer never saw created and could not classify when it attached.
    Unknown = 4,
}
assert_size!(FdKind, 4);

impl FdKind {
    pub const fn from_u32(v: u32) -> FdKind {
        match v {
            1 => FdKind::File,
            2 => FdKind::Socket,
            3 => FdKind::Other,
            4 => FdKind::Unknown,
            _ => FdKind::None,
        }
    }
}

/// Key of `FDS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FdKey {
    pub tgid: u32,
    pub fd: u32,
}
assert_size!(FdKey, 8);

/// Value of `FDS`: what the fd is and, for files, which path (an id into `PATHS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdInfo {
    /// A [`FdKind`].
    pub kind: u32,
    pub _pad: u32,
    pub path_id: u64,
}
assert_size!(FdInfo, 16);

/// Value of `PATHS`: a path captured at `open*` (or seeded by user space), NUL-terminated,
/// truncated to `PATH_LEN - 1` bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PathBuf {
    pub bytes: [u8; PATH_LEN],
}
assert_size!(PathBuf, PATH_LEN);

impl PathBuf {
    /// `path` (no NUL) as the kernel side stores it: at most `PATH_LEN - 1` bytes, then NUL.
    /// Returns the buffer and how many bytes of `path` it holds.
    pub fn new(path: &[u8]) -> (PathBuf, usize) {
        let mut buf = PathBuf {
            bytes: [0; PATH_LEN],
        };
        let n = if path.len() < PATH_LEN - 1 {
            path.len()
        } else {
            PATH_LEN - 1
        };
        let mut i = 0;
        while i < n {
            buf.bytes[i] = path[i];
            i += 1;
        }
        (buf, n)
    }
}

/// FNV-1a parameters of path ids.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// True for paths of pseudo file systems (/dev, /proc, /sys), whose I/O is not disk I/O.
pub fn is_pseudo_path(bytes: &[u8]) -> bool {
    bytes.starts_with(b"/dev/") || bytes.starts_with(b"/proc/") || bytes.starts_with(b"/sys/")
}

/// Path id of the first `len` bytes of `buf`: FNV-1a, never 0 (0 means "no path").
///
/// The one implementation of path ids: the kernel side calls it on the path it read at
/// `open*` (`len` as `bpf_probe_read_user_str` returned it, at most `PATH_LEN - 1`), user
/// space through [`path_id`] on paths it seeds from /proc. The loop is bounded by `PATH_LEN`
/// and indexes a fixed-size array, which the BPF verifier accepts.
#[inline(always)]
pub fn path_hash(buf: &[u8; PATH_LEN], len: usize) -> u64 {
    let mut hash = FNV_OFFSET;
    for (i, &b) in buf.iter().enumerate() {
        if i >= len {
            break;
        }
        hash ^= b as u64;
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    if hash == 0 {
        1
    } else {
        hash
    }
}

/// Path id of `path` (no NUL), exactly as the kernel side computes it for the same path
/// passed to `open*` (truncated the same way).
pub fn path_id(path: &[u8]) -> u64 {
    let (buf, len) = PathBuf::new(path);
    path_hash(&buf.bytes, len)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// What the kernel side does at `open*`: `bpf_probe_read_user_str` copies at most
    /// `PATH_LEN - 1` bytes and a NUL into the scratch buffer (which may hold an older, longer
    /// path after the NUL) and returns the length before the NUL; then [`path_hash`].
    fn kernel_side_id(path: &[u8], scratch: &mut [u8; PATH_LEN]) -> u64 {
        let n = path.len().min(PATH_LEN - 1);
        scratch[..n].copy_from_slice(&path[..n]);
        scratch[n] = 0;
        path_hash(scratch, n)
    }

    /// Reference FNV-1a over a plain slice, written independently of [`path_hash`].
    fn fnv1a(bytes: &[u8]) -> u64 {
        let h = bytes.iter().fold(FNV_OFFSET, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
        });
        h.max(1)
    }

    #[test]
    fn kernel_and_user_path_ids_agree_on_short_and_long_paths() {
        let long: Vec<u8> = b"/var/lib/raft/"
            .iter()
            .copied()
            .chain(core::iter::repeat_n(b'x', 300))
            .collect();
        let exactly_255: Vec<u8> = core::iter::repeat_n(b'a', 255).collect();
        let exactly_256: Vec<u8> = core::iter::repeat_n(b'a', 256).collect();
        let samples: [&[u8]; 6] = [
            b"/tmp/raft/node0/log",
            b"/",
            b"",
            &exactly_255,
            &exactly_256,
            &long,
        ];
        // A dirty scratch buffer, as the per-CPU one is after a longer path.
        let mut scratch = [0xffu8; PATH_LEN];
        for path in samples {
            let user = path_id(path);
            assert_eq!(user, kernel_side_id(path, &mut scratch), "{path:?}");
            assert_eq!(user, fnv1a(&path[..path.len().min(PATH_LEN - 1)]));
        }
        // Longer paths are told apart only by their first 255 bytes.
        assert_eq!(path_id(&exactly_255), path_id(&exactly_256));
        assert_ne!(path_id(b"/a"), path_id(b"/b"));
    }

    #[test]
    fn path_buffers_are_nul_terminated_and_truncated() {
        let (buf, n) = PathBuf::new(&[b'z'; 400]);
        assert_eq!(n, PATH_LEN - 1);
        assert_eq!(buf.bytes[PATH_LEN - 1], 0);
        let (buf, n) = PathBuf::new(b"/x");
        assert_eq!((n, &buf.bytes[..3]), (2, &b"/x\0"[..]));
    }
}
