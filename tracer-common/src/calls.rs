//! Probed function calls (uprobes): `FUNC_STATS` per (process, function), the per-thread
//! stack of active calls, and the log-linear latency histogram of probed functions.

use crate::assert_size;

/// Probed calls that can be active at once on one thread (nesting, recursion, and entries of
/// functions that never return, such as ticker loops running in fibers).
pub const CALL_DEPTH: usize = 16;
/// Distinct (process, probed function) pairs (a few nodes x a few dozen functions).
pub const MAX_FUNC_KEYS: u32 = 1024;

/// Buckets of the log-linear latency histogram of probed functions: 16 linear sub-buckets per
/// power of two (each ~6% wide), so a percentile is known to within ~3%. Values below 16 ns
/// get a bucket each. See [`fine_bucket`].
pub const FINE_BUCKETS: usize = 592;

/// Bucket of `ns` in the log-linear histogram: `ns` itself below 16, else
/// `(e - 3) * 16 + s` where `e = floor(log2 ns)` and `s` is the next 4 bits below the top bit.
#[inline(always)]
pub fn fine_bucket(ns: u64) -> usize {
    if ns < 16 {
        return ns as usize;
    }
    let e = 63 - ns.leading_zeros() as usize;
    let idx = (e - 3) * 16 + ((ns >> (e - 4)) & 15) as usize;
    if idx >= FINE_BUCKETS {
        FINE_BUCKETS - 1
    } else {
        idx
    }
}

/// Lower and upper bound (ns) of log-linear bucket `idx` (inverse of [`fine_bucket`]).
pub fn fine_bucket_bounds(idx: usize) -> (u64, u64) {
    if idx < 16 {
        return (idx as u64, idx as u64 + 1);
    }
    let e = idx / 16 + 3;
    let sub = (idx % 16) as u64;
    ((16 + sub) << (e - 4), (17 + sub) << (e - 4))
}

/// One active probed call of a thread.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CallFrame {
    /// Index of the function in the list user space attached (the uprobe's cookie, low half).
    pub func: u32,
    /// Its layer (the cookie's high half), 1-based; 0 means no layer.
    pub layer: u32,
    pub start_ns: u64,
}
assert_size!(CallFrame, 16);

/// The probed calls active on a thread (`ThreadState::calls`), innermost last. Its innermost
/// layer is the thread's current layer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ThreadCalls {
    pub depth: u32,
    /// 1 once a probed function was entered on this thread since tracing began. Until then a
    /// probed return is ignored, not counted as unmatched: the thread's state may exist for
    /// its syscalls, but its calls were all entered before tracing.
    pub seen: u32,
    pub frames: [CallFrame; CALL_DEPTH],
}
assert_size!(ThreadCalls, 8 + 16 * CALL_DEPTH);

/// Key of `FUNC_STATS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FuncKey {
    pub tgid: u32,
    /// The function's id (the uprobe cookie's low half).
    pub func: u32,
}
assert_size!(FuncKey, 8);

/// Calls of one probed function in one process. Latency is measured for calls whose return
/// was seen; `entries - returns` are calls still running or that never return (ticker loops).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FuncStats {
    pub entries: u64,
    pub returns: u64,
    /// Returns without a matching entry (the entry happened before tracing started, or was
    /// pushed off a full call stack).
    pub unmatched_returns: u64,
    pub total_ns: u64,
    pub max_ns: u64,
    /// Log-linear histogram, see [`fine_bucket`].
    pub hist: [u64; FINE_BUCKETS],
}
assert_size!(FuncStats, 8 * (5 + FINE_BUCKETS));
