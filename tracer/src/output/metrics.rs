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
//! Labels: every sample carries `host` first (`--host-label`, default the hostname; left out
//! for sessions saved before it was recorded), so the series of
//! one tracer per machine stay apart whatever the scrape's `instance` is. `node` is the
//! process label `comm_pid` (as in the session's file names), `layer` is
//! empty outside any layer (Prometheus treats an empty label as absent), and `function` is the
//! qualified name without its parameter list, to keep series few and readable.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::cpp_names::qualified_name;
use crate::model::{FdKind, SelfCost, Snapshot, Stats};

pub mod table;
use table::Metric;

/// Content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the latency histogram buckets, in ns: powers of two from 2^10 (~1 µs) to
/// 2^34 (~17 s). Powers of two in ns are exactly the edges of both bucket layouts of
/// [`Stats`] (log2 and log-linear), so merging fine buckets into these loses no correctness:
/// a call counted below `le` really took less than `le`.
pub const LE_POW2_NS: std::ops::RangeInclusive<u32> = 10..=34;

/// The exposition text of `snapshot` (and of the tracer's own cost, when measured).
pub fn render(snapshot: &Snapshot, overhead: Option<&SelfCost>) -> String {
    let nodes: BTreeMap<u32, String> = snapshot
        .processes
        .iter()
        .map(|p| (p.pid, p.label()))
        .collect();
    let host = snapshot.host.as_str();
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
    type SysField = fn(&Stats) -> String;
    let sys_families: [(&Metric, SysField); 4] = [
        (&table::SYSCALLS, |s| s.count.to_string()),
        (&table::SYSCALL_ERRORS, |s| s.errors.to_string()),
        (&table::SYSCALL_SECONDS, |s| seconds(s.total_ns)),
        (&table::SYSCALL_BYTES, |s| s.bytes.to_string()),
    ];
    for (metric, value) in sys_families {
        let mut f = Family::new(host, metric);
        for ((pid, name, kind, layer), s) in &sys {
            f.sample(
                &[&node(*pid), &pid.to_string(), name, kind, layer],
                value(s),
            );
        }
        f.write(&mut out);
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
    let mut calls = Family::new(host, &table::FUNCTION_CALLS);
    let mut latency = Family::new(host, &table::FUNCTION_LATENCY);
    for ((pid, layer, function), (entries, lat)) in &funcs {
        let values = [node(*pid), pid.to_string(), layer.clone(), function.clone()];
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        calls.sample(&values, entries);
        latency.histogram(&values, lat);
    }
    calls.write(&mut out);
    latency.write(&mut out);

    // CPU samples per node and layer.
    if let Some(p) = &snapshot.profile {
        let mut per: BTreeMap<(u32, String), u64> = BTreeMap::new();
        for st in &p.stacks {
            *per.entry((st.pid, st.layer.clone().unwrap_or_default()))
                .or_default() += st.count;
        }
        let mut f = Family::new(host, &table::CPU_SAMPLES);
        for ((pid, layer), n) in &per {
            f.sample(&[&node(*pid), &pid.to_string(), layer], n);
        }
        f.help = table::CPU_SAMPLES
            .help
            .replace("{hz}", &p.freq_hz.to_string());
        f.write(&mut out);
    }

    let mut f = Family::new(host, &table::LOST_EVENTS);
    for (reason, n) in &snapshot.drops {
        f.sample(&[reason], n);
    }
    f.write(&mut out);

    let mut f = Family::new(host, &table::NODE_ROLE);
    for r in &snapshot.roles {
        let Some(current) = r.final_role() else {
            continue;
        };
        let mut roles: Vec<&str> = r.spans.iter().map(|s| s.role.as_str()).collect();
        roles.sort_unstable();
        roles.dedup();
        for role in roles {
            f.sample(
                &[&node(r.pid), &r.pid.to_string(), role],
                u8::from(role == current),
            );
        }
    }
    f.write(&mut out);

    let mut f = Family::new(host, &table::RUN_SECONDS);
    f.sample(&[], snapshot.duration_s);
    f.write(&mut out);

    if let Some(o) = overhead {
        let mut f = Family::new(host, &table::SELF_CPU_SECONDS);
        f.sample(&[], o.tracer_cpu_seconds);
        f.write(&mut out);
        let mut f = Family::new(host, &table::SELF_RSS_BYTES);
        f.sample(&[], o.tracer_rss_bytes);
        f.write(&mut out);
        let mut progs: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (p, runs, ns) in &o.bpf_programs {
            let e = progs.entry(p).or_default();
            e.0 += runs;
            e.1 += ns;
        }
        let mut runs = Family::new(host, &table::BPF_PROGRAM_RUNS);
        let mut time = Family::new(host, &table::BPF_PROGRAM_SECONDS);
        for (p, (r, ns)) in &progs {
            runs.sample(&[p], r);
            time.sample(&[p], seconds(*ns));
        }
        runs.write(&mut out);
        time.write(&mut out);
        let mut f = Family::new(host, &table::BPF_STATS_SAMPLED_SECONDS);
        f.sample(&[], o.bpf_sampled_seconds);
        f.write(&mut out);
    }
    out
}

/// The samples of one family, named and labelled as its [`Metric`] row says.
struct Family {
    /// The `host` label's value, on every sample.
    host: String,
    metric: &'static Metric,
    help: String,
    lines: Vec<String>,
}

impl Family {
    fn new(host: &str, metric: &'static Metric) -> Family {
        Family {
            host: host.to_string(),
            metric,
            help: metric.help.to_string(),
            lines: Vec::new(),
        }
    }

    /// `values` are the label values, in the order of the metric's `labels`.
    fn sample(&mut self, values: &[&str], value: impl std::fmt::Display) {
        let l = self.labels(values);
        self.lines
            .push(format!("{}{} {value}", self.metric.name, labels(&l)));
    }

    /// The `_bucket`, `_sum` and `_count` series of one latency histogram.
    fn histogram(&mut self, values: &[&str], s: &Stats) {
        let mut lines = Vec::new();
        histogram_lines(&mut lines, self.metric.name, &self.labels(values), s);
        self.lines.extend(lines);
    }

    fn labels<'a>(&'a self, values: &[&'a str]) -> Vec<(&'static str, &'a str)> {
        assert_eq!(
            values.len(),
            self.metric.labels.len(),
            "{}: label values for {:?}",
            self.metric.name,
            self.metric.labels
        );
        let host = (!self.host.is_empty()).then_some((table::HOST_LABEL, self.host.as_str()));
        host.into_iter()
            .chain(
                self.metric
                    .labels
                    .iter()
                    .copied()
                    .zip(values.iter().copied()),
            )
            .collect()
    }

    /// HELP, TYPE and the samples; nothing when there are no samples.
    fn write(self, out: &mut String) {
        if self.lines.is_empty() {
            return;
        }
        let name = self.metric.name;
        let help = self.help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {}", self.metric.kind.as_str());
        for l in self.lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
}

/// `_bucket`, `_sum` and `_count` lines of one latency histogram.
fn histogram_lines(out: &mut Vec<String>, name: &str, base: &[(&str, &str)], s: &Stats) {
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
        let le = seconds(*le);
        let mut l = base.to_vec();
        l.push(("le", &le));
        // Clamped so a histogram whose buckets over-count (never expected) stays valid.
        out.push(format!("{name}_bucket{} {}", labels(&l), acc.min(s.count)));
    }
    let mut l = base.to_vec();
    l.push(("le", "+Inf"));
    out.push(format!("{name}_bucket{} {}", labels(&l), s.count));
    out.push(format!(
        "{name}_sum{} {}",
        labels(base),
        seconds(s.total_ns)
    ));
    out.push(format!("{name}_count{} {}", labels(base), s.count));
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
