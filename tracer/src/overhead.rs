//! tracer's own cost: its CPU time and memory (from /proc/self) and the kernel-side run time
//! of its BPF programs, so the report and the metrics can say what tracing cost.

use crate::attach::Attached;
use crate::output::metrics::SelfOverhead;

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised comm: state is field 3; utime and stime are 14 and 15.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / hz
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
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Everything tracing has cost so far.
pub fn measure(attached: &Attached) -> SelfOverhead {
    SelfOverhead {
        tracer_cpu_seconds: cpu_seconds(),
        tracer_rss_bytes: rss_bytes(),
        bpf_programs: attached.program_stats(),
    }
}

/// One line for the report's notes.
pub fn describe(o: &SelfOverhead, duration_s: f64) -> String {
    let runs: u64 = o.bpf_programs.iter().map(|p| p.1).sum();
    let bpf_s: f64 = o.bpf_programs.iter().map(|p| p.2).sum::<u64>() as f64 / 1e9;
    let top: Vec<String> = {
        let mut v = o.bpf_programs.clone();
        v.sort_by_key(|p| std::cmp::Reverse(p.2));
        v.iter()
            .take(3)
            .map(|(n, r, t)| format!("{n} {r} runs {:.3} s", *t as f64 / 1e9))
            .collect()
    };
    format!(
        "tracer's own cost: {:.2} CPU-s in user space ({:.1}% of one CPU), RSS {:.1} MiB; its BPF \
         programs ran {runs} times for {bpf_s:.3} s in the kernel ({:.1}% of one CPU){}",
        o.tracer_cpu_seconds,
        100.0 * o.tracer_cpu_seconds / duration_s.max(1e-9),
        o.tracer_rss_bytes as f64 / (1024.0 * 1024.0),
        100.0 * bpf_s / duration_s.max(1e-9),
        if top.is_empty() {
            String::new()
        } else {
            format!(" (most: {})", top.join(", "))
        }
    )
}

/// The model's view of [`SelfOverhead`].
pub fn self_cost(o: &SelfOverhead) -> crate::model::SelfCost {
    crate::model::SelfCost {
        tracer_cpu_seconds: o.tracer_cpu_seconds,
        tracer_rss_bytes: o.tracer_rss_bytes,
        bpf_runs: o.bpf_programs.iter().map(|p| p.1).sum(),
        bpf_run_ns: o.bpf_programs.iter().map(|p| p.2).sum(),
    }
}
