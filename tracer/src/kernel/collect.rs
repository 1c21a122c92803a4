//! Draining the kernel maps into plain values ([`KernelData`]), summing the per-CPU slots.

use anyhow::Result;
use aya::maps::{HashMap as BpfHashMap, PerCpuArray, PerCpuHashMap, StackTraceMap};
use std::collections::{BTreeMap, HashMap};
use tracer_common::{
    FileKey, FuncKey, FuncStats, OffCpuKey, OffCpuValue, PathBuf as BpfPath, SampleKey, SyscallKey,
    SyscallStats, DROP_NAMES, DROP_REASONS,
};

use crate::kernel::attach::Attached;
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

fn sum_per_cpu<'a>(values: impl Iterator<Item = &'a SyscallStats>) -> Stats {
    let mut out = Stats {
        hist: vec![0; tracer_common::HIST_BUCKETS],
        ..Stats::default()
    };
    for v in values {
        out.count += v.count;
        out.errors += v.errors;
        out.total_ns += v.total_ns;
        out.max_ns = out.max_ns.max(v.max_ns);
        out.bytes += v.bytes;
        for (a, b) in out.hist.iter_mut().zip(v.hist.iter()) {
            *a += b;
        }
    }
    // Trailing empty buckets carry no information; keep snapshot.json small.
    while out.hist.last() == Some(&0) {
        out.hist.pop();
    }
    out
}

/// Reads every aggregate map. Cheap enough to call once per interval.
pub fn read(attached: &Attached) -> Result<KernelData> {
    let mut data = KernelData::default();

    let stats: PerCpuHashMap<_, SyscallKey, SyscallStats> =
        PerCpuHashMap::try_from(attached.map("SYSCALL_STATS")?)?;
    for item in stats.iter() {
        let (key, values) = item?;
        let kind = FdKind::from(tracer_common::FdKind::from_u32(key.fd_kind));
        data.syscalls.push((
            key.tgid,
            key.nr,
            kind,
            key.layer,
            sum_per_cpu(values.iter()),
        ));
    }

    let files: PerCpuHashMap<_, FileKey, SyscallStats> =
        PerCpuHashMap::try_from(attached.map("FILE_STATS")?)?;
    for item in files.iter() {
        let (key, values) = item?;
        data.files
            .push((key.tgid, key.nr, key.path_id, sum_per_cpu(values.iter())));
    }

    let paths: BpfHashMap<_, u64, BpfPath> = BpfHashMap::try_from(attached.map("PATHS")?)?;
    for item in paths.iter() {
        let (id, path) = item?;
        let end = path
            .bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(path.bytes.len());
        data.paths
            .insert(id, String::from_utf8_lossy(&path.bytes[..end]).into_owned());
    }

    let drops: PerCpuArray<_, u64> = PerCpuArray::try_from(attached.map("DROPS")?)?;
    for reason in 0..DROP_REASONS {
        let total: u64 = drops.get(&reason, 0)?.iter().sum();
        data.drops
            .insert(DROP_NAMES[reason as usize].to_string(), total);
    }
    read_samples(attached, &mut data)?;
    read_functions(attached, &mut data)?;
    read_block(attached, &mut data)?;
    Ok(data)
}

fn read_block(attached: &Attached, data: &mut KernelData) -> Result<()> {
    let lat: PerCpuHashMap<_, u32, SyscallStats> =
        PerCpuHashMap::try_from(attached.map("BLOCK_LATENCY")?)?;
    for item in lat.iter() {
        let (dev, values) = item?;
        data.block_latency.push((dev, sum_per_cpu(values.iter())));
    }
    Ok(())
}

fn read_functions(attached: &Attached, data: &mut KernelData) -> Result<()> {
    let funcs: PerCpuHashMap<_, FuncKey, FuncStats> =
        PerCpuHashMap::try_from(attached.map("FUNC_STATS")?)?;
    for item in funcs.iter() {
        let (key, values) = item?;
        let mut f = FuncCalls {
            tgid: key.tgid,
            func: key.func,
            entries: 0,
            returns: 0,
            unmatched_returns: 0,
            latency: Stats {
                hist: vec![0; tracer_common::FINE_BUCKETS],
                scale: crate::model::HistScale::LogLinear,
                ..Stats::default()
            },
        };
        for v in values.iter() {
            f.entries += v.entries;
            f.returns += v.returns;
            f.unmatched_returns += v.unmatched_returns;
            f.latency.count += v.returns;
            f.latency.total_ns += v.total_ns;
            f.latency.max_ns = f.latency.max_ns.max(v.max_ns);
            for (a, b) in f.latency.hist.iter_mut().zip(v.hist.iter()) {
                *a += b;
            }
        }
        while f.latency.hist.last() == Some(&0) {
            f.latency.hist.pop();
        }
        data.functions.push(f);
    }
    Ok(())
}

/// Reads the sample counts and the stacks they refer to.
fn read_samples(attached: &Attached, data: &mut KernelData) -> Result<()> {
    let taken: PerCpuArray<_, u64> = PerCpuArray::try_from(attached.map("SAMPLE_COUNT")?)?;
    data.samples_taken = taken.get(&0, 0)?.iter().sum();
    let samples: PerCpuHashMap<_, SampleKey, u64> =
        PerCpuHashMap::try_from(attached.map("SAMPLES")?)?;
    let stacks = StackTraceMap::try_from(attached.map("STACKS")?)?;
    let mut stack_cache: HashMap<i32, Option<Vec<u64>>> = HashMap::new();
    let mut stack = |id: i32| -> Option<Vec<u64>> {
        if id < 0 {
            return None;
        }
        stack_cache
            .entry(id)
            .or_insert_with(|| {
                stacks
                    .get(&(id as u32), 0)
                    .ok()
                    .map(|st| st.frames().iter().map(|f| f.ip).collect())
            })
            .clone()
    };
    let offcpu: PerCpuHashMap<_, OffCpuKey, OffCpuValue> =
        PerCpuHashMap::try_from(attached.map("OFFCPU")?)?;
    for item in offcpu.iter() {
        let (key, values) = item?;
        let end = key.comm.iter().position(|&b| b == 0).unwrap_or(16);
        data.offcpu.push(RawOffCpu {
            tgid: key.tgid,
            thread: String::from_utf8_lossy(&key.comm[..end]).into_owned(),
            layer: key.layer,
            reason: key.reason,
            futex_op: key.futex_op,
            user_ips: if key.user_stack == tracer_common::STACK_IP_ONLY {
                Some(vec![key.user_ip])
            } else {
                stack(key.user_stack)
            },
            kernel_ips: stack(key.kernel_stack),
            total_ns: values.iter().map(|v| v.total_ns).sum(),
            count: values.iter().map(|v| v.count).sum(),
        });
    }
    for item in samples.iter() {
        let (key, counts) = item?;
        let end = key.comm.iter().position(|&b| b == 0).unwrap_or(16);
        data.samples.push(RawSample {
            tgid: key.tgid,
            thread: String::from_utf8_lossy(&key.comm[..end]).into_owned(),
            layer: key.layer,
            user_ips: stack(key.user_stack),
            kernel_ips: stack(key.kernel_stack),
            count: counts.iter().sum(),
        });
    }
    Ok(())
}

/// Deletes every sample, off-CPU record and stack: the next read sees only what happened
/// after this call. Keeps kernel memory bounded over long runs (the stack map above all).
/// A sample recorded between the read and this call is lost with its entry; at window
/// boundaries only.
pub fn drain_stacks(attached: &mut Attached) -> Result<()> {
    {
        let mut samples: PerCpuHashMap<_, SampleKey, u64> =
            PerCpuHashMap::try_from(attached.map_mut("SAMPLES")?)?;
        let keys: Vec<SampleKey> = samples.keys().filter_map(|k| k.ok()).collect();
        for k in keys {
            let _ = samples.remove(&k);
        }
    }
    {
        let mut offcpu: PerCpuHashMap<_, OffCpuKey, OffCpuValue> =
            PerCpuHashMap::try_from(attached.map_mut("OFFCPU")?)?;
        let keys: Vec<OffCpuKey> = offcpu.keys().filter_map(|k| k.ok()).collect();
        for k in keys {
            let _ = offcpu.remove(&k);
        }
    }
    let mut stacks = StackTraceMap::try_from(attached.map_mut("STACKS")?)?;
    let ids: Vec<u32> = stacks.stack_ids().filter_map(|k| k.ok()).collect();
    for id in ids {
        let _ = stacks.remove(&id);
    }
    Ok(())
}
