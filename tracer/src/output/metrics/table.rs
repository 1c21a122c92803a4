//! Every metric tracer exports, declared once: name, type, unit, labels and help text, in the
//! order [`super::render`] writes them (like the OpenTelemetry eBPF profiler's `metrics.json`).
//!
//! The renderer takes names, types, label names and `# HELP` text only from here, so a
//! metric is renamed or documented in one place; the unit test below holds every row to
//! Prometheus's naming rules (prefix, `_total` on counters, the unit as the name's suffix),
//! and `tests/pprof_metrics.rs` runs `promtool check metrics` on the rendered text.

/// How Prometheus reads a family (the `# TYPE` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// Cumulative `_bucket{le=...}` series plus `_sum` and `_count`.
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family.
#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    /// The base unit the values are in (`seconds`, `bytes`), which by Prometheus convention
    /// ends the name (before `_total`); empty for plain counts and states. The 0.0.4 text
    /// format has no unit line: this is for readers of the table and for the naming check.
    pub unit: &'static str,
    /// Label names in the order they are written, after [`HOST_LABEL`] (a histogram's `le`
    /// comes after them).
    pub labels: &'static [&'static str],
    /// The `# HELP` text. `{hz}` stands for the session's sampling frequency.
    pub help: &'static str,
}

/// The label every sample of every family carries first: the host (`--host-label`).
pub const HOST_LABEL: &str = "host";

const SYSCALL_LABELS: &[&str] = &["node", "pid", "syscall", "fd_kind", "layer"];
const FUNCTION_LABELS: &[&str] = &["node", "pid", "layer", "function"];

pub const SYSCALLS: Metric = Metric {
    name: "tracer_syscalls_total",
    kind: Kind::Counter,
    unit: "",
    labels: SYSCALL_LABELS,
    help: "Syscalls made.",
};
pub const SYSCALL_ERRORS: Metric = Metric {
    name: "tracer_syscall_errors_total",
    kind: Kind::Counter,
    unit: "",
    labels: SYSCALL_LABELS,
    help: "Syscalls that returned an error.",
};
pub const SYSCALL_SECONDS: Metric = Metric {
    name: "tracer_syscall_seconds_total",
    kind: Kind::Counter,
    unit: "seconds",
    labels: SYSCALL_LABELS,
    help: "Time spent inside syscalls.",
};
pub const SYSCALL_BYTES: Metric = Metric {
    name: "tracer_syscall_bytes_total",
    kind: Kind::Counter,
    unit: "bytes",
    labels: SYSCALL_LABELS,
    help: "Bytes moved by syscalls that move data (read/write/send/recv families).",
};
pub const FUNCTION_CALLS: Metric = Metric {
    name: "tracer_function_calls_total",
    kind: Kind::Counter,
    unit: "",
    labels: FUNCTION_LABELS,
    help: "Calls of a probed function (uprobe entries; counting stops if it is unprobed for \
           exceeding the probe budget).",
};
pub const FUNCTION_LATENCY: Metric = Metric {
    name: "tracer_function_latency_seconds",
    kind: Kind::Histogram,
    unit: "seconds",
    labels: FUNCTION_LABELS,
    help: "Latency of the probed function's calls whose return was seen.",
};
pub const CPU_SAMPLES: Metric = Metric {
    name: "tracer_cpu_samples_total",
    kind: Kind::Counter,
    unit: "",
    labels: &["node", "pid", "layer"],
    help: "On-CPU stack samples ({hz} Hz per CPU) whose stack was recorded.",
};
pub const LOST_EVENTS: Metric = Metric {
    name: "tracer_lost_events_total",
    kind: Kind::Counter,
    unit: "",
    labels: &["reason"],
    help: "Events the kernel side could not record, by reason.",
};
pub const NODE_ROLE: Metric = Metric {
    name: "tracer_node_role",
    kind: Kind::Gauge,
    unit: "",
    labels: &["node", "pid", "role"],
    help: "1 for the node's current Raft role, 0 for the other roles it had during the run.",
};
pub const RUN_SECONDS: Metric = Metric {
    name: "tracer_run_seconds",
    kind: Kind::Gauge,
    unit: "seconds",
    labels: &[],
    help: "Seconds covered by these figures (since tracing started).",
};
pub const SELF_CPU_SECONDS: Metric = Metric {
    name: "tracer_self_cpu_seconds_total",
    kind: Kind::Counter,
    unit: "seconds",
    labels: &[],
    help: "CPU time (user + system) used by the tracer process itself.",
};
pub const SELF_RSS_BYTES: Metric = Metric {
    name: "tracer_self_rss_bytes",
    kind: Kind::Gauge,
    unit: "bytes",
    labels: &[],
    help: "Resident memory of the tracer process.",
};
pub const BPF_PROGRAM_RUNS: Metric = Metric {
    name: "tracer_bpf_program_runs_total",
    kind: Kind::Counter,
    unit: "",
    labels: &["program"],
    help: "Runs of each eBPF program of the tracer while kernel BPF statistics were on \
           (sampled: see tracer_bpf_stats_sampled_seconds_total).",
};
pub const BPF_PROGRAM_SECONDS: Metric = Metric {
    name: "tracer_bpf_program_seconds_total",
    kind: Kind::Counter,
    unit: "seconds",
    labels: &["program"],
    help: "Kernel CPU time spent running each eBPF program of the tracer while kernel BPF \
           statistics were on; divided by tracer_bpf_stats_sampled_seconds_total it is the \
           share of a CPU.",
};
pub const BPF_STATS_SAMPLED_SECONDS: Metric = Metric {
    name: "tracer_bpf_stats_sampled_seconds_total",
    kind: Kind::Counter,
    unit: "seconds",
    labels: &[],
    help: "Wall time kernel BPF statistics were on (they cost a clock read per program run, \
           so tracer measures 1 s in every 10 s).",
};

/// Every metric, in the order they are written.
pub const METRICS: &[&Metric] = &[
    &SYSCALLS,
    &SYSCALL_ERRORS,
    &SYSCALL_SECONDS,
    &SYSCALL_BYTES,
    &FUNCTION_CALLS,
    &FUNCTION_LATENCY,
    &CPU_SAMPLES,
    &LOST_EVENTS,
    &NODE_ROLE,
    &RUN_SECONDS,
    &SELF_CPU_SECONDS,
    &SELF_RSS_BYTES,
    &BPF_PROGRAM_RUNS,
    &BPF_PROGRAM_SECONDS,
    &BPF_STATS_SAMPLED_SECONDS,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_name(s: &str) -> bool {
        let mut c = s.chars();
        matches!(c.next(), Some(f) if f.is_ascii_lowercase() || f == '_')
            && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_')
    }

    #[test]
    fn every_metric_follows_the_prometheus_naming_rules() {
        let mut names = std::collections::HashSet::new();
        for m in METRICS {
            assert!(names.insert(m.name), "{} declared twice", m.name);
            assert!(
                m.name.starts_with("tracer_") && valid_name(m.name),
                "{}",
                m.name
            );
            let base = match m.kind {
                Kind::Counter => m
                    .name
                    .strip_suffix("_total")
                    .unwrap_or_else(|| panic!("counter {} without _total", m.name)),
                _ => {
                    assert!(!m.name.ends_with("_total"), "{} is not a counter", m.name);
                    m.name
                }
            };
            if !m.unit.is_empty() {
                assert!(
                    base.ends_with(&format!("_{}", m.unit)),
                    "{} does not end in its unit {}",
                    m.name,
                    m.unit
                );
            }
            for l in m.labels {
                assert!(valid_name(l) && !l.starts_with("__"), "{}: {l}", m.name);
                assert_ne!(*l, "le", "{}: le is the histogram's own label", m.name);
                assert_ne!(*l, HOST_LABEL, "{}: every family has host first", m.name);
            }
            assert!(
                m.help.ends_with('.') && !m.help.contains('\n'),
                "{}: {:?}",
                m.name,
                m.help
            );
        }
    }
}
