//! One typed reader (or writer) per map of tracer's eBPF object, like the fields of a
//! libbpf-tools skeleton: the only code in tracer that names a map. Names are
//! `tracer_common::maps`' constants, keys and values `tracer_common`'s types; per-CPU values
//! come back summed over CPUs, so callers see one value per key.
//!
//! Everything here is a thin, typed view; turning the values into model types is
//! [`super::collect`]'s job. The tests check the embedded object against the contract: the
//! maps it declares are exactly `tracer_common::maps::ALL`, with the key and value sizes of the
//! types read here (a mismatch would otherwise surface only as a load or read error as root).

use anyhow::{anyhow, Context, Result};
use aya::maps::{
    Array, HashMap as BpfHashMap, Map, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues,
    StackTraceMap,
};
use std::collections::{HashMap, HashSet};
use tracer_common::{
    maps as names, Drop, ExitRecord, FdInfo, FdKey, FileKey, FuncKey, FuncStats, OffCpuKey,
    OffCpuValue, PathBuf as BpfPath, SampleKey, SyscallKey, SyscallStats, TargetInfo,
    ThreadSiteKey, WindowControl, WindowCount, WINDOW_COUNTS_PER_BANK,
};
use tracer_common::{stack_map_of, window_count_index};

use super::attach::Attached;

/// `BPF_NOEXIST`: insert only when the key is absent.
const NOEXIST: u64 = 1;

fn map<'a>(attached: &'a Attached, name: &str) -> Result<&'a Map> {
    attached
        .ebpf
        .map(name)
        .ok_or_else(|| anyhow!("tracer's eBPF object has no map {name}"))
}

fn map_mut<'a>(attached: &'a mut Attached, name: &str) -> Result<&'a mut Map> {
    attached
        .ebpf
        .map_mut(name)
        .ok_or_else(|| anyhow!("tracer's eBPF object has no map {name}"))
}

fn per_cpu_hash<'a, K: aya::Pod, V: aya::Pod>(
    attached: &'a Attached,
    name: &str,
) -> Result<PerCpuHashMap<&'a MapData, K, V>> {
    PerCpuHashMap::try_from(map(attached, name)?).with_context(|| format!("opening map {name}"))
}

/// Every (key, per-CPU values) of a per-CPU hash map, the values folded by `sum`.
fn read_per_cpu<K: aya::Pod, V: aya::Pod>(
    attached: &Attached,
    name: &str,
    sum: impl Fn(&[V]) -> V,
) -> Result<Vec<(K, V)>> {
    let map = per_cpu_hash::<K, V>(attached, name)?;
    map.iter()
        .map(|item| {
            let (key, values) = item.with_context(|| format!("reading map {name}"))?;
            Ok((key, sum(&values)))
        })
        .collect()
}

/// Slot 0 of a per-CPU array of counters, summed over CPUs.
fn per_cpu_counter(attached: &Attached, name: &str) -> Result<u64> {
    let array: PerCpuArray<_, u64> = PerCpuArray::try_from(map(attached, name)?)?;
    Ok(array.get(&0, 0)?.iter().sum())
}

// --- TARGETS, TARGET_ADDS -------------------------------------------------------------------

/// `TARGETS`: every process the kernel side traces now, with why.
pub fn targets(attached: &Attached) -> Result<Vec<(u32, TargetInfo)>> {
    let targets: BpfHashMap<_, u32, TargetInfo> =
        BpfHashMap::try_from(map(attached, names::TARGETS)?)?;
    Ok(targets.iter().filter_map(|r| r.ok()).collect())
}

/// Adds (or updates) `pid` in `TARGETS`.
pub fn insert_target(attached: &mut Attached, pid: u32, info: TargetInfo) -> Result<()> {
    let mut targets: BpfHashMap<_, u32, TargetInfo> =
        BpfHashMap::try_from(map_mut(attached, names::TARGETS)?)?;
    targets
        .insert(pid, info, 0)
        .with_context(|| format!("adding pid {pid} to the traced set"))
}

/// Removes `pid` from `TARGETS` (absent is fine).
pub fn remove_target(attached: &mut Attached, pid: u32) -> Result<()> {
    let mut targets: BpfHashMap<_, u32, TargetInfo> =
        BpfHashMap::try_from(map_mut(attached, names::TARGETS)?)?;
    let _ = targets.remove(&pid);
    Ok(())
}

/// `TARGET_ADDS`: how many children the kernel side has added to `TARGETS` so far.
pub fn target_adds(attached: &Attached) -> Result<u64> {
    per_cpu_counter(attached, names::TARGET_ADDS)
}

// --- FDS, PATHS ------------------------------------------------------------------------------

/// Adds `fds` to `FDS`, leaving entries the kernel side already has alone (they carry the
/// path as it was opened).
pub fn seed_fds(attached: &mut Attached, fds: &[(FdKey, FdInfo)]) -> Result<()> {
    let mut table: BpfHashMap<_, FdKey, FdInfo> =
        BpfHashMap::try_from(map_mut(attached, names::FDS)?)?;
    for (key, info) in fds {
        // A full map or an existing key: the kernel side counts or knows better.
        let _ = table.insert(key, info, NOEXIST);
    }
    Ok(())
}

/// Adds `paths` (id, path) to `PATHS` where absent.
pub fn seed_paths(attached: &mut Attached, paths: &[(u64, BpfPath)]) -> Result<()> {
    let mut table: BpfHashMap<_, u64, BpfPath> =
        BpfHashMap::try_from(map_mut(attached, names::PATHS)?)?;
    for (id, path) in paths {
        let _ = table.insert(id, path, NOEXIST);
    }
    Ok(())
}

/// `PATHS`: path id → the path as opened (up to its NUL), deleted as read. Nothing is lost
/// if the kernel side stores the same id again meanwhile: an id is the hash of its path, so
/// the entry read and the one stored are the same path.
pub fn take_paths(attached: &mut Attached) -> Result<HashMap<u64, String>> {
    let mut table: BpfHashMap<_, u64, BpfPath> =
        BpfHashMap::try_from(map_mut(attached, names::PATHS)?)?;
    let ids: Vec<u64> = table.keys().filter_map(|k| k.ok()).collect();
    let mut out = HashMap::new();
    for id in ids {
        let Ok(path) = table.get(&id, 0) else {
            continue;
        };
        let end = path
            .bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(path.bytes.len());
        out.insert(id, String::from_utf8_lossy(&path.bytes[..end]).into_owned());
        let _ = table.remove(&id);
    }
    Ok(out)
}

/// Deletes every `FDS` entry of the processes `tgids` (they exited).
pub fn remove_fds_of(attached: &mut Attached, tgids: &HashSet<u32>) -> Result<()> {
    let mut table: BpfHashMap<_, FdKey, FdInfo> =
        BpfHashMap::try_from(map_mut(attached, names::FDS)?)?;
    let keys: Vec<FdKey> = table
        .keys()
        .filter_map(|k| k.ok())
        .filter(|k| tgids.contains(&k.tgid))
        .collect();
    for k in keys {
        let _ = table.remove(&k);
    }
    Ok(())
}

/// How full the kernel side's hash maps are now: (map, entries, capacity) for every map
/// whose size grows with what the targets do. Counting walks the keys, one syscall each:
/// for the end of a run, not for every poll.
pub fn fill(attached: &Attached) -> Result<Vec<(String, u64, u64)>> {
    Ok(vec![
        per_cpu_fill::<SyscallKey, SyscallStats>(attached, names::SYSCALL_STATS)?,
        per_cpu_fill::<FileKey, SyscallStats>(attached, names::FILE_STATS)?,
        per_cpu_fill::<FuncKey, FuncStats>(attached, names::FUNC_STATS)?,
        per_cpu_fill::<SampleKey, u64>(attached, names::SAMPLES)?,
        per_cpu_fill::<OffCpuKey, OffCpuValue>(attached, names::OFFCPU)?,
        hash_fill::<FdKey, FdInfo>(attached, names::FDS)?,
        hash_fill::<u64, BpfPath>(attached, names::PATHS)?,
        hash_fill::<u32, TargetInfo>(attached, names::TARGETS)?,
    ])
}

fn per_cpu_fill<K: aya::Pod, V: aya::Pod>(
    attached: &Attached,
    name: &str,
) -> Result<(String, u64, u64)> {
    let m = per_cpu_hash::<K, V>(attached, name)?;
    let n = m.keys().filter(|k| k.is_ok()).count() as u64;
    Ok((name.to_string(), n, capacity(attached, name)?))
}

fn hash_fill<K: aya::Pod, V: aya::Pod>(
    attached: &Attached,
    name: &str,
) -> Result<(String, u64, u64)> {
    let m: BpfHashMap<_, K, V> = BpfHashMap::try_from(map(attached, name)?)?;
    let n = m.keys().filter(|k| k.is_ok()).count() as u64;
    Ok((name.to_string(), n, capacity(attached, name)?))
}

fn capacity(attached: &Attached, name: &str) -> Result<u64> {
    let data: &MapData = match map(attached, name)? {
        Map::HashMap(d) | Map::PerCpuHashMap(d) => d,
        _ => anyhow::bail!("{name} is not a hash map"),
    };
    Ok(u64::from(data.info()?.max_entries()))
}

// --- SYSCALL_STATS, FILE_STATS, BLOCK_LATENCY -----------------------------------------------

/// Per-CPU slots of one `SyscallStats`, summed (max of the maxima).
pub fn sum_syscall_stats(values: &[SyscallStats]) -> SyscallStats {
    let mut out = SyscallStats {
        count: 0,
        errors: 0,
        total_ns: 0,
        max_ns: 0,
        bytes: 0,
        hist: [0; tracer_common::HIST_BUCKETS],
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
    out
}

/// `SYSCALL_STATS`: the `strace -c` table per (process, syscall, fd kind, layer).
pub fn syscall_stats(attached: &Attached) -> Result<Vec<(SyscallKey, SyscallStats)>> {
    read_per_cpu(attached, names::SYSCALL_STATS, sum_syscall_stats)
}

/// `FILE_STATS`: syscalls per (process, syscall, file).
pub fn file_stats(attached: &Attached) -> Result<Vec<(FileKey, SyscallStats)>> {
    read_per_cpu(attached, names::FILE_STATS, sum_syscall_stats)
}

/// `BLOCK_LATENCY`: block-request latency per kernel dev_t.
pub fn block_latency(attached: &Attached) -> Result<Vec<(u32, SyscallStats)>> {
    read_per_cpu(attached, names::BLOCK_LATENCY, sum_syscall_stats)
}

// --- FUNC_STATS ------------------------------------------------------------------------------

/// Per-CPU slots of one `FuncStats`, summed (max of the maxima).
pub fn sum_func_stats(values: &[FuncStats]) -> FuncStats {
    let mut out = FuncStats {
        entries: 0,
        returns: 0,
        unmatched_returns: 0,
        total_ns: 0,
        max_ns: 0,
        hist: [0; tracer_common::FINE_BUCKETS],
    };
    for v in values {
        out.entries += v.entries;
        out.returns += v.returns;
        out.unmatched_returns += v.unmatched_returns;
        out.total_ns += v.total_ns;
        out.max_ns = out.max_ns.max(v.max_ns);
        for (a, b) in out.hist.iter_mut().zip(v.hist.iter()) {
            *a += b;
        }
    }
    out
}

/// `FUNC_STATS`: calls per (process, probed function), with their latency histograms.
pub fn function_stats(attached: &Attached) -> Result<Vec<(FuncKey, FuncStats)>> {
    read_per_cpu(attached, names::FUNC_STATS, sum_func_stats)
}

/// Entries so far per (process, probed function), from `FUNC_STATS`: what the probe budget
/// and role watching poll several times a second, so without the latency histograms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionEntries(pub Vec<(FuncKey, u64)>);

impl FunctionEntries {
    pub fn read(attached: &Attached) -> Result<FunctionEntries> {
        let map = per_cpu_hash::<FuncKey, FuncStats>(attached, names::FUNC_STATS)?;
        let mut out = Vec::new();
        for item in map.iter() {
            let (key, values) = item.context("reading map FUNC_STATS")?;
            out.push((key, values.iter().map(|v| v.entries).sum()));
        }
        Ok(FunctionEntries(out))
    }

    /// Entries per function id, over all processes.
    pub fn per_function(&self) -> HashMap<u32, u64> {
        let mut out = HashMap::new();
        for (key, n) in &self.0 {
            *out.entry(key.func).or_insert(0) += n;
        }
        out
    }

    /// Entries of the functions `funcs` together, per process.
    pub fn per_process(&self, funcs: &[u32]) -> HashMap<u32, u64> {
        let mut out = HashMap::new();
        for (key, n) in self.0.iter().filter(|(k, _)| funcs.contains(&k.func)) {
            *out.entry(key.tgid).or_insert(0) += n;
        }
        out
    }
}

// --- DROPS ---------------------------------------------------------------------------------

/// `DROPS`: how often each reason lost something so far, every reason (zero or not).
pub fn drops(attached: &Attached) -> Result<Vec<(Drop, u64)>> {
    let array: PerCpuArray<_, u64> = PerCpuArray::try_from(map(attached, names::DROPS)?)?;
    Drop::ALL
        .iter()
        .map(|&d| Ok((d, array.get(&(d as u32), 0)?.iter().sum())))
        .collect()
}

// --- WINDOW_CONTROL, WINDOW_COUNTS, SAMPLES, OFFCPU, STACKS_0/1 ----------------------------

/// `WINDOW_CONTROL`: the window and stack epoch the kernel side records into.
pub fn set_window(attached: &mut Attached, control: WindowControl) -> Result<()> {
    let mut array: Array<_, WindowControl> =
        Array::try_from(map_mut(attached, names::WINDOW_CONTROL)?)?;
    array
        .set(0, control, 0)
        .context("writing the window control")
}

/// `WINDOW_COUNTS`: the counts of window `gen`'s bank, summed over CPUs, then zeroed. Only for
/// a window nothing records into any more (see `tracer_common::window`).
pub fn take_window_counts(attached: &mut Attached, gen: u32) -> Result<HashMap<u32, u64>> {
    let mut array: PerCpuArray<_, u64> =
        PerCpuArray::try_from(map_mut(attached, names::WINDOW_COUNTS)?)?;
    let cpus = aya::util::nr_cpus().map_err(|(_, e)| e)?;
    let mut out = HashMap::new();
    for what in WINDOW_COUNTS {
        let i = window_count_index(gen, what);
        out.insert(what as u32, array.get(&i, 0)?.iter().sum());
        array.set(i, PerCpuValues::try_from(vec![0u64; cpus])?, 0)?;
    }
    Ok(out)
}

/// Every count a window keeps.
const WINDOW_COUNTS: [WindowCount; WINDOW_COUNTS_PER_BANK as usize] = [
    WindowCount::SamplesTaken,
    WindowCount::SamplesLostMapFull,
    WindowCount::OffCpuTaken,
    WindowCount::OffCpuLostMapFull,
    WindowCount::OffCpuLostNoThreadState,
];

/// Reads and deletes the entries of a per-CPU hash map that `old` selects (per-CPU values
/// folded by `sum`). Only for entries nothing writes any more.
fn drain_per_cpu<K: aya::Pod, V: aya::Pod>(
    attached: &mut Attached,
    name: &str,
    old: impl Fn(&K) -> bool,
    sum: impl Fn(&[V]) -> V,
) -> Result<Vec<(K, V)>> {
    let mut map: PerCpuHashMap<_, K, V> = PerCpuHashMap::try_from(map_mut(attached, name)?)
        .with_context(|| format!("opening map {name}"))?;
    let keys: Vec<K> = map
        .keys()
        .collect::<Result<Vec<K>, _>>()
        .with_context(|| format!("reading map {name}"))?
        .into_iter()
        .filter(|k| old(k))
        .collect();
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let values = map
            .get(&k, 0)
            .with_context(|| format!("reading map {name}"))?;
        out.push((k, sum(&values)));
        map.remove(&k)
            .with_context(|| format!("deleting from map {name}"))?;
    }
    Ok(out)
}

/// `SYSCALL_STATS` entries of the processes `tgids`, deleted as read (they exited:
/// nothing writes them any more).
pub fn take_syscall_stats_of(
    attached: &mut Attached,
    tgids: &HashSet<u32>,
) -> Result<Vec<(SyscallKey, SyscallStats)>> {
    drain_per_cpu(
        attached,
        names::SYSCALL_STATS,
        |k: &SyscallKey| tgids.contains(&k.tgid),
        sum_syscall_stats,
    )
}

/// `FILE_STATS` entries of the processes `tgids`, deleted as read (they exited).
pub fn take_file_stats_of(
    attached: &mut Attached,
    tgids: &HashSet<u32>,
) -> Result<Vec<(FileKey, SyscallStats)>> {
    drain_per_cpu(
        attached,
        names::FILE_STATS,
        |k: &FileKey| tgids.contains(&k.tgid),
        sum_syscall_stats,
    )
}

/// `FUNC_STATS` entries of the processes `tgids`, deleted as read (they exited).
pub fn take_function_stats_of(
    attached: &mut Attached,
    tgids: &HashSet<u32>,
) -> Result<Vec<(FuncKey, FuncStats)>> {
    drain_per_cpu(
        attached,
        names::FUNC_STATS,
        |k: &FuncKey| tgids.contains(&k.tgid),
        sum_func_stats,
    )
}

/// `SAMPLES`: the on-CPU sample counts of windows before `current`, deleted as read.
pub fn drain_samples(attached: &mut Attached, current: u32) -> Result<Vec<(SampleKey, u64)>> {
    drain_per_cpu(
        attached,
        names::SAMPLES,
        |k: &SampleKey| k.gen != current,
        |v: &[u64]| v.iter().sum(),
    )
}

/// `OFFCPU`: the blocked time of windows before `current`, deleted as read.
pub fn drain_offcpu(
    attached: &mut Attached,
    current: u32,
) -> Result<Vec<(OffCpuKey, OffCpuValue)>> {
    drain_per_cpu(
        attached,
        names::OFFCPU,
        |k: &OffCpuKey| k.gen != current,
        |v: &[OffCpuValue]| OffCpuValue {
            total_ns: v.iter().map(|x| x.total_ns).sum(),
            count: v.iter().map(|x| x.count).sum(),
        },
    )
}

/// `THREAD_SITES`: threads created per (process, creating thread name, creating user stack)
/// in windows before `current`, deleted as read.
pub fn drain_thread_sites(
    attached: &mut Attached,
    current: u32,
) -> Result<Vec<(ThreadSiteKey, u64)>> {
    drain_per_cpu(
        attached,
        names::THREAD_SITES,
        |k: &ThreadSiteKey| k.gen != current,
        |v: &[u64]| v.iter().sum(),
    )
}

/// `EXITS`: how traced processes ended, by tgid.
pub fn exits(attached: &Attached) -> Result<Vec<(u32, ExitRecord)>> {
    let table: BpfHashMap<_, u32, ExitRecord> = BpfHashMap::try_from(map(attached, names::EXITS)?)?;
    Ok(table.iter().filter_map(|r| r.ok()).collect())
}

/// The stack map of `stack_epoch`'s parity.
fn stack_map_name(stack_epoch: u32) -> &'static str {
    if stack_map_of(stack_epoch) == 0 {
        names::STACKS_0
    } else {
        names::STACKS_1
    }
}

/// `STACKS_0` and `STACKS_1`, read lazily by (epoch, id) with a cache (samples share stacks).
pub struct Stacks<'a> {
    maps: [StackTraceMap<&'a MapData>; 2],
    /// The stack epoch being recorded; ids of this epoch and the one before are readable.
    epoch: u32,
    cache: HashMap<(u32, i32), Option<Vec<u64>>>,
}

/// Opens both stack maps for reading; `epoch` is the stack epoch being recorded.
pub fn stacks(attached: &Attached, epoch: u32) -> Result<Stacks<'_>> {
    Ok(Stacks {
        maps: [
            StackTraceMap::try_from(map(attached, names::STACKS_0)?)?,
            StackTraceMap::try_from(map(attached, names::STACKS_1)?)?,
        ],
        epoch,
        cache: HashMap::new(),
    })
}

/// What became of a stack id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackLookup {
    /// No stack (negative id).
    None,
    /// Its epoch's map was cleared since (a thread blocked for two stack epochs).
    Expired,
    /// Not in its map (the kernel could not store it).
    Missing,
    Ips(Vec<u64>),
}

impl Stacks<'_> {
    /// The instruction pointers (leaf first) of stack `id` of `epoch`.
    pub fn lookup(&mut self, epoch: u32, id: i32) -> StackLookup {
        if id < 0 {
            return StackLookup::None;
        }
        if epoch != self.epoch && epoch.wrapping_add(1) != self.epoch {
            return StackLookup::Expired;
        }
        let map = &self.maps[stack_map_of(epoch) as usize];
        match self
            .cache
            .entry((epoch, id))
            .or_insert_with(|| {
                map.get(&(id as u32), 0)
                    .ok()
                    .map(|st| st.frames().iter().map(|f| f.ip).collect())
            })
            .clone()
        {
            Some(ips) => StackLookup::Ips(ips),
            None => StackLookup::Missing,
        }
    }
}

/// Deletes every stack of the stack map of `stack_epoch`'s parity.
pub fn clear_stacks(attached: &mut Attached, stack_epoch: u32) -> Result<()> {
    let mut stacks = StackTraceMap::try_from(map_mut(attached, stack_map_name(stack_epoch))?)?;
    let ids: Vec<u32> = stacks.stack_ids().filter_map(|k| k.ok()).collect();
    for id in ids {
        let _ = stacks.remove(&id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::mem::size_of;
    use tracer_common::{ThreadState, DROP_REASONS, STACK_DEPTH};

    fn object() -> aya_obj::Object {
        aya_obj::Object::parse(super::super::attach::EBPF_OBJECT)
            .expect("tracer's embedded eBPF object parses")
    }

    #[test]
    fn the_object_declares_exactly_the_maps_of_the_contract() {
        let obj = object();
        // `.rodata`, `.bss`, `.data`: the loader's maps for globals (`UPROBES_ON`).
        let declared: BTreeSet<&str> = obj
            .maps
            .keys()
            .map(String::as_str)
            .filter(|n| !n.starts_with('.'))
            .collect();
        let contract: BTreeSet<&str> = names::ALL.iter().copied().collect();
        assert_eq!(declared, contract);
        assert_eq!(contract.len(), names::ALL.len(), "a name is listed twice");
    }

    #[test]
    fn every_map_has_the_key_and_value_sizes_of_its_types() {
        let obj = object();
        let sizes = |name: &str| {
            let m = &obj.maps[name];
            (m.key_size() as usize, m.value_size() as usize)
        };
        let expect: &[(&str, usize, usize)] = &[
            (names::TARGETS, size_of::<u32>(), size_of::<TargetInfo>()),
            (names::TARGET_ADDS, size_of::<u32>(), size_of::<u64>()),
            (
                names::SYSCALL_STATS,
                size_of::<SyscallKey>(),
                size_of::<SyscallStats>(),
            ),
            (
                names::FILE_STATS,
                size_of::<FileKey>(),
                size_of::<SyscallStats>(),
            ),
            (names::FDS, size_of::<FdKey>(), size_of::<FdInfo>()),
            (names::PATHS, size_of::<u64>(), size_of::<BpfPath>()),
            (
                names::STACKS_0,
                size_of::<u32>(),
                STACK_DEPTH as usize * size_of::<u64>(),
            ),
            (
                names::STACKS_1,
                size_of::<u32>(),
                STACK_DEPTH as usize * size_of::<u64>(),
            ),
            (names::SAMPLES, size_of::<SampleKey>(), size_of::<u64>()),
            (
                names::WINDOW_CONTROL,
                size_of::<u32>(),
                size_of::<WindowControl>(),
            ),
            (names::WINDOW_COUNTS, size_of::<u32>(), size_of::<u64>()),
            (
                names::FUNC_STATS,
                size_of::<FuncKey>(),
                size_of::<FuncStats>(),
            ),
            (
                names::OFFCPU,
                size_of::<OffCpuKey>(),
                size_of::<OffCpuValue>(),
            ),
            (
                names::BLOCK_INFLIGHT,
                size_of::<tracer_common::BlockReq>(),
                size_of::<u64>(),
            ),
            (
                names::BLOCK_LATENCY,
                size_of::<u32>(),
                size_of::<SyscallStats>(),
            ),
            (names::DROPS, size_of::<u32>(), size_of::<u64>()),
            (
                names::THREAD_SITES,
                size_of::<ThreadSiteKey>(),
                size_of::<u64>(),
            ),
            (names::EXITS, size_of::<u32>(), size_of::<ExitRecord>()),
            (names::ZERO_EXIT, size_of::<u32>(), size_of::<ExitRecord>()),
            (names::THREADS, size_of::<i32>(), size_of::<ThreadState>()),
            (
                names::ZERO_STATS,
                size_of::<u32>(),
                size_of::<SyscallStats>(),
            ),
            (names::ZERO_FUNC, size_of::<u32>(), size_of::<FuncStats>()),
            (names::PATH_SCRATCH, size_of::<u32>(), size_of::<BpfPath>()),
        ];
        assert_eq!(expect.len(), names::ALL.len(), "every map is checked");
        for &(name, key, value) in expect {
            assert_eq!(sizes(name), (key, value), "map {name}: (key, value) bytes");
        }
        assert_eq!(obj.maps[names::DROPS].max_entries(), DROP_REASONS);
    }

    #[test]
    fn the_load_time_global_is_a_symbol_of_the_object() {
        use object::{Object, ObjectSymbol};
        let file = object::File::parse(super::super::attach::EBPF_OBJECT).unwrap();
        let sym = file
            .symbol_by_name(names::UPROBES_ON)
            .expect("UPROBES_ON, which Attached::load overrides, is in the object");
        assert_eq!(sym.size(), size_of::<u32>() as u64);
    }

    #[test]
    fn function_entries_add_up_per_function_and_per_process() {
        let e = FunctionEntries(vec![
            (FuncKey { tgid: 10, func: 0 }, 5),
            (FuncKey { tgid: 11, func: 0 }, 7),
            (FuncKey { tgid: 10, func: 1 }, 1),
            (FuncKey { tgid: 11, func: 2 }, 100),
        ]);
        assert_eq!(e.per_function(), HashMap::from([(0, 12), (1, 1), (2, 100)]));
        assert_eq!(e.per_process(&[0, 1]), HashMap::from([(10, 6), (11, 7)]));
        assert_eq!(e.per_process(&[]), HashMap::new());
    }

    #[test]
    fn per_cpu_sums_add_counts_and_keep_the_largest_max() {
        let mut a = sum_syscall_stats(&[]);
        a.count = 2;
        a.max_ns = 50;
        a.hist[3] = 2;
        let mut b = a;
        b.count = 1;
        b.max_ns = 90;
        b.hist[3] = 1;
        let s = sum_syscall_stats(&[a, b]);
        assert_eq!((s.count, s.max_ns, s.hist[3]), (3, 90, 3));
    }
}
