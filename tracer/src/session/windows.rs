//! Continuous mode: the run is cut into windows. Counters stay cumulative in the kernel and a
//! window is the difference between two reads (exact, and the windows add up to the totals by
//! construction); stack samples and off-CPU records are drained every window so kernel memory
//! stays bounded over hours, through a generation switch that loses no increment
//! (`collect::WindowSwitch`, `tracer_common::window`), and user space keeps their running sum. Each window is written as `windows/window_NNNN.json` (bounded retention).

use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use crate::kernel::attach::Attached;
use crate::kernel::collect::{self, KernelData};
use crate::kernel::retired::Retired;
use crate::model::assemble;
use crate::model::{Accounting, CpuProfile, OffCpuRecord, ProcessInfo, Snapshot, Stats};
use crate::output::session_dir::SessionDir;
use crate::profile::probe_plan::{Detached, ProbePlan};
use crate::session::overhead::{self, BpfCostMeter};
use crate::symbols::symbolize::StackSymbolizer;

/// Subtracts `b` from `a`: counts, sums and buckets. `max_ns` cannot be subtracted: it stays
/// the maximum seen so far in the run.
pub fn stats_minus(a: &Stats, b: &Stats) -> Stats {
    let mut hist = a.hist.clone();
    for (x, y) in hist.iter_mut().zip(&b.hist) {
        *x = x.saturating_sub(*y);
    }
    Stats {
        count: a.count.saturating_sub(b.count),
        errors: a.errors.saturating_sub(b.errors),
        total_ns: a.total_ns.saturating_sub(b.total_ns),
        max_ns: a.max_ns,
        bytes: a.bytes.saturating_sub(b.bytes),
        hist,
        scale: a.scale,
    }
}

/// The part of cumulative `cur` that happened since `prev` (counters); drained data (samples,
/// off-CPU) is taken from `cur` as it is.
pub fn delta(cur: &KernelData, prev: &KernelData) -> KernelData {
    let sys_prev: HashMap<_, _> = prev
        .syscalls
        .iter()
        .map(|(p, n, k, l, s)| ((*p, *n, *k, *l), s))
        .collect();
    let file_prev: HashMap<_, _> = prev.files.iter().map(|f| (f.key(), &f.stats)).collect();
    let func_prev: HashMap<_, _> = prev
        .functions
        .iter()
        .map(|f| ((f.tgid, f.func), f))
        .collect();
    let block_prev: HashMap<_, _> = prev.block_latency.iter().map(|(d, s)| (*d, s)).collect();
    let zero = Stats::default();
    KernelData {
        syscalls: cur
            .syscalls
            .iter()
            .map(|(p, n, k, l, s)| {
                let b = sys_prev.get(&(*p, *n, *k, *l)).copied().unwrap_or(&zero);
                (*p, *n, *k, *l, stats_minus(s, b))
            })
            .filter(|r| r.4.count > 0)
            .collect(),
        files: cur
            .files
            .iter()
            .map(|f| {
                let b = file_prev.get(&f.key()).copied().unwrap_or(&zero);
                crate::kernel::collect::RawFile {
                    stats: stats_minus(&f.stats, b),
                    ..f.clone()
                }
            })
            .filter(|r| r.stats.count > 0)
            .collect(),
        functions: cur
            .functions
            .iter()
            .map(|f| {
                let mut d = f.clone();
                if let Some(b) = func_prev.get(&(f.tgid, f.func)) {
                    d.entries = f.entries.saturating_sub(b.entries);
                    d.returns = f.returns.saturating_sub(b.returns);
                    d.unmatched_returns = f.unmatched_returns.saturating_sub(b.unmatched_returns);
                    d.latency = stats_minus(&f.latency, &b.latency);
                }
                d
            })
            .filter(|f| f.entries + f.returns > 0)
            .collect(),
        paths: cur.paths.clone(),
        drops: cur
            .drops
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.saturating_sub(*prev.drops.get(k).unwrap_or(&0)),
                )
            })
            .collect(),
        samples_taken: cur.samples_taken,
        accounting: cur.accounting.clone(),
        samples: cur.samples.clone(),
        offcpu: cur.offcpu.clone(),
        thread_sites: cur.thread_sites.clone(),
        exits: cur.exits.clone(),
        block_latency: cur
            .block_latency
            .iter()
            .map(|(d, s)| {
                (
                    *d,
                    stats_minus(s, block_prev.get(d).copied().unwrap_or(&zero)),
                )
            })
            .collect(),
    }
}

/// (pid, thread name id, layer id, frame ids).
type InternedStack = (u32, u32, Option<u32>, Box<[u32]>);

/// Distinct stacks the running profile holds before it compacts (see
/// `ProfileAccumulator::compact`); compaction brings it back to three quarters of this.
/// At ~160 bytes a stack that is ~0.65 MiB: a 1-hour soak reached the cap within ~10 minutes
/// and stayed flat after, and memory must not grow more than 10% after the first window.
pub const MAX_ACCUMULATED_STACKS: usize = 4096;

/// Frame that replaces the kernel frames of rare stacks when the profile compacts.
pub const FOLDED_KERNEL: &str = "[kernel, folded]_[k]";
/// Frame that replaces the whole stack of rare stacks when folding kernel frames was not enough.
pub const FOLDED_STACK: &str = "[rare stacks, folded]";

/// The running sum of the windows' CPU profiles, kept compact: frame names and thread names
/// are interned, so a distinct stack costs a few dozen bytes instead of its strings. A long run
/// keeps meeting new stack variants, though — in one 10 s window of the loaded fixture, 776
/// distinct stacks among 1,297 samples, 631 of them seen once, mostly through 367 distinct
/// kernel paths — so its size is bounded too: past [`MAX_ACCUMULATED_STACKS`] the rarest
/// stacks are folded (counts stay exact; only their detail goes, and the run says how much).
#[derive(Default)]
pub struct ProfileAccumulator {
    freq_hz: u64,
    samples: u64,
    names: Vec<String>,
    ids: HashMap<String, u32>,
    /// (pid, thread, layer, frames) -> (count, user_truncated, walk_broke_in)
    stacks: HashMap<InternedStack, (u64, bool, Option<u32>)>,
    /// Samples whose kernel frames, or whole stack, were folded by compaction.
    folded_samples: u64,
}

impl ProfileAccumulator {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }

    /// Adds one window's profile.
    pub fn add(&mut self, w: &CpuProfile) {
        self.freq_hz = w.freq_hz;
        self.samples += w.samples;
        for s in &w.stacks {
            let thread = self.intern(&s.thread);
            let layer = s.layer.as_deref().map(|l| self.intern(l));
            let frames: Box<[u32]> = s.frames.iter().map(|f| self.intern(f)).collect();
            let broke = s.walk_broke_in.as_deref().map(|o| self.intern(o));
            let e = self
                .stacks
                .entry((s.pid, thread, layer, frames))
                .or_insert((0, s.user_truncated, broke));
            e.0 += s.count;
        }
        if self.stacks.len() > MAX_ACCUMULATED_STACKS {
            self.compact();
        }
    }

    /// Brings the number of distinct stacks under three quarters of the maximum: first the
    /// kernel frames of the rarest stacks (seen at most `limit` times, `limit` doubling as
    /// needed) become one [`FOLDED_KERNEL`] frame — kernel paths are where the long tail
    /// is —, then, if that is not enough, the rarest stacks become [`FOLDED_STACK`] under their
    /// thread. Sample counts per process, thread and layer never change.
    fn compact(&mut self) {
        let target = MAX_ACCUMULATED_STACKS * 3 / 4;
        let folded_kernel = self.intern(FOLDED_KERNEL);
        let folded_stack = self.intern(FOLDED_STACK);
        let is_kernel: Vec<bool> = self
            .names
            .iter()
            .map(|n| n.ends_with(crate::model::KERNEL_SUFFIX))
            .collect();
        for whole_stack in [false, true] {
            let mut limit = 1;
            while self.stacks.len() > target && limit <= u64::MAX / 2 {
                let old = std::mem::take(&mut self.stacks);
                for ((pid, thread, layer, frames), (count, truncated, broke)) in old {
                    let frames = if count > limit {
                        frames
                    } else if whole_stack {
                        if frames.as_ref() != [folded_stack] {
                            self.folded_samples += count;
                        }
                        Box::new([folded_stack]) as Box<[u32]>
                    } else {
                        let user: Vec<u32> = frames
                            .iter()
                            .copied()
                            .filter(|&f| !is_kernel.get(f as usize).copied().unwrap_or(false))
                            .collect();
                        if user.len() + 1 < frames.len() {
                            self.folded_samples += count;
                            user.into_iter().chain([folded_kernel]).collect()
                        } else {
                            frames
                        }
                    };
                    let e = self
                        .stacks
                        .entry((pid, thread, layer, frames))
                        .or_insert((0, truncated, broke));
                    e.0 += count;
                }
                limit *= 2;
                if !whole_stack && limit > 1 << 20 {
                    break;
                }
            }
        }
    }

    /// Samples whose stacks lost detail to compaction (see `compact`).
    pub fn folded_samples(&self) -> u64 {
        self.folded_samples
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.samples == 0 && self.stacks.is_empty()
    }

    /// Sample totals per (process, layer), each as one frameless stack: what the metrics
    /// endpoint serves every window, without materialising every stack's frames as strings
    /// (that transient grew with the run and kept the resident size growing).
    pub fn layer_totals(&self) -> CpuProfile {
        let mut per: HashMap<(u32, Option<u32>), u64> = HashMap::new();
        for ((pid, _, layer, _), (count, _, _)) in &self.stacks {
            *per.entry((*pid, *layer)).or_default() += count;
        }
        CpuProfile {
            freq_hz: self.freq_hz,
            samples: self.samples,
            stacks: per
                .into_iter()
                .map(|((pid, layer), count)| crate::model::StackRecord {
                    pid,
                    thread: String::new(),
                    frames: Vec::new(),
                    count,
                    user_truncated: false,
                    walk_broke_in: None,
                    layer: layer.map(|id| self.names[id as usize].clone()),
                })
                .collect(),
        }
    }

    /// The summed profile.
    pub fn profile(&self) -> CpuProfile {
        let name = |id: &u32| self.names[*id as usize].clone();
        let mut stacks: Vec<crate::model::StackRecord> = self
            .stacks
            .iter()
            .map(
                |((pid, thread, layer, frames), (count, truncated, broke))| {
                    crate::model::StackRecord {
                        pid: *pid,
                        thread: name(thread),
                        frames: frames.iter().map(name).collect(),
                        count: *count,
                        user_truncated: *truncated,
                        walk_broke_in: broke.as_ref().map(name),
                        layer: layer.as_ref().map(name),
                    }
                },
            )
            .collect();
        stacks.sort_by(|a, b| b.count.cmp(&a.count).then(a.frames.cmp(&b.frames)));
        CpuProfile {
            freq_hz: self.freq_hz,
            samples: self.samples,
            stacks,
        }
    }
}

/// Adds window off-CPU records into the running ones.
pub fn merge_offcpu(acc: &mut Vec<OffCpuRecord>, w: &[OffCpuRecord]) {
    for r in w {
        match acc.iter_mut().find(|a| {
            a.pid == r.pid
                && a.thread == r.thread
                && a.layer == r.layer
                && a.reason == r.reason
                && a.futex_op == r.futex_op
                && a.frames == r.frames
        }) {
            Some(a) => {
                a.total_ns += r.total_ns;
                a.count += r.count;
            }
            None => acc.push(r.clone()),
        }
    }
}

/// Where windows go, and how many are kept. Windows are written and removed through the
/// session folder's descriptor ([`SessionDir`]): a symlink planted at the next window's name
/// is replaced, never written through, and rotation unlinks names, never link targets.
pub struct WindowWriter {
    session: SessionDir,
    keep: usize,
    next: u32,
}

pub const WINDOWS_DIR: &str = crate::output::layout::WINDOWS_DIR;

/// `windows/window_NNNN.EXT`, relative to the session folder.
fn window_file(n: usize, ext: &str) -> String {
    format!("{WINDOWS_DIR}/window_{n:04}.{ext}")
}

impl WindowWriter {
    pub fn new(session: SessionDir, keep: usize) -> WindowWriter {
        WindowWriter {
            session,
            keep,
            next: 1,
        }
    }

    /// Writes one window snapshot and removes the oldest beyond `keep`. Returns its path.
    pub fn write(&mut self, window: &Snapshot) -> Result<PathBuf> {
        let n = self.next as usize;
        // The number is used even when writing fails, so a later window never takes the name
        // of one that failed half-way.
        self.next += 1;
        let json = serde_json::to_vec(window).context("encoding a window snapshot")?;
        let path = self.session.write(&window_file(n, "json"), &json)?;
        // Each window's CPU profile in pprof format, for `go tool pprof` and Pyroscope.
        if window.profile.is_some() {
            self.session.write(
                &window_file(n, "pb.gz"),
                &crate::output::pprof::encode(window)?,
            )?;
        }
        if n > self.keep {
            let old = n - self.keep;
            let _ = self.session.remove(&window_file(old, "json"));
            let _ = self.session.remove(&window_file(old, "pb.gz"));
        }
        Ok(path)
    }

    /// Windows written (or attempted) so far.
    pub fn count(&self) -> u32 {
        self.next - 1
    }
}

/// Continuous mode: closes windows and keeps the running totals of drained data.
pub(super) struct WindowCloser {
    pub(super) last: Instant,
    started_at: String,
    /// Cumulative counters at the last window.
    prev: KernelData,
    pub(super) profile: ProfileAccumulator,
    offcpu: Vec<OffCpuRecord>,
    /// Threads created, summed over the windows.
    threads: Vec<crate::model::ThreadCreation>,
    writer: WindowWriter,
    /// Why the last window could not be written, until the session warns about it.
    write_error: Option<String>,
    /// `-F`, when sampling.
    sample_freq: Option<u64>,
    /// The generation switch that drains samples and blocked time without losing any.
    switch: collect::WindowSwitch,
    /// Counters of exited processes and paths, moved out of the kernel maps.
    retired: Retired,
    /// Events taken, recorded and lost, summed over the windows.
    accounting: Accounting,
    invocation: Vec<String>,
    /// `--host-label`, carried by every window and the metrics.
    host: String,
    /// What the run collects, recorded in every window.
    collected: crate::model::Collection,
}

impl WindowCloser {
    pub(super) fn new(opts: &super::RunOptions, folder: SessionDir) -> Self {
        WindowCloser {
            sample_freq: opts.kernel.sample_freq,
            invocation: opts.output.invocation.clone(),
            host: opts.output.host.clone(),
            collected: opts.kernel.collection(),
            last: Instant::now(),
            started_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            prev: KernelData::default(),
            profile: Default::default(),
            offcpu: Vec::new(),
            threads: Vec::new(),
            writer: WindowWriter::new(folder, opts.output.keep_windows),
            write_error: None,
            switch: Default::default(),
            retired: Retired::default(),
            accounting: Accounting::default(),
        }
    }

    pub(super) fn written(&self) -> u32 {
        self.writer.count()
    }

    /// Why the last window could not be written, once.
    pub(super) fn take_write_error(&mut self) -> Option<String> {
        self.write_error.take()
    }

    /// Reads the kernel maps, drains samples and stacks, writes the window's snapshot, adds
    /// it to the running totals. Returns the cumulative kernel data (counters).
    pub(super) fn close(
        &mut self,
        attached: &mut Attached,
        plan: &ProbePlan,
        detached: &[Detached],
        processes: &BTreeMap<u32, ProcessInfo>,
        symbolizer: &mut StackSymbolizer,
        bpf_cost: &BpfCostMeter,
    ) -> Result<KernelData> {
        let mut cur = collect::read(attached, &mut self.retired)?;
        self.switch.drain(attached, &mut cur)?;
        let d = delta(&cur, &self.prev);
        let accounting = d.accounting.clone();
        let offcpu = assemble::build_offcpu(&d.offcpu, plan, symbolizer);
        let threads = assemble::build_thread_creations(&d.thread_sites, symbolizer);
        let profile = self.sample_freq.map(|freq| {
            assemble::build_profile(&d.samples, d.samples_taken, freq, plan, symbolizer)
        });
        let seconds = self.last.elapsed().as_secs_f64();
        let mut window = assemble::build_snapshot(
            d,
            plan,
            detached,
            processes.values().cloned().collect(),
            Vec::new(),
            std::mem::replace(
                &mut self.started_at,
                chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            ),
            seconds,
            self.invocation.clone(),
        );
        window.host = self.host.clone();
        window.collected = Some(self.collected);
        window.offcpu = offcpu;
        window.profile = profile;
        self.accounting.add(&accounting);
        window.accounting = Some(accounting);
        window.threads_created = Some(threads);
        window.self_cost = Some(overhead::measure(bpf_cost));
        // A window that cannot be written (a full disk, a symlink planted at `windows/`) must
        // not cost the run: the session warns and goes on.
        if let Err(e) = self.writer.write(&window) {
            self.write_error = Some(format!("{e:#}"));
        }
        if let Some(p) = &window.profile {
            self.profile.add(p);
        }
        merge_offcpu(&mut self.offcpu, &window.offcpu);
        if let Some(t) = &window.threads_created {
            assemble::merge_thread_creations(&mut self.threads, t);
        }
        self.prev = KernelData {
            samples: Vec::new(),
            offcpu: Vec::new(),
            thread_sites: Vec::new(),
            ..cur.clone()
        };
        self.last = Instant::now();
        // A busy window's transient buffers would otherwise stay in the allocator's free
        // lists: give them back so the resident size reflects what tracer keeps, not its
        // busiest window.
        // SAFETY: malloc_trim only releases free memory.
        unsafe { libc::malloc_trim(0) };
        Ok(cur)
    }

    /// The run so far as one snapshot for the metrics endpoint: cumulative counters `cur` and
    /// CPU sample totals per node and layer summed over the windows (counters never go down).
    pub(super) fn cumulative(
        &self,
        cur: KernelData,
        plan: &ProbePlan,
        detached: &[Detached],
        processes: &BTreeMap<u32, ProcessInfo>,
        start: Instant,
    ) -> Snapshot {
        let mut s = assemble::build_snapshot(
            KernelData {
                samples: Vec::new(),
                offcpu: Vec::new(),
                ..cur
            },
            plan,
            detached,
            processes.values().cloned().collect(),
            Vec::new(),
            String::new(),
            start.elapsed().as_secs_f64(),
            Vec::new(),
        );
        s.host = self.host.clone();
        s.collected = Some(self.collected);
        // The metrics need sample totals per node and layer only (and no off-CPU records).
        s.profile = (!self.profile.is_empty()).then(|| self.profile.layer_totals());
        s
    }

    /// The run's profile and off-CPU records, summed over the windows.
    pub(super) fn totals(&mut self, sampling: bool) -> (Option<CpuProfile>, Vec<OffCpuRecord>) {
        (
            sampling.then(|| self.profile.profile()),
            std::mem::take(&mut self.offcpu),
        )
    }

    /// Moves the kernel state of `pids`, which exited, to user space (`kernel::retired`).
    pub(super) fn retire(
        &mut self,
        attached: &mut Attached,
        pids: &std::collections::HashSet<u32>,
    ) -> Result<()> {
        self.retired.retire(attached, pids)
    }

    /// Events taken, recorded and lost, summed over the windows.
    pub(super) fn accounting(&self) -> Accounting {
        self.accounting.clone()
    }

    /// The threads created during the run, summed over the windows, most first.
    pub(super) fn threads_created(&mut self) -> Vec<crate::model::ThreadCreation> {
        let mut t = std::mem::take(&mut self.threads);
        t.sort_by(|a, b| b.count.cmp(&a.count).then(a.pid.cmp(&b.pid)));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HistScale;

    fn st(count: u64, total: u64, hist: Vec<u64>) -> Stats {
        Stats {
            count,
            total_ns: total,
            max_ns: 9,
            hist,
            scale: HistScale::Log2,
            ..Stats::default()
        }
    }

    fn stack(pid: u32, thread: &str, frames: &[&str], count: u64) -> crate::model::StackRecord {
        crate::model::StackRecord::of(pid, thread, frames, count)
    }

    #[test]
    fn the_running_profile_stays_bounded_and_keeps_counts_and_common_stacks_exact() {
        let mut acc = ProfileAccumulator::default();
        let common = ["main", "Raft::applier()", "Raft::burnCpu(int)"];
        let mut total = 0;
        // Windows of one common stack and a long tail of one-off kernel paths.
        for w in 0..40u64 {
            // 500 new one-off stacks a window: 20,000 in all, far past the cap.
            let mut stacks = vec![stack(7, "applier", &common, 100)];
            for i in 0..500u64 {
                let k = format!("irq_{}_[k]", w * 500 + i);
                let leaf = format!("leaf_{}_[k]", i % 3);
                stacks.push(stack(
                    7,
                    "rpc-io",
                    &["main", "recv", "do_syscall_64_[k]", &k, &leaf],
                    1,
                ));
            }
            total += 100 + 500;
            acc.add(&CpuProfile {
                freq_hz: 99,
                samples: 600,
                stacks,
            });
        }
        assert!(
            acc.stacks.len() <= MAX_ACCUMULATED_STACKS,
            "{}",
            acc.stacks.len()
        );
        let p = acc.profile();
        assert_eq!(p.stacks.iter().map(|s| s.count).sum::<u64>(), total);
        assert_eq!(p.samples, 40 * 600);
        let applier = p.stacks.iter().find(|s| s.thread == "applier").unwrap();
        assert_eq!(applier.frames, common);
        assert_eq!(applier.count, 4000);
        let rpc: u64 = p
            .stacks
            .iter()
            .filter(|s| s.thread == "rpc-io")
            .map(|s| s.count)
            .sum();
        assert_eq!(rpc, 20_000);
        // What was folded kept its user frames and is counted.
        assert!(acc.folded_samples() > 0);
        assert!(p
            .stacks
            .iter()
            .any(|s| s.frames == ["main", "recv", FOLDED_KERNEL]));
    }

    #[test]
    fn windows_add_up_to_the_total() {
        let w1 = st(3, 30, vec![1, 2]);
        let total = st(10, 100, vec![4, 6]);
        let w2 = stats_minus(&total, &w1);
        let mut back = w1.clone();
        back.merge(&w2);
        assert_eq!(
            (back.count, back.total_ns, back.hist.clone()),
            (10, 100, vec![4, 6])
        );
    }
}
