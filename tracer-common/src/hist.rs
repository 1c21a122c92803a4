//! The log2 latency histogram of syscalls and block requests ([`crate::SyscallStats::hist`]).

/// Number of log2 latency buckets. Bucket `i` holds latencies in `[2^i, 2^(i+1))` ns
/// (bucket 0 also holds 0 ns); the last bucket holds everything larger (2^39 ns ≈ 9 min).
pub const HIST_BUCKETS: usize = 40;

/// log2 bucket of `ns`: `[2^i, 2^(i+1))` goes to bucket `i`, 0 and 1 to bucket 0, the rest
/// of the range to the last bucket.
#[inline(always)]
pub fn log2_bucket(ns: u64) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_buckets_hold_their_powers_of_two() {
        assert_eq!(log2_bucket(0), 0);
        assert_eq!(log2_bucket(1), 0);
        assert_eq!(log2_bucket(2), 1);
        assert_eq!(log2_bucket(1023), 9);
        assert_eq!(log2_bucket(1024), 10);
        assert_eq!(log2_bucket(u64::MAX), HIST_BUCKETS - 1);
    }
}
