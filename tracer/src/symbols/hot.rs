//! Which matched functions are probably too hot to probe cheaply.
//!
//! A uprobe hit costs ~10 µs on the project's machines (entry + return ~20 µs), while a traced
//! syscall costs ~0.3 µs. A function that runs millions of times per second would be slowed by
//! orders of magnitude, so the dry run warns (it never refuses: the user decides). The signals are
//! cheap static ones, no profiling:
//!
//! - **tiny** bodies (< [`TINY_BYTES`] bytes): accessors and forwarding stubs, called in loops,
//!   where the probe costs 100× the function;
//! - **I/O wrappers** named like libc's (`send`, `recv`, `read`, `write`, ...): they run once per
//!   syscall, which syscall tracepoints already count at 1/30 of the cost; keep them `stack_only`;
//! - **standard-library code** (`std::`, `__gnu_cxx::`): templates instantiated into hot loops
//!   (container access, string copies, stream writes).

/// Functions smaller than this many bytes of machine code are "tiny".
pub const TINY_BYTES: u64 = 32;

/// libc-style I/O entry points that coroutine libraries hook and re-export.
const IO_WRAPPERS: &[&str] = &[
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "read",
    "write",
    "readv",
    "writev",
    "pread",
    "pwrite",
    "pread64",
    "pwrite64",
    "fsync",
    "fdatasync",
    "poll",
    "epoll_wait",
    "select",
    "accept",
    "accept4",
    "connect",
];

/// The warning for a function with this qualified name and size, or `None` if it looks cheap
/// enough to probe. Several reasons are joined with `; `.
pub fn hot_warning(qualified: &str, size: u64) -> Option<String> {
    let mut reasons = Vec::new();
    if IO_WRAPPERS.contains(&qualified) {
        reasons.push(
            "I/O wrapper that runs once per syscall: syscall tracepoints count it at ~0.3 µs \
             instead of ~20 µs per call; make it stack_only"
                .to_string(),
        );
    }
    if qualified.starts_with("std::") || qualified.starts_with("__gnu_cxx::") {
        reasons.push("standard-library code, often called per element or byte".to_string());
    }
    if size < TINY_BYTES {
        reasons.push(format!(
            "only {size} bytes of code: a probe hit (~10 µs) costs far more than the function"
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heuristics() {
        assert!(hot_warning("Raft::doHeartBeat", 900).is_none());
        assert!(hot_warning("send", 200).unwrap().contains("stack_only"));
        assert!(hot_warning("std::vector<int>::push_back", 200).is_some());
        assert!(hot_warning("Raft::lastIndex", 12)
            .unwrap()
            .contains("12 bytes"));
        // A method merely named like a syscall is not a libc wrapper.
        assert!(hot_warning("Socket::send", 400).is_none());
    }
}
