//! x86-64 syscall numbers the kernel side treats specially, and per-syscall properties as
//! bitmaps (a bit per syscall number) because BPF has no jump tables.
//!
//! User space names syscalls with the `syscalls` crate (`syscalls::Sysno`). That crate does not
//! build for the BPF target (its raw-syscall module has no `bpf` architecture), so the numbers
//! the kernel side needs are written here, and a unit test checks every one of them against
//! `syscalls::Sysno` by name: the crate stays the one source of truth.

/// Declares the numbers, and (for the test) the list of them with their names.
macro_rules! numbers {
    ($($name:ident = $nr:literal,)*) => {
        $(pub const $name: u32 = $nr;)*
        /// Every number above with its constant's name (the syscall's name in upper case).
        #[cfg(test)]
        const NAMED: &[(&str, u32)] = &[$((stringify!($name), $name)),*];
    };
}

numbers! {
    READ = 0,
    WRITE = 1,
    OPEN = 2,
    CLOSE = 3,
    FSTAT = 5,
    LSEEK = 8,
    IOCTL = 16,
    PREAD64 = 17,
    PWRITE64 = 18,
    READV = 19,
    WRITEV = 20,
    PIPE = 22,
    DUP = 32,
    DUP2 = 33,
    SENDFILE = 40,
    SOCKET = 41,
    CONNECT = 42,
    ACCEPT = 43,
    SENDTO = 44,
    RECVFROM = 45,
    SENDMSG = 46,
    RECVMSG = 47,
    SHUTDOWN = 48,
    BIND = 49,
    LISTEN = 50,
    GETSOCKNAME = 51,
    GETPEERNAME = 52,
    SOCKETPAIR = 53,
    SETSOCKOPT = 54,
    GETSOCKOPT = 55,
    FCNTL = 72,
    FLOCK = 73,
    FSYNC = 74,
    FDATASYNC = 75,
    FTRUNCATE = 77,
    CREAT = 85,
    FUTEX = 202,
    EPOLL_CREATE = 213,
    GETDENTS64 = 217,
    FADVISE64 = 221,
    EXIT_GROUP = 231,
    EPOLL_WAIT = 232,
    EPOLL_CTL = 233,
    OPENAT = 257,
    SPLICE = 275,
    SYNC_FILE_RANGE = 277,
    EPOLL_PWAIT = 281,
    SIGNALFD = 282,
    TIMERFD_CREATE = 283,
    EVENTFD = 284,
    FALLOCATE = 285,
    ACCEPT4 = 288,
    SIGNALFD4 = 289,
    EVENTFD2 = 290,
    EPOLL_CREATE1 = 291,
    DUP3 = 292,
    PIPE2 = 293,
    INOTIFY_INIT1 = 294,
    PREADV = 295,
    PWRITEV = 296,
    RECVMMSG = 299,
    SYNCFS = 306,
    SENDMMSG = 307,
    MEMFD_CREATE = 319,
    COPY_FILE_RANGE = 326,
    PREADV2 = 327,
    PWRITEV2 = 328,
    URETPROBE = 335,
    PIDFD_OPEN = 434,
    OPENAT2 = 437,
}

// `URETPROBE` is the kernel's uretprobe trampoline (x86-64, since 6.11): a function probed with
// a uretprobe returns through this syscall. It is tracer's own doing, not the target's, so it
// is not counted (`strace -c` on an untraced run would never see it).

/// Syscall numbers covered by the bitmaps.
pub const BITMAP_NRS: u32 = 512;

/// A set of syscall numbers, one bit each.
pub type Bitmap = [u64; (BITMAP_NRS / 64) as usize];

const fn bitmap(nrs: &[u32]) -> Bitmap {
    let mut map = [0u64; (BITMAP_NRS / 64) as usize];
    let mut i = 0;
    while i < nrs.len() {
        assert!(nrs[i] < BITMAP_NRS, "syscall number outside the bitmaps");
        map[(nrs[i] / 64) as usize] |= 1 << (nrs[i] % 64);
        i += 1;
    }
    map
}

/// Whether `nr` is in `map`.
#[inline(always)]
pub fn contains(map: &Bitmap, nr: u32) -> bool {
    let word = (nr / 64) as usize;
    word < map.len() && (map[word] >> (nr % 64)) & 1 == 1
}

/// Syscalls whose first argument is a file descriptor: their fd kind is looked up.
pub const FD_ARG0: Bitmap = bitmap(&[
    READ,
    WRITE,
    CLOSE,
    FSTAT,
    LSEEK,
    IOCTL,
    PREAD64,
    PWRITE64,
    READV,
    WRITEV,
    SENDFILE,
    CONNECT,
    ACCEPT,
    SENDTO,
    RECVFROM,
    SENDMSG,
    RECVMSG,
    SHUTDOWN,
    BIND,
    LISTEN,
    GETSOCKNAME,
    GETPEERNAME,
    SETSOCKOPT,
    GETSOCKOPT,
    FCNTL,
    FLOCK,
    FSYNC,
    FDATASYNC,
    FTRUNCATE,
    GETDENTS64,
    FADVISE64,
    EPOLL_WAIT,
    EPOLL_CTL,
    SYNC_FILE_RANGE,
    EPOLL_PWAIT,
    FALLOCATE,
    ACCEPT4,
    PREADV,
    PWRITEV,
    RECVMMSG,
    SYNCFS,
    SENDMMSG,
    COPY_FILE_RANGE,
    PREADV2,
    PWRITEV2,
]);

/// Syscalls whose positive return value is a number of bytes moved.
pub const BYTES: Bitmap = bitmap(&[
    READ,
    WRITE,
    PREAD64,
    PWRITE64,
    READV,
    WRITEV,
    SENDFILE,
    SENDTO,
    RECVFROM,
    SENDMSG,
    RECVMSG,
    SPLICE,
    PREADV,
    PWRITEV,
    COPY_FILE_RANGE,
    PREADV2,
    PWRITEV2,
]);

/// Syscalls that return a new fd that is neither a file nor a socket.
pub const NEW_OTHER_FD: Bitmap = bitmap(&[
    EPOLL_CREATE,
    SIGNALFD,
    TIMERFD_CREATE,
    EVENTFD,
    SIGNALFD4,
    EVENTFD2,
    EPOLL_CREATE1,
    INOTIFY_INIT1,
    MEMFD_CREATE,
    PIDFD_OPEN,
]);

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    #[test]
    fn every_number_is_the_syscalls_crate_number_of_its_name() {
        assert!(NAMED.len() > 60);
        for &(name, nr) in NAMED {
            let lower: String = name.to_ascii_lowercase();
            let sysno: syscalls::x86_64::Sysno = lower
                .parse()
                .unwrap_or_else(|_| panic!("{lower} is not an x86-64 syscall"));
            assert_eq!(sysno.id() as u32, nr, "{lower}");
            assert!(nr < BITMAP_NRS, "{lower} is outside the bitmaps");
        }
    }

    #[test]
    fn bitmaps_hold_exactly_their_syscalls() {
        let bytes = [READ, PREAD64, RECVMSG, SPLICE, PWRITEV2];
        for nr in bytes {
            assert!(contains(&BYTES, nr), "{nr}");
        }
        assert!(!contains(&BYTES, FSYNC));
        assert!(contains(&FD_ARG0, FSYNC) && !contains(&FD_ARG0, OPENAT));
        assert!(contains(&NEW_OTHER_FD, EVENTFD2) && !contains(&NEW_OTHER_FD, SOCKET));
        assert!(
            !contains(&FD_ARG0, BITMAP_NRS + 3),
            "out of range is not a member"
        );
        let members = |m: &Bitmap| m.iter().map(|w| w.count_ones()).sum::<u32>();
        assert_eq!(
            (members(&FD_ARG0), members(&BYTES), members(&NEW_OTHER_FD)),
            (45, 17, 10)
        );
    }
}
