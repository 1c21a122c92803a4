//! Reading the kernel maps (through [`super::maps`]) into plain values ([`KernelData`]).

use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use tracer_common::{FuncKey, FuncStats, SyscallStats};

use super::{attach::Attached, maps};
use crate::model::{FdKind, Stats};

/// Everything the kernel side has aggregated so far.
#[derive(Debug, Default, Clone)]
pub struct KernelData {
    /// (tgid, syscall nr, fd kind, layer id) -> stats
    pub syscalls: Vec<(u32, u32, FdKind, u32, Stats)>,
    pub functions: Vec<FuncCalls>,
    /// (tgid, syscall nr, path id) -> stats
    pub files: Vec<(u32, u32, u64, Stats)>,
    /// path id -> path as opened
    pub paths: HashMap<u64, String>,
    pub drops: BTreeMap<String, u64>,
    /// Samples taken in traced processes (recorded or not).
    pub samples_taken: u64,
    pub samples: Vec<RawSample>,
    pub offcpu: Vec<RawOffCpu>,
    /// Block-request latency per kernel dev_t.
    pub block_latency: Vec<(u32, Stats)>,
}

/// Blocked time at one place (stacks leaf first).
#[derive(Debug, Clone)]
pub struct RawOffCpu {
    pub tgid: u32,
    pub thread: String,
    pub layer: u32,
    /// Syscall number, or `tracer_common::OFFCPU_NO_SYSCALL`.
    pub reason: u32,
    /// futex operation, `u32::MAX` when not a futex wait.
    pub futex_op: u32,
    pub user_ips: Option<Vec<u64>>,
    pub kernel_ips: Option<Vec<u64>>,
    pub total_ns: u64,
    pub count: u64,
}

/// Calls of one probed function in one process.
#[derive(Debug, Clone)]
pub struct FuncCalls {
    pub tgid: u32,
    /// Index into the list of functions user space probed.
    pub func: u32,
    pub entries: u64,
    pub returns: u64,
    pub unmatched_returns: u64,
    /// Latency of calls whose return was seen.
    pub latency: Stats,
}

/// One distinct sampled stack, as instruction pointers (leaf first).
#[derive(Debug, Clone)]
pub struct RawSample {
    pub tgid: u32,
    pub thread: String,
    /// Layer id of the thread when sampled (0: none).
    pub layer: u32,
    /// None: no user stack (or it was lost, which `drops` counts).
    pub user_ips: Option<Vec<u64>>,
    pub kernel_ips: Option<Vec<u64>>,
    pub count: u64,
}

/// A summed `SyscallStats` as the model's `Stats`, without trailing empty buckets (they carry
/// no information; this keeps snapshot.json small).
fn stats_of(v: &SyscallStats) -> Stats {
    let mut out = Stats {
        count: v.count,
        errors: v.errors,
        total_ns: v.total_ns,
        max_ns: v.max_ns,
        bytes: v.bytes,
        hist: v.hist.to_vec(),
        ..Stats::default()
    };
    while out.hist.last() == Some(&0) {
        out.hist.pop();
    }
    out
}

/// A summed `FuncStats` as calls of one probed function in one process.
fn calls_of(key: FuncKey, v: &FuncStats) -> FuncCalls {
    let mut latency = Stats {
        count: v.returns,
        total_ns: v.total_ns,
        max_ns: v.max_ns,
        hist: v.hist.to_vec(),
        scale: crate::model::HistScale::LogLinear,
        ..Stats::default()
    };
    while latency.hist.last() == Some(&0) {
        latency.hist.pop();
    }
    FuncCalls {
        tgid: key.tgid,
        func: key.func,
        entries: v.entries,
        returns: v.returns,
        unmatched_returns: v.unmatched_returns,
        latency,
    }
}

fn thread_name(comm: &[u8; 16]) -> String {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    String::from_utf8_lossy(&comm[..end]).into_owned()
}

/// Reads every aggregate map. Cheap enough to call once per interval.
pub fn read(attached: &Attached) -> Result<KernelData> {
    let mut data = KernelData::default();
    for (key, s) in maps::syscall_stats(attached)? {
        let kind = FdKind::from(tracer_common::FdKind::from_u32(key.fd_kind));
        data.syscalls
            .push((key.tgid, key.nr, kind, key.layer, stats_of(&s)));
    }
    for (key, s) in maps::file_stats(attached)? {
        data.files
            .push((key.tgid, key.nr, key.path_id, stats_of(&s)));
    }
    data.paths = maps::paths(attached)?;
    for (reason, n) in maps::drops(attached)? {
        data.drops.insert(reason.name().to_string(), n);
    }
    read_samples(attached, &mut data)?;
    data.functions = maps::function_stats(attached)?
        .iter()
        .map(|(key, v)| calls_of(*key, v))
        .collect();
    for (dev, s) in maps::block_latency(attached)? {
        data.block_latency.push((dev, stats_of(&s)));
    }
    Ok(data)
}

/// Reads the sample and off-CPU counts and the stacks they refer to.
fn read_samples(attached: &Attached, data: &mut KernelData) -> Result<()> {
    data.samples_taken = maps::samples_taken(attached)?;
    let samples = maps::samples(attached)?;
    let mut stacks = maps::stacks(attached)?;
    for (key, v) in maps::offcpu(attached)? {
        data.offcpu.push(RawOffCpu {
            tgid: key.tgid,
            thread: thread_name(&key.comm),
            layer: key.layer,
            reason: key.reason,
            futex_op: key.futex_op,
            user_ips: if key.user_stack == tracer_common::STACK_IP_ONLY {
                Some(vec![key.user_ip])
            } else {
                stacks.ips(key.user_stack)
            },
            kernel_ips: stacks.ips(key.kernel_stack),
            total_ns: v.total_ns,
            count: v.count,
        });
    }
    for (key, count) in samples {
        data.samples.push(RawSample {
            tgid: key.tgid,
            thread: thread_name(&key.comm),
            layer: key.layer,
            user_ips: stacks.ips(key.user_stack),
            kernel_ips: stacks.ips(key.kernel_stack),
            count,
        });
    }
    Ok(())
}

/// Deletes every sample, off-CPU record and stack: the next read sees only what happened
/// after this call. Keeps kernel memory bounded over long runs (the stack map above all).
/// A sample recorded between the read and this call is lost with its entry; at window
/// boundaries only.
pub fn drain_stacks(attached: &mut Attached) -> Result<()> {
    maps::clear_samples_offcpu_and_stacks(attached)
}
