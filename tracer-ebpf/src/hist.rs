//! Recording one latency into `SyscallStats` (count, errors, total, max, bytes, log2 buckets).

use tracer_common::{log2_bucket, SyscallStats};

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
    let b = log2_bucket(ns);
    if let Some(slot) = s.hist.get_mut(b) {
        *slot += 1;
    }
}
