//! Block-request latency per device (what iostat's await approximates from counters): issue
//! time at `block:block_rq_issue`, latency at `block:block_rq_complete`.

use aya_ebpf::{helpers::bpf_ktime_get_ns, programs::TracePointContext};
use tracer_common::{BlockReq, Drop};

use crate::{
    hist,
    maps::{count_drop, entry_or_zeroed, BLOCK_INFLIGHT, BLOCK_LATENCY, ZERO_STATS},
};

/// Both records start with `dev` (offset 8) and `sector` (offset 16).
#[inline(always)]
fn request(ctx: &TracePointContext) -> Option<BlockReq> {
    // SAFETY: documented fields of the record.
    let dev = unsafe { ctx.read_at::<u32>(8) }.ok()?;
    let sector = unsafe { ctx.read_at::<u64>(16) }.ok()?;
    Some(BlockReq {
        dev,
        _pad: 0,
        sector,
    })
}

pub fn on_issue(ctx: &TracePointContext) {
    let Some(req) = request(ctx) else {
        return;
    };
    let now = unsafe { bpf_ktime_get_ns() };
    if BLOCK_INFLIGHT.insert(req, now, 0).is_err() {
        count_drop(Drop::BlockMapFull);
    }
}

pub fn on_complete(ctx: &TracePointContext) {
    let Some(req) = request(ctx) else {
        return;
    };
    let Some(start) = BLOCK_INFLIGHT.get_ptr(req) else {
        return; // issued before tracing began
    };
    // SAFETY: plain read before removing the entry.
    let ns = unsafe { bpf_ktime_get_ns() }.saturating_sub(unsafe { *start });
    let _ = BLOCK_INFLIGHT.remove(req);
    if let Some(s) = entry_or_zeroed(&BLOCK_LATENCY, &req.dev, &ZERO_STATS, Drop::BlockMapFull) {
        hist::record(s, ns, 0, false);
    }
}
