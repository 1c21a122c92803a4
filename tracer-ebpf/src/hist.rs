//! Recording one latency into `SyscallStats` (count, errors, total, max, bytes, log2 buckets).

use tracer_common::{SyscallStats, HIST_BUCKETS};

/// log2 bucket of `ns`: `[2^i, 2^(i+1))` goes to bucket `i`, 0 and 1 to bucket 0.
#[inline(always)]
pub fn bucket(ns: u64) -> usize {
    let b = if ns == 0 {
        0
    } else {
        63 - ns.leading_zeros() as usize
    };
    if b >= HIST_BUCKETS {
        HIST_BUCKETS - 1
    } else {
        b
    }
}

/// Adds one completed call to `s`. `ret` is the syscall's return value, `counts_bytes` says
/// whether a positive return is a byte count.
#[inline(always)]
pub fn record(s: *mut SyscallStats, ns: u64, ret: i64, counts_bytes: bool) {
    // SAFETY: `s` points at this CPU's slot of a per-CPU map value.
    let s = unsafe { &mut *s };
    s.count += 1;
    if ret < 0 && ret > -4096 {
        s.errors += 1;
    } else if counts_bytes && ret > 0 {
        s.bytes += ret as u64;
    }
    s.total_ns += ns;
    if ns > s.max_ns {
        s.max_ns = ns;
    }
    let b = bucket(ns);
    if let Some(slot) = s.hist.get_mut(b) {
        *slot += 1;
    }
}
