//! Block-request latency per device: `BLOCK_INFLIGHT` (issue times) and `BLOCK_LATENCY`
//! (a [`crate::SyscallStats`] per device).

use crate::assert_size;

/// Block requests in flight at once (issue recorded, completion not yet seen).
pub const MAX_BLOCK_INFLIGHT: u32 = 16384;
/// Block devices tracked.
pub const MAX_BLOCK_DEVS: u32 = 64;

/// Key of `BLOCK_INFLIGHT`: a block request.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockReq {
    pub dev: u32,
    pub _pad: u32,
    pub sector: u64,
}
assert_size!(BlockReq, 16);
