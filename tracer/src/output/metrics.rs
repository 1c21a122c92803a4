//! A snapshot as Prometheus text exposition (format 0.0.4), so a cluster is watched by an
//! existing Prometheus + Grafana running one `tracer run --metrics` per host instead of by
//! anything home-made.
//!
//! The 0.0.4 text format is what Prometheus scrapes by default; the output also follows the
//! OpenMetrics rules that matter to parsers (`# HELP`/`# TYPE` before each family, families
//! contiguous, counters end in `_total`, histogram buckets cumulative with `le="+Inf"` equal to
//! `_count`). It has no `# EOF`: that belongs to the OpenMetrics content type only.
//!
//! Every value is cumulative since the run started (render the run's cumulative snapshot, not
//! a window's): Prometheus computes rates itself, and counters that reset every window would
//! look like process restarts to it.
//!
//! Labels: `node` is the process label `comm_pid` (as in the session's file names), `layer` is
//! empty outside any layer (Prometheus treats an empty label as absent), and `function` is the
//! qualified name without its parameter list, to keep series few and readable.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::model::{FdKind, Snapshot, Stats};
use crate::symbols::names::qualified_name;

/// Content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the tracer itself costs, measured by the caller (from /proc/self and the kernel's BPF
/// run-time statistics, `kernel.bpf_stats_enabled`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SelfOverhead {
    /// User + system CPU time of the tracer process.
    pub tracer_cpu_seconds: f64,
    /// Resident set size of the tracer process.
    pub tracer_rss_bytes: u64,
    /// Per eBPF program: (program name, run count, run time in ns) while BPF statistics were
    /// on, which they are only part of the time (they cost a clock read per run).
    pub bpf_programs: Vec<(String, u64, u64)>,
    /// Wall time BPF statistics were on: `bpf_programs` covers this much of the run.
    pub bpf_sampled_seconds: f64,
}

/// Upper bounds of the latency histogram buckets, in ns: powers of two from 2^10 (~1 µs) to
/// 2^34 (~17 s). Powers of two in ns are exactly the edges of both bucket layouts of
/// [`Stats`] (log2 and log-linear), so merging fine buckets into these loses no correctness:
/// a call counted below `le` really took less than `le`.
pub const LE_POW2_NS: std::ops::RangeInclusive<u32> = 10..=34;

/// The exposition text of `snapshot` (and of the tracer's own cost, when measured).
pub fn render(snapshot: &Snapshot, overhead: Option<&SelfOverhead>) -> String {
    let nodes: BTreeMap<u32, String> = snapshot
        .processes
        .iter()
        .map(|p| (p.pid, p.label()))
        .collect();
    let node = |pid: u32| {
        nodes
            .get(&pid)
            .cloned()
            .unwrap_or_else(|| format!("unknown_{pid}"))
    };
    let mut out = String::new();

    // Syscalls, merged per label set (rows that differ only by syscall number share a name).
    let mut sys: BTreeMap<(u32, String, &'static str, String), Stats> = BTreeMap::new();
    for r in &snapshot.syscalls {
        let key = (
            r.pid,
            r.name.clone(),
            fd_kind(r.fd_kind),
            r.layer.clone().unwrap_or_default(),
        );
        sys.entry(key).or_default().merge(&r.stats);
    }
    let sys_labels = |(pid, name, kind, layer): &(u32, String, &str, String)| {
        labels(&[
            ("node", &node(*pid)),
            ("pid", &pid.to_string()),
            ("syscall", name),
            ("fd_kind", kind),
            ("layer", layer),
        ])
    };
    type SysField = fn(&Stats) -> String;
    let sys_families: [(&str, &str, SysField); 4] = [
        ("tracer_syscalls_total", "Syscalls made.", |s| {
            s.count.to_string()
        }),
        (
            "tracer_syscall_errors_total",
            "Syscalls that returned an error.",
            |s| s.errors.to_string(),
        ),
        (
            "tracer_syscall_seconds_total",
            "Time spent inside syscalls.",
            |s| seconds(s.total_ns),
        ),
        (
            "tracer_syscall_bytes_total",
            "Bytes moved by syscalls that move data (read/write/send/recv families).",
            |s| s.bytes.to_string(),
        ),
    ];
    for (name, help, value) in sys_families {
        let lines = sys
            .iter()
            .map(|(k, s)| format!("{name}{} {}", sys_labels(k), value(s)))
            .collect();
        family(&mut out, name, help, "counter", lines);
    }

    // Probed functions, merged per short name (overloads and clones are one series).
    let mut funcs: BTreeMap<(u32, String, String), (u64, Stats)> = BTreeMap::new();
    for f in &snapshot.functions {
        let key = (f.pid, f.layer.clone(), qualified_name(&f.function));
        let e = funcs.entry(key).or_insert_with(|| {
            (
                0,
                Stats {
                    scale: f.latency.scale,
                    ..Stats::default()
                },
            )
        });
        e.0 += f.entries;
        merge_latency(&mut e.1, &f.latency);
    }
    let fn_labels = |(pid, layer, function): &(u32, String, String)| {
        vec![
            ("node", node(*pid)),
            ("pid", pid.to_string()),
            ("layer", layer.clone()),
            ("function", function.clone()),
        ]
    };
    let lines = funcs
        .iter()
        .map(|(k, (entries, _))| {
            let l = fn_labels(k);
            format!("tracer_function_calls_total{} {entries}", labels_owned(&l))
        })
        .collect();
    family(
        &mut out,
        "tracer_function_calls_total",
        "Calls of a probed function (uprobe entries; counting stops if it is unprobed for \
         exceeding the probe budget).",
        "counter",
        lines,
    );
    let mut lines = Vec::new();
    for (k, (_, lat)) in &funcs {
        histogram_lines(
            &mut lines,
            "tracer_function_latency_seconds",
            &fn_labels(k),
            lat,
        );
    }
    family(
        &mut out,
        "tracer_function_latency_seconds",
        "Latency of the probed function's calls whose return was seen.",
        "histogram",
        lines,
    );

    // CPU samples per node and layer.
    if let Some(p) = &snapshot.profile {
        let mut per: BTreeMap<(u32, String), u64> = BTreeMap::new();
        for st in &p.stacks {
            *per.entry((st.pid, st.layer.clone().unwrap_or_default()))
                .or_default() += st.count;
        }
        let lines = per
            .iter()
            .map(|((pid, layer), n)| {
                format!(
                    "tracer_cpu_samples_total{} {n}",
                    labels(&[
                        ("node", &node(*pid)),
                        ("pid", &pid.to_string()),
                        ("layer", layer)
                    ])
                )
            })
            .collect();
        family(
            &mut out,
            "tracer_cpu_samples_total",
            &format!(
                "On-CPU stack samples ({} Hz per CPU) whose stack was recorded.",
                p.freq_hz
            ),
            "counter",
            lines,
        );
    }

    let lines = snapshot
        .drops
        .iter()
        .map(|(reason, n)| {
            format!(
                "tracer_lost_events_total{} {n}",
                labels(&[("reason", reason)])
            )
        })
        .collect();
    family(
        &mut out,
        "tracer_lost_events_total",
        "Events the kernel side could not record, by reason.",
        "counter",
        lines,
    );

    let mut lines = Vec::new();
    for r in &snapshot.roles {
        let Some(current) = r.final_role() else {
            continue;
        };
        let mut roles: Vec<&str> = r.spans.iter().map(|s| s.role.as_str()).collect();
        roles.sort_unstable();
        roles.dedup();
        for role in roles {
            lines.push(format!(
                "tracer_node_role{} {}",
                labels(&[
                    ("node", &node(r.pid)),
                    ("pid", &r.pid.to_string()),
                    ("role", role)
                ]),
                u8::from(role == current)
            ));
        }
    }
    family(
        &mut out,
        "tracer_node_role",
        "1 for the node's current Raft role, 0 for the other roles it had during the run.",
        "gauge",
        lines,
    );

    family(
        &mut out,
        "tracer_run_seconds",
        "Seconds covered by these figures (since tracing started).",
        "gauge",
        vec![format!("tracer_run_seconds {}", snapshot.duration_s)],
    );

    if let Some(o) = overhead {
        family(
            &mut out,
            "tracer_self_cpu_seconds_total",
            "CPU time (user + system) used by the tracer process itself.",
            "counter",
            vec![format!(
                "tracer_self_cpu_seconds_total {}",
                o.tracer_cpu_seconds
            )],
        );
        family(
            &mut out,
            "tracer_self_rss_bytes",
            "Resident memory of the tracer process.",
            "gauge",
            vec![format!("tracer_self_rss_bytes {}", o.tracer_rss_bytes)],
        );
        let mut progs: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (p, runs, ns) in &o.bpf_programs {
            let e = progs.entry(p).or_default();
            e.0 += runs;
            e.1 += ns;
        }
        let runs = progs
            .iter()
            .map(|(p, (r, _))| {
                format!(
                    "tracer_bpf_program_runs_total{} {r}",
                    labels(&[("program", p)])
                )
            })
            .collect();
        family(
            &mut out,
            "tracer_bpf_program_runs_total",
            "Runs of each eBPF program of the tracer while kernel BPF statistics were on \
             (sampled: see tracer_bpf_stats_sampled_seconds_total).",
            "counter",
            runs,
        );
        let time = progs
            .iter()
            .map(|(p, (_, ns))| {
                format!(
                    "tracer_bpf_program_seconds_total{} {}",
                    labels(&[("program", p)]),
                    seconds(*ns)
                )
            })
            .collect();
        family(
            &mut out,
            "tracer_bpf_program_seconds_total",
            "Kernel CPU time spent running each eBPF program of the tracer while kernel BPF \
             statistics were on; divided by tracer_bpf_stats_sampled_seconds_total it is the \
             share of a CPU.",
            "counter",
            time,
        );
        family(
            &mut out,
            "tracer_bpf_stats_sampled_seconds_total",
            "Wall time kernel BPF statistics were on (they cost a clock read per program run, \
             so tracer measures 1 s in every 10 s).",
            "counter",
            vec![format!(
                "tracer_bpf_stats_sampled_seconds_total {}",
                o.bpf_sampled_seconds
            )],
        );
    }
    out
}

/// Writes one family (HELP, TYPE, its samples); nothing when it has no samples.
fn family(out: &mut String, name: &str, help: &str, ty: &str, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {ty}");
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
}

/// `_bucket`, `_sum` and `_count` lines of one latency histogram.
fn histogram_lines(out: &mut Vec<String>, name: &str, base: &[(&str, String)], s: &Stats) {
    let les: Vec<u64> = LE_POW2_NS.map(|p| 1u64 << p).collect();
    let mut cum = vec![0u64; les.len()];
    for (i, &n) in s.hist.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let hi = s.scale.bounds(i).1;
        // The first boundary that holds the whole bucket; beyond the last: only in +Inf.
        if let Some(j) = les.iter().position(|&le| hi <= le as f64) {
            cum[j] += n;
        }
    }
    let mut acc = 0u64;
    for (le, c) in les.iter().zip(&cum) {
        acc += c;
        let mut l = base.to_vec();
        l.push(("le", seconds(*le)));
        // Clamped so a histogram whose buckets over-count (never expected) stays valid.
        out.push(format!(
            "{name}_bucket{} {}",
            labels_owned(&l),
            acc.min(s.count)
        ));
    }
    let mut l = base.to_vec();
    l.push(("le", "+Inf".to_string()));
    out.push(format!("{name}_bucket{} {}", labels_owned(&l), s.count));
    out.push(format!(
        "{name}_sum{} {}",
        labels_owned(base),
        seconds(s.total_ns)
    ));
    out.push(format!("{name}_count{} {}", labels_owned(base), s.count));
}

/// Merges `b` into `a` even when their bucket layouts differ (never expected within one
/// function): then the histogram keeps `a`'s buckets and only the totals grow.
fn merge_latency(a: &mut Stats, b: &Stats) {
    if a.scale == b.scale {
        a.merge(b);
    } else {
        let hist = std::mem::take(&mut a.hist);
        a.merge(&Stats {
            hist: vec![],
            ..b.clone()
        });
        a.hist = hist;
    }
}

fn fd_kind(k: FdKind) -> &'static str {
    match k {
        FdKind::None => "none",
        FdKind::File => "file",
        FdKind::Socket => "socket",
        FdKind::Other => "other",
        FdKind::Unknown => "unknown",
    }
}

/// Nanoseconds as exact decimal seconds (`1024` → `0.000001024`), no float rounding noise.
fn seconds(ns: u64) -> String {
    let (s, frac) = (ns / 1_000_000_000, ns % 1_000_000_000);
    if frac == 0 {
        return s.to_string();
    }
    let f = format!("{frac:09}");
    format!("{s}.{}", f.trim_end_matches('0'))
}

/// `{k="v",...}`, or nothing for no labels.
fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"{}\"", escape(v));
    }
    s.push('}');
    s
}

fn labels_owned(pairs: &[(&str, String)]) -> String {
    let v: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    labels(&v)
}

/// Label value escaping of the text format: backslash, double quote and newline.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact_decimals() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(1024), "0.000001024");
        assert_eq!(seconds(1 << 34), "17.179869184");
        assert_eq!(seconds(2_500_000_000), "2.5");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            labels(&[("function", "a\"b\\c\nd")]),
            r#"{function="a\"b\\c\nd"}"#
        );
    }

    #[test]
    fn fine_buckets_land_under_the_first_bound_that_holds_them() {
        let mut hist = vec![0u64; tracer_common::FINE_BUCKETS];
        hist[tracer_common::fine_bucket(1500)] = 3; // [1472,1536) → le 2048 ns
        hist[tracer_common::fine_bucket(5)] = 1; // → le 1024 ns
        let s = Stats {
            count: 4,
            total_ns: 4505,
            hist,
            scale: crate::model::HistScale::LogLinear,
            ..Stats::default()
        };
        let mut lines = Vec::new();
        histogram_lines(&mut lines, "h", &[], &s);
        assert_eq!(lines[0], r#"h_bucket{le="0.000001024"} 1"#);
        assert_eq!(lines[1], r#"h_bucket{le="0.000002048"} 4"#);
        assert!(lines.contains(&r#"h_bucket{le="+Inf"} 4"#.to_string()));
        assert!(lines.contains(&"h_sum 0.000004505".to_string()));
    }
}
