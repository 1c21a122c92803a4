//! tracer's own cost: its CPU time and memory (from /proc/self) and the kernel-side run time
//! of its BPF programs, so the report and the metrics can say what tracing cost.
//!
//! The kernel's BPF run-time statistics are not free: with them on, every run of every BPF
//! program on the machine reads the clock twice and updates a counter. Measured on this
//! project's VMs, that is ~75 ns per program run (bpftrace's two filtered-out syscall
//! programs: 373 -> 529 ns per getppid with `kernel.bpf_stats_enabled=1`), i.e. ~150 ns on
//! every syscall of the machine: more than half of what tracer's own syscall programs cost.
//! So [`BpfCostMeter`] switches them on for [`SLICE`] out of every [`PERIOD`] and reports the
//! share of a CPU measured in those slices.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use crate::kernel::attach::Attached;
use crate::model::SelfCost;

/// How long BPF statistics stay on in each period.
pub const SLICE: Duration = Duration::from_secs(1);
/// A slice starts every period.
pub const PERIOD: Duration = Duration::from_secs(10);
/// The first slice starts this long after tracing starts, so that a short run (a benchmark's
/// `tracer run -- CMD` loop) is not measured with statistics on for most of its life.
pub const FIRST_SLICE_AT: Duration = Duration::from_secs(2);

/// A measurement slice in progress: the fd that keeps statistics on, when it began, and each
/// program's (runs, ns) then.
type Slice = (OwnedFd, Instant, BTreeMap<String, (u64, u64)>);

/// Samples the kernel-side cost of tracer's BPF programs (see the module doc).
#[derive(Default)]
pub struct BpfCostMeter {
    slice: Option<Slice>,
    /// When the next slice starts.
    next_start: Option<Instant>,
    /// Per program: runs and run time (ns) summed over the finished slices.
    sampled: BTreeMap<String, (u64, u64)>,
    /// Wall time the finished slices covered.
    sampled_s: f64,
}

impl BpfCostMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a slice when one is due, ends the one in progress when it has lasted [`SLICE`].
    pub fn tick(&mut self, attached: &Attached) {
        match &self.slice {
            Some((_, started, _)) if started.elapsed() >= SLICE => self.end_slice(attached),
            Some(_) => {}
            None => match self.next_start {
                None => self.next_start = Some(Instant::now() + FIRST_SLICE_AT),
                Some(t) if Instant::now() >= t => self.start_slice(attached),
                Some(_) => {}
            },
        }
    }

    /// Ends the slice in progress, if any (the end of the run).
    pub fn finish(&mut self, attached: &Attached) {
        if self.slice.is_some() {
            self.end_slice(attached);
        }
    }

    fn start_slice(&mut self, attached: &Attached) {
        self.next_start = Some(Instant::now() + PERIOD);
        // Without statistics (an old kernel) nothing is sampled and the report says so.
        if let Some(fd) = crate::kernel::attach::enable_bpf_stats() {
            let before = per_program(attached);
            self.slice = Some((fd, Instant::now(), before));
        }
    }

    fn end_slice(&mut self, attached: &Attached) {
        let Some((fd, started, before)) = self.slice.take() else {
            return;
        };
        let after = per_program(attached);
        let seconds = started.elapsed().as_secs_f64();
        drop(fd);
        for (name, (runs, ns)) in after {
            let (r0, n0) = before.get(&name).copied().unwrap_or((0, 0));
            let e = self.sampled.entry(name).or_default();
            e.0 += runs.saturating_sub(r0);
            e.1 += ns.saturating_sub(n0);
        }
        self.sampled_s += seconds;
    }

    /// Per program (name, runs, ns) summed over the finished slices, and their wall time.
    pub fn sampled(&self) -> (Vec<(String, u64, u64)>, f64) {
        let programs = self
            .sampled
            .iter()
            .filter(|(_, (runs, _))| *runs > 0)
            .map(|(n, (r, t))| (n.clone(), *r, *t))
            .collect();
        (programs, self.sampled_s)
    }
}

fn per_program(attached: &Attached) -> BTreeMap<String, (u64, u64)> {
    attached
        .program_stats()
        .into_iter()
        .map(|(n, r, t)| (n, (r, t)))
        .collect()
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised comm: state is field 3; utime and stime are 14 and 15.
    let Some(f) = crate::target::procfs::stat_fields(&stat) else {
        return 0.0;
    };
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) as f64 + ticks(12) as f64) / hz
}

/// Resident memory of this process, bytes.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb.saturating_mul(1024))
        .unwrap_or(0)
}

/// Everything tracing has cost so far (BPF run time: over the slices measured so far).
pub fn measure(meter: &BpfCostMeter) -> SelfCost {
    let (bpf_programs, bpf_sampled_seconds) = meter.sampled();
    SelfCost {
        tracer_cpu_seconds: cpu_seconds(),
        tracer_rss_bytes: rss_bytes(),
        bpf_programs,
        bpf_sampled_seconds,
        kernel_maps: vec![],
    }
}

/// One line for the report's notes.
pub fn describe(o: &SelfCost, duration_s: f64) -> String {
    let runs: u64 = o.bpf_programs.iter().map(|p| p.1).sum();
    let bpf_ns: u64 = o.bpf_programs.iter().map(|p| p.2).sum();
    let sampled = o.bpf_sampled_seconds;
    let top: Vec<String> = {
        let mut v = o.bpf_programs.clone();
        v.sort_by_key(|p| std::cmp::Reverse(p.2));
        v.iter()
            .take(3)
            .map(|(n, r, t)| format!("{n} {:.1}% at {} ns/run", pct(*t, sampled), t / r.max(&1)))
            .collect()
    };
    let bpf = if sampled <= 0.0 {
        format!(
            "its BPF programs' run time was not measured (no measurement slice ran: the first \
             starts {} s in, and kernel BPF statistics must be available)",
            FIRST_SLICE_AT.as_secs()
        )
    } else {
        format!(
            "its BPF programs used {:.1}% of one CPU in the kernel ({runs} runs, {:.3} s in the \
             {sampled:.1} s measured: BPF statistics are on {} s in every {} s, as they cost a \
             clock read per run{})",
            pct(bpf_ns, sampled),
            bpf_ns as f64 / 1e9,
            SLICE.as_secs(),
            PERIOD.as_secs(),
            if top.is_empty() {
                String::new()
            } else {
                format!("; most: {}", top.join(", "))
            }
        )
    };
    format!(
        "tracer's own cost: {:.2} CPU-s in user space ({:.1}% of one CPU), RSS {:.1} MiB; {bpf}",
        o.tracer_cpu_seconds,
        100.0 * o.tracer_cpu_seconds / duration_s.max(1e-9),
        o.tracer_rss_bytes as f64 / (1024.0 * 1024.0),
    )
}

/// `ns` of CPU time as a percentage of one CPU over `seconds`.
fn pct(ns: u64, seconds: f64) -> f64 {
    100.0 * ns as f64 / 1e9 / seconds.max(1e-9)
}
