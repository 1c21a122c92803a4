//! Reading the kernel maps (through [`super::maps`]) into plain values ([`KernelData`]).

use anyhow::Result;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tracer_common::{
    Drop, FuncKey, FuncStats, SyscallStats, WindowControl, WindowCount, STACK_EPOCH_FILL,
};

use super::retired::{self, Retired};
use super::{attach::Attached, maps, maps::StackLookup};
use crate::model::{Accounting, FdKind, Stats, Tally};

/// Everything the kernel side has aggregated so far.
#[derive(Debug, Default, Clone)]
pub struct KernelData {
    /// (tgid, syscall nr, fd kind, layer id) -> stats
    pub syscalls: Vec<(u32, u32, FdKind, u32, Stats)>,
    pub functions: Vec<FuncCalls>,
    /// Syscalls on files (and opens of files) per (process, syscall, path, layer, flags).
    pub files: Vec<RawFile>,
    /// path id -> path as opened
    pub paths: HashMap<u64, String>,
    pub drops: BTreeMap<String, u64>,
    /// Samples taken in traced processes (recorded or not), in the drained window.
    pub samples_taken: u64,
    /// The drained window's samples and blocked intervals: taken, recorded, lost.
    pub accounting: Accounting,
    pub samples: Vec<RawSample>,
    pub offcpu: Vec<RawOffCpu>,
    /// Block-request latency per kernel dev_t.
    pub block_latency: Vec<(u32, Stats)>,
    /// Threads created since the last drain, per creating stack.
    pub thread_sites: Vec<RawThreadSite>,
    /// How traced processes ended (cumulative, not drained).
    pub exits: Vec<(u32, tracer_common::ExitRecord)>,
}

/// One `FILE_STATS` row.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFile {
    pub tgid: u32,
    pub nr: u32,
    pub path_id: u64,
    /// Layer id (0: none).
    pub layer: u32,
    /// `tracer_common::FILE_OPEN_TRUNC` or 0.
    pub flags: u32,
    pub stats: Stats,
}

impl RawFile {
    /// What identifies the row between two reads.
    pub fn key(&self) -> (u32, u32, u64, u32, u32) {
        (self.tgid, self.nr, self.path_id, self.layer, self.flags)
    }
}

/// Threads created by one thread name at one user stack (leaf first).
#[derive(Debug, Clone)]
pub struct RawThreadSite {
    pub tgid: u32,
    pub thread: String,
    pub user_ips: Option<Vec<u64>>,
    pub count: u64,
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

pub fn thread_name(comm: &[u8; 16]) -> String {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    String::from_utf8_lossy(&comm[..end]).into_owned()
}

/// Reads every counter map (cumulative: a window is the difference of two reads), with the
/// entries of processes that exited (moved to `retired`) added back. Moves the paths stored
/// since the last read into `retired`. Samples and blocked time are drained by
/// [`WindowSwitch::drain`].
pub fn read(attached: &mut Attached, retired: &mut Retired) -> Result<KernelData> {
    let mut data = KernelData::default();
    let syscalls = retired::merged(
        maps::syscall_stats(attached)?,
        &retired.syscalls,
        maps::sum_syscall_stats,
    );
    for (key, s) in syscalls {
        let kind = FdKind::from(tracer_common::FdKind::from_u32(key.fd_kind));
        data.syscalls
            .push((key.tgid, key.nr, kind, key.layer, stats_of(&s)));
    }
    let files = retired::merged(
        maps::file_stats(attached)?,
        &retired.files,
        maps::sum_syscall_stats,
    );
    for (key, s) in files {
        data.files.push(RawFile {
            tgid: key.tgid,
            nr: key.nr,
            path_id: key.path_id,
            layer: key.layer,
            flags: key.flags,
            stats: stats_of(&s),
        });
    }
    data.exits = maps::exits(attached)?;
    retired.take_paths(attached)?;
    data.paths = retired.paths.clone();
    for (reason, n) in maps::drops(attached)? {
        data.drops.insert(reason.name().to_string(), n);
    }
    data.functions = retired::merged(
        maps::function_stats(attached)?,
        &retired.functions,
        maps::sum_func_stats,
    )
    .iter()
    .map(|(key, v)| calls_of(*key, v))
    .collect();
    for (dev, s) in maps::block_latency(attached)? {
        data.block_latency.push((dev, stats_of(&s)));
    }
    data.leave_out(attached.forgotten());
    Ok(data)
}

impl KernelData {
    /// Drops the records of the processes `pids` (see `Attached::forget_target`). The
    /// window's `samples_taken` and accounting cannot be split by process and still count
    /// their samples: a process is forgotten for running no Raft code in its first second, so
    /// few if any.
    pub fn leave_out(&mut self, pids: &std::collections::HashSet<u32>) {
        if pids.is_empty() {
            return;
        }
        self.syscalls.retain(|r| !pids.contains(&r.0));
        self.files.retain(|r| !pids.contains(&r.tgid));
        self.functions.retain(|f| !pids.contains(&f.tgid));
        self.samples.retain(|s| !pids.contains(&s.tgid));
        self.offcpu.retain(|o| !pids.contains(&o.tgid));
        self.thread_sites.retain(|t| !pids.contains(&t.tgid));
        self.exits.retain(|(tgid, _)| !pids.contains(tgid));
    }
}

/// How long user space waits after moving the window on before it reads the old one. The
/// programs that write `SAMPLES`, `OFFCPU`, `THREAD_SITES` and `WINDOW_COUNTS` (the perf-event
/// overflow handler, `sched_switch`, `task_newtask`) run with preemption off and take microseconds: one that read the
/// old window before the switch has finished long before this.
const GRACE: Duration = Duration::from_millis(5);

/// User space's half of the generation switch (`tracer_common::window`): the window and stack
/// epoch the kernel side records into, and the distinct stacks seen in the current epoch.
#[derive(Debug, Default)]
pub struct WindowSwitch {
    gen: u32,
    stack_epoch: u32,
    seen: HashSet<i32>,
}

impl WindowSwitch {
    /// Ends the window being recorded: moves the kernel side to the next one, then reads and
    /// deletes the ended window's samples, blocked intervals and thread creations (nothing
    /// writes them any more) into `data`, with their counts of events taken and lost. Starts
    /// the next stack epoch when the current stack map holds [`STACK_EPOCH_FILL`] distinct
    /// stacks.
    pub fn drain(&mut self, attached: &mut Attached, data: &mut KernelData) -> Result<()> {
        let ended = self.gen;
        self.gen = self.gen.wrapping_add(1);
        self.control(attached)?;
        std::thread::sleep(GRACE);
        let counts = maps::take_window_counts(attached, ended)?;
        let samples = maps::drain_samples(attached, self.gen)?;
        let offcpu = maps::drain_offcpu(attached, self.gen)?;
        let thread_sites = maps::drain_thread_sites(attached, self.gen)?;
        let count = |w: WindowCount| counts.get(&(w as u32)).copied().unwrap_or(0);
        let lost = |pairs: &[(Drop, WindowCount)]| -> BTreeMap<String, u64> {
            pairs
                .iter()
                .map(|(d, w)| (d.name().to_string(), count(*w)))
                .collect()
        };
        let mut acc = Accounting {
            samples: Tally {
                taken: count(WindowCount::SamplesTaken),
                lost: lost(&[(Drop::SampleMapFull, WindowCount::SamplesLostMapFull)]),
                ..Tally::default()
            },
            offcpu: Tally {
                taken: count(WindowCount::OffCpuTaken),
                lost: lost(&[
                    (Drop::OffCpuMapFull, WindowCount::OffCpuLostMapFull),
                    (
                        Drop::ThreadStateFailed,
                        WindowCount::OffCpuLostNoThreadState,
                    ),
                ]),
                ..Tally::default()
            },
        };
        let mut stacks = maps::stacks(attached, self.stack_epoch)?;
        let epoch = self.stack_epoch;
        let seen = &mut self.seen;
        let mut ips = |stacks: &mut maps::Stacks, e: u32, id: i32| {
            if e == epoch && id >= 0 {
                seen.insert(id);
            }
            stacks.lookup(e, id)
        };
        for (key, v) in offcpu {
            let user = if key.user_stack == tracer_common::STACK_IP_ONLY {
                StackLookup::Ips(vec![key.user_ip])
            } else {
                ips(&mut stacks, key.stack_epoch, key.user_stack)
            };
            if user == StackLookup::Expired {
                acc.offcpu.stacks_expired += v.count;
            }
            acc.offcpu.recorded += v.count;
            data.offcpu.push(RawOffCpu {
                tgid: key.tgid,
                thread: thread_name(&key.comm),
                layer: key.layer,
                reason: key.reason,
                futex_op: key.futex_op,
                user_ips: ips_of(user),
                kernel_ips: ips_of(ips(&mut stacks, key.stack_epoch, key.kernel_stack)),
                total_ns: v.total_ns,
                count: v.count,
            });
        }
        for (key, count) in samples {
            acc.samples.recorded += count;
            data.samples.push(RawSample {
                tgid: key.tgid,
                thread: thread_name(&key.comm),
                layer: key.layer,
                user_ips: ips_of(ips(&mut stacks, key.stack_epoch, key.user_stack)),
                kernel_ips: ips_of(ips(&mut stacks, key.stack_epoch, key.kernel_stack)),
                count,
            });
        }
        for (key, count) in thread_sites {
            data.thread_sites.push(RawThreadSite {
                tgid: key.tgid,
                thread: thread_name(&key.comm),
                user_ips: ips_of(ips(&mut stacks, key.stack_epoch, key.user_stack)),
                count,
            });
        }
        drop(stacks);
        // Processes discovery judged not nodes: their samples leave the data (the window's
        // accounting still counts them as recorded: the kernel did record them).
        data.leave_out(attached.forgotten());
        data.samples_taken = acc.samples.taken;
        data.accounting = acc;
        if self.seen.len() >= STACK_EPOCH_FILL as usize {
            let next = self.stack_epoch.wrapping_add(1);
            // The map `next` fills holds the epoch before the current one: only threads
            // blocked since then still refer to it, and their stacks are counted as expired.
            maps::clear_stacks(attached, next)?;
            self.stack_epoch = next;
            self.seen.clear();
            self.control(attached)?;
        }
        Ok(())
    }

    fn control(&self, attached: &mut Attached) -> Result<()> {
        maps::set_window(
            attached,
            WindowControl {
                gen: self.gen,
                stack_epoch: self.stack_epoch,
            },
        )
    }
}

fn ips_of(l: StackLookup) -> Option<Vec<u64>> {
    match l {
        StackLookup::Ips(ips) => Some(ips),
        _ => None,
    }
}
