//! pprof export, Prometheus exposition and the metrics endpoint, on canned snapshots (no root,
//! no BPF). pprof is decoded by prost (the `profile.proto` structs of `output::pprof::proto`)
//! and loaded by Go's own `go tool pprof`; the exposition text is read by a strict parser
//! written here and checked by Prometheus's own `promtool check metrics`.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};

use prost::Message as _;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use tracer::model::SelfCost;
use tracer::model::{FdKind, FunctionRecord, HistScale, Snapshot, Stats};
use tracer::output::metrics::render;
use tracer::output::metrics::table::METRICS;
use tracer::output::pprof::{self, proto};
use tracer::session::metrics_server::MetricsServer;

mod common;
use common::canned::{stats, Canned};
use common::go_pprof::{go_pprof_traces, GoTrace};

// ---------------------------------------------------------------- pprof

/// (function names leaf first, values, labels) of one sample.
type DecodedSample = (Vec<String>, Vec<i64>, BTreeMap<String, String>);

/// What the tests read from a decoded profile.
struct Decoded {
    strings: Vec<String>,
    sample_types: Vec<(String, String)>,
    period_type: (String, String),
    period: i64,
    duration_nanos: i64,
    samples: Vec<DecodedSample>,
    /// function name → (file name, mapping file name)
    functions: HashMap<String, (String, String)>,
}

/// Gunzips and decodes with prost (the same `profile.proto` structs the writer fills), then
/// resolves every index the way a pprof reader must: string 0 is "", ids are unique and
/// non-zero, every referenced id exists.
fn decode(gz: &[u8]) -> Decoded {
    assert_eq!(&gz[..3], &[0x1f, 0x8b, 8], "gzip magic + deflate");
    let mut raw = Vec::new();
    // GzDecoder checks the CRC-32 and length trailer.
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .expect("valid gzip");
    let p = proto::Profile::decode(raw.as_slice()).expect("a valid profile.proto message");
    let strings = p.string_table.clone();
    assert_eq!(strings.first().map(String::as_str), Some(""), "string 0");
    let s = |i: i64| strings[usize::try_from(i).expect("string index")].clone();
    let vt = |v: &proto::ValueType| (s(v.r#type), s(v.unit));

    let mut mappings = HashMap::new();
    for m in &p.mapping {
        assert!(m.id > 0);
        assert!(
            mappings.insert(m.id, s(m.filename)).is_none(),
            "mapping ids"
        );
    }
    let mut funcs = HashMap::new();
    for f in &p.function {
        assert!(f.id > 0);
        assert!(
            funcs
                .insert(f.id, (s(f.name), s(f.system_name), s(f.filename)))
                .is_none(),
            "function ids unique"
        );
    }
    let mut locs = HashMap::new();
    let mut functions = HashMap::new();
    for l in &p.location {
        assert_eq!(l.line.len(), 1, "one line per location");
        let (name, system, file) = funcs[&l.line[0].function_id].clone();
        assert_eq!(name, system);
        let mapping = if l.mapping_id == 0 {
            String::new()
        } else {
            mappings[&l.mapping_id].clone()
        };
        functions.insert(name.clone(), (file, mapping));
        assert!(locs.insert(l.id, name).is_none(), "location ids unique");
    }
    let sample_types: Vec<_> = p.sample_type.iter().map(vt).collect();
    let samples = p
        .sample
        .iter()
        .map(|m| {
            let stack = m.location_id.iter().map(|id| locs[id].clone()).collect();
            assert_eq!(m.value.len(), sample_types.len());
            let labels = m.label.iter().map(|l| (s(l.key), s(l.str))).collect();
            (stack, m.value.clone(), labels)
        })
        .collect();
    Decoded {
        sample_types,
        period_type: vt(p.period_type.as_ref().expect("period_type")),
        period: p.period,
        duration_nanos: p.duration_nanos,
        samples,
        functions,
        strings,
    }
}

fn three_stacks() -> Snapshot {
    let mut s = Canned::new(15.0)
        .node(100)
        .node(200)
        .samples(
            100,
            "applier",
            &["start_thread", "Raft::applier()", "Persister::save()"],
            40,
        )
        .samples(
            100,
            "hb-send",
            &[
                "start_thread",
                "Raft::doHeartBeat()",
                "send",
                "tcp_sendmsg_[k]",
            ],
            25,
        )
        .samples(200, "applier", &["start_thread", "Raft::applier()"], 7)
        .build();
    let p = s.profile.as_mut().unwrap();
    p.stacks[1].layer = Some("network".into());
    p.samples += 3; // samples whose stack was lost
    s
}

#[test]
fn pprof_round_trip_of_three_stacks() {
    let s = three_stacks();
    let d = decode(&pprof::encode(&s).unwrap());

    assert_eq!(
        d.sample_types,
        [
            ("samples".to_string(), "count".to_string()),
            ("cpu".to_string(), "nanoseconds".to_string())
        ]
    );
    assert_eq!(d.period_type, ("cpu".into(), "nanoseconds".into()));
    assert_eq!(d.period, 10_101_010, "1e9 / 99 Hz");
    assert_eq!(d.duration_nanos, 15_000_000_000);
    assert_eq!(d.samples.len(), 3);

    let (stack, values, labels) = &d.samples[0];
    assert_eq!(
        stack,
        &["Persister::save()", "Raft::applier()", "start_thread"],
        "leaf first"
    );
    assert_eq!(values, &[40, 40 * 10_101_010]);
    assert_eq!(labels["pid"], "100");
    assert_eq!(labels["thread"], "applier");
    assert_eq!(labels["node"], "raftkv-node_100");
    assert_eq!(labels["host"], "host-a", "--host-label on every sample");
    assert!(!labels.contains_key("layer"), "no layer → no label");

    let (stack, values, labels) = &d.samples[1];
    assert_eq!(
        stack,
        &["tcp_sendmsg", "send", "Raft::doHeartBeat()", "start_thread"],
        "kernel suffix stripped"
    );
    assert_eq!(values[0], 25);
    assert_eq!(labels["layer"], "network");
    assert_eq!(labels["thread"], "hb-send");
    assert_eq!(
        d.functions["tcp_sendmsg"],
        (
            "[kernel.kallsyms]".to_string(),
            "[kernel.kallsyms]".to_string()
        ),
        "kernel frames marked by file and mapping"
    );
    assert_eq!(d.functions["send"], (String::new(), String::new()));

    let (stack, values, labels) = &d.samples[2];
    assert_eq!(stack, &["Raft::applier()", "start_thread"]);
    assert_eq!(values[0], 7);
    assert_eq!(labels["pid"], "200");

    let total: i64 = d.samples.iter().map(|x| x.1[0]).sum();
    assert_eq!(total, 72);
    // One location per distinct frame: Raft::applier() and start_thread are shared.
    assert_eq!(d.functions.len(), 6);
    assert!(
        d.strings.iter().any(|c| c.contains("3 of 75 samples lost")),
        "lost stacks are said in a comment"
    );
}

/// The real consumer: Go's pprof (the one Grafana Pyroscope's tooling shares the format with)
/// loads the file and reads back every stack, count and label.
#[test]
fn go_tool_pprof_reads_back_every_stack_count_and_label() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(pprof::FILE_NAME);
    std::fs::write(&path, pprof::encode(&three_stacks()).unwrap()).unwrap();
    let (text, traces) = go_pprof_traces(&path);
    let labels = |pid: &str, thread: &str, layer: Option<&str>| {
        let mut m = BTreeMap::from([
            ("pid".to_string(), pid.to_string()),
            ("node".to_string(), format!("raftkv-node_{pid}")),
            ("thread".to_string(), thread.to_string()),
            ("host".to_string(), "host-a".to_string()),
        ]);
        if let Some(l) = layer {
            m.insert("layer".into(), l.into());
        }
        m
    };
    // pprof shows C++ names without their parameter lists (`Raft::applier()` as
    // `Raft::applier`); the file holds them whole (see the round-trip test).
    let frames = |f: &[&str]| {
        f.iter()
            .map(|s| s.trim_end_matches("()").to_string())
            .collect::<Vec<_>>()
    };
    let mut want = vec![
        GoTrace {
            labels: labels("100", "applier", None),
            value: 40,
            frames: frames(&["Persister::save()", "Raft::applier()", "start_thread"]),
        },
        GoTrace {
            labels: labels("100", "hb-send", Some("network")),
            value: 25,
            frames: frames(&["tcp_sendmsg", "send", "Raft::doHeartBeat()", "start_thread"]),
        },
        GoTrace {
            labels: labels("200", "applier", None),
            value: 7,
            frames: frames(&["Raft::applier()", "start_thread"]),
        },
    ];
    want.sort();
    assert_eq!(traces, want, "{text}");
    assert!(text.contains("Duration: 15s"), "{text}");
    assert!(text.starts_with("File: raftkv-node\n"), "{text}");
}

#[test]
fn pprof_write_creates_a_loadable_file_and_empty_profiles_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(pprof::FILE_NAME);
    std::fs::write(&path, pprof::encode(&three_stacks()).unwrap()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(decode(&bytes).samples.len(), 3);
    // The system gzip agrees that the stream is valid, when it is installed.
    if let Ok(o) = std::process::Command::new("gzip")
        .arg("-t")
        .arg(&path)
        .output()
    {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    let empty = Canned::new(1.0).build();
    let d = decode(&pprof::encode(&empty).unwrap());
    assert!(d.samples.is_empty());
    assert_eq!(d.period, 10_101_010);
}

// ---------------------------------------------------------------- metrics

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn valid_name(s: &str, colon: bool) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || (colon && f == ':'))
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || (colon && x == ':'))
}

/// Parses `{k="v",...}` strictly (escapes `\\`, `\"`, `\n` only); returns labels and the rest.
fn parse_labels(s: &str) -> (BTreeMap<String, String>, &str) {
    let mut labels = BTreeMap::new();
    let Some(mut rest) = s.strip_prefix('{') else {
        return (labels, s);
    };
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return (labels, r);
        }
        let eq = rest.find('=').expect("label without =");
        let key = &rest[..eq];
        assert!(valid_name(key, false), "label name {key:?}");
        rest = rest[eq + 1..].strip_prefix('"').expect("label value quote");
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("unterminated label value") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().unwrap().1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    c => panic!("bad escape \\{c}"),
                },
                (_, '\n') => panic!("raw newline in label value"),
                (_, c) => value.push(c),
            }
        };
        assert!(
            labels.insert(key.to_string(), value).is_none(),
            "duplicate label {key}"
        );
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        }
    }
}

/// A strict reader of the Prometheus text format: every line is a HELP, a TYPE or a sample
/// `name{labels} value` of the family typed just before; families are contiguous; no series
/// twice; counters end in `_total`; histograms are cumulative with `+Inf` = `_count`.
fn parse(text: &str) -> (Vec<Sample>, HashMap<String, String>) {
    assert!(text.ends_with('\n'), "ends with a newline");
    assert!(!text.contains("# EOF"), "0.0.4 has no EOF marker");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut current: Option<(String, String)> = None;
    let mut samples = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(valid_name(name, true), "{line}");
            assert!(
                !types.contains_key(name),
                "HELP after TYPE or repeated: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut p = rest.split(' ');
            let (name, ty) = (p.next().unwrap(), p.next().unwrap());
            assert!(p.next().is_none(), "{line}");
            assert!(valid_name(name, true), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty),
                "{line}"
            );
            if ty == "counter" {
                assert!(name.ends_with("_total"), "counter {name} without _total");
            }
            assert!(
                types.insert(name.into(), ty.into()).is_none(),
                "family {name} twice (not contiguous)"
            );
            current = Some((name.into(), ty.into()));
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment {line}");
        assert!(!line.is_empty(), "empty line");
        let name_end = line.find(['{', ' ']).expect("sample without value");
        let name = &line[..name_end];
        assert!(valid_name(name, true), "metric name {name:?}");
        let (labels, rest) = parse_labels(&line[name_end..]);
        let value_str = rest.strip_prefix(' ').expect("space before value");
        assert!(
            !value_str.contains(' '),
            "timestamps are not expected: {line}"
        );
        let value: f64 = match value_str {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value {v:?}")),
        };
        let (family, ty) = current.clone().expect("sample before any TYPE");
        let ok = match ty.as_str() {
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| name == format!("{family}{s}")),
            _ => name == family,
        };
        assert!(ok, "sample {name} is not of family {family} ({ty})");
        assert!(
            seen.insert(format!("{name}{labels:?}")),
            "series twice: {line}"
        );
        samples.push(Sample {
            name: name.into(),
            labels,
            value,
        });
    }
    // Histograms.
    for (family, ty) in &types {
        if ty != "histogram" {
            continue;
        }
        let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        let mut counts = HashMap::new();
        for s in &samples {
            let mut key = s.labels.clone();
            if s.name == format!("{family}_bucket") {
                let le = key.remove("le").expect("bucket without le");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                groups
                    .entry(format!("{key:?}"))
                    .or_default()
                    .push((le, s.value));
            } else if s.name == format!("{family}_count") {
                counts.insert(format!("{key:?}"), s.value);
            }
        }
        assert!(!groups.is_empty());
        for (key, buckets) in groups {
            for w in buckets.windows(2) {
                assert!(w[0].0 < w[1].0, "le increasing {key}");
                assert!(w[0].1 <= w[1].1, "cumulative {key}");
            }
            let last = buckets.last().unwrap();
            assert_eq!(last.0, f64::INFINITY, "+Inf bucket {key}");
            assert_eq!(Some(&last.1), counts.get(&key), "+Inf == _count {key}");
        }
    }
    (samples, types)
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> &'a Sample {
    let hits: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert_eq!(hits.len(), 1, "{name} {labels:?}: {hits:?}");
    hits[0]
}

fn metrics_snapshot() -> Snapshot {
    let mut fsync = stats(50, 2_000_000, 0);
    fsync.errors = 2;
    let profile = three_stacks().profile;
    let mut s = Canned::new(15.0)
        .node(100)
        .node(200)
        .file_io(100, "/data/raftstate", "fsync", fsync)
        .syscall(100, "sendto", FdKind::Socket, stats(1000, 20_000, 64_000))
        .syscall(200, "sendto", FdKind::Socket, stats(10, 20_000, 640))
        .function(100, "Raft::doHeartBeat()", "consensus", 300)
        .roles(
            100,
            &[("follower", 0.0, 3.0), ("leader", 3.0, 15.0)],
            Some(10.0),
        )
        .roles(200, &[("follower", 0.0, 15.0)], None)
        .build_with_profile(profile);
    s.syscalls[1].layer = Some("network".into());
    s.drops.insert("ringbuf_full".into(), 17);
    // A function with log-linear latency buckets and two overloads that share a short name.
    let mut hist = vec![0u64; tracer_common::FINE_BUCKETS];
    hist[tracer_common::fine_bucket(1_500)] = 3;
    hist[tracer_common::fine_bucket(2_050_000)] = 5;
    let lat = Stats {
        count: 8,
        errors: 0,
        total_ns: 3 * 1_500 + 5 * 2_050_000,
        max_ns: 2_060_000,
        bytes: 0,
        hist,
        scale: HistScale::LogLinear,
    };
    for sig in [
        "Persister::saveRaftState(std::string const&)",
        "Persister::saveRaftState(std::string const&, int) [clone .isra.0]",
    ] {
        s.functions.push(FunctionRecord {
            pid: 100,
            function: sig.into(),
            pattern: "Persister::saveRaftState".into(),
            object: "/opt/kv/lib/libraftcore.so".into(),
            layer: "log_io".into(),
            entries: 9,
            returns: 8,
            unmatched_returns: 0,
            latency: lat.clone(),
            detached_at_s: None,
        });
    }
    // A hostile thread name reaches no label, but a hostile function name must be escaped.
    s.functions.push(FunctionRecord {
        pid: 200,
        function: "ns::weird\"name\\x(int)".into(),
        pattern: "ns::*".into(),
        object: "/opt/kv/bin/raftkv-node".into(),
        layer: "consensus".into(),
        entries: 1,
        returns: 0,
        unmatched_returns: 0,
        latency: Stats::default(),
        detached_at_s: None,
    });
    s
}

/// `Canned` has no profile setter taking a whole profile; this keeps the test readable.
trait WithProfile {
    fn build_with_profile(self, p: Option<tracer::model::CpuProfile>) -> Snapshot;
}
impl WithProfile for Canned {
    fn build_with_profile(self, p: Option<tracer::model::CpuProfile>) -> Snapshot {
        let mut s = self.build();
        s.profile = p;
        s
    }
}

#[test]
fn metrics_are_valid_exposition_text_whose_values_are_the_snapshots() {
    let s = metrics_snapshot();
    let overhead = SelfCost {
        tracer_cpu_seconds: 1.25,
        tracer_rss_bytes: 48 << 20,
        bpf_programs: vec![
            ("sys_enter".into(), 1_000_000, 250_000_000),
            ("sample_cpu".into(), 1485, 3_000_000),
        ],
        bpf_sampled_seconds: 2.0,
        kernel_maps: vec![],
    };
    let text = render(&s, Some(&overhead));
    let (m, types) = parse(&text);

    assert_eq!(types["tracer_syscalls_total"], "counter");
    assert_eq!(types["tracer_function_latency_seconds"], "histogram");
    assert_eq!(types["tracer_node_role"], "gauge");
    assert_eq!(types["tracer_self_rss_bytes"], "gauge");

    // Syscalls.
    let fsync = [
        ("node", "raftkv-node_100"),
        ("pid", "100"),
        ("syscall", "fsync"),
        ("fd_kind", "file"),
        ("layer", ""),
    ];
    assert_eq!(find(&m, "tracer_syscalls_total", &fsync).value, 50.0);
    assert_eq!(find(&m, "tracer_syscall_errors_total", &fsync).value, 2.0);
    assert_eq!(find(&m, "tracer_syscall_seconds_total", &fsync).value, 0.1);
    let send = [
        ("pid", "100"),
        ("syscall", "sendto"),
        ("fd_kind", "socket"),
        ("layer", "network"),
    ];
    assert_eq!(
        find(&m, "tracer_syscall_bytes_total", &send).value,
        64_000.0
    );
    assert_eq!(find(&m, "tracer_syscalls_total", &send).value, 1000.0);
    assert_eq!(
        find(&m, "tracer_syscalls_total", &[("node", "raftkv-node_200")]).value,
        10.0
    );
    let total: f64 = m
        .iter()
        .filter(|x| x.name == "tracer_syscalls_total")
        .map(|x| x.value)
        .sum();
    assert_eq!(
        total,
        s.syscalls.iter().map(|r| r.stats.count).sum::<u64>() as f64
    );

    // Functions: overloads merged under the short name.
    let save = [
        ("pid", "100"),
        ("layer", "log_io"),
        ("function", "Persister::saveRaftState"),
    ];
    assert_eq!(find(&m, "tracer_function_calls_total", &save).value, 18.0);
    assert_eq!(
        find(&m, "tracer_function_latency_seconds_count", &save).value,
        16.0
    );
    let sum = find(&m, "tracer_function_latency_seconds_sum", &save).value;
    assert!(
        (sum - 2.0 * (4_500.0 + 10_250_000.0) / 1e9).abs() < 1e-12,
        "{sum}"
    );
    let bucket = |le: &str| {
        let mut l = save.to_vec();
        l.push(("le", le));
        find(&m, "tracer_function_latency_seconds_bucket", &l).value
    };
    assert_eq!(bucket("0.000001024"), 0.0);
    assert_eq!(bucket("0.000002048"), 6.0, "1.5 µs calls");
    assert_eq!(bucket("0.001048576"), 6.0, "2.05 ms is above 2^20 ns");
    assert_eq!(bucket("0.002097152"), 16.0, "and below 2^21 ns");
    assert_eq!(bucket("+Inf"), 16.0);
    let hb = [("function", "Raft::doHeartBeat"), ("layer", "consensus")];
    assert_eq!(find(&m, "tracer_function_calls_total", &hb).value, 300.0);
    // Canned latency: 300 calls of 50 µs in log2 bucket [32768, 65536) ns.
    let mut l = hb.to_vec();
    l.push(("le", "0.000032768"));
    assert_eq!(
        find(&m, "tracer_function_latency_seconds_bucket", &l).value,
        0.0
    );
    l.pop();
    l.push(("le", "0.000065536"));
    assert_eq!(
        find(&m, "tracer_function_latency_seconds_bucket", &l).value,
        300.0
    );
    assert_eq!(
        find(
            &m,
            "tracer_function_calls_total",
            &[("function", "ns::weird\"name\\x")]
        )
        .value,
        1.0,
        "escaped and read back"
    );

    // CPU samples by node and layer.
    assert_eq!(
        find(
            &m,
            "tracer_cpu_samples_total",
            &[("pid", "100"), ("layer", "")]
        )
        .value,
        40.0
    );
    assert_eq!(
        find(
            &m,
            "tracer_cpu_samples_total",
            &[("pid", "100"), ("layer", "network")]
        )
        .value,
        25.0
    );
    assert_eq!(
        find(&m, "tracer_cpu_samples_total", &[("pid", "200")]).value,
        7.0
    );

    // Drops, roles, overhead.
    assert_eq!(
        find(
            &m,
            "tracer_lost_events_total",
            &[("reason", "ringbuf_full")]
        )
        .value,
        17.0
    );
    assert_eq!(
        find(
            &m,
            "tracer_lost_events_total",
            &[("reason", "stack_collision")]
        )
        .value,
        0.0
    );
    assert_eq!(
        find(
            &m,
            "tracer_node_role",
            &[("pid", "100"), ("role", "leader")]
        )
        .value,
        1.0
    );
    assert_eq!(
        find(
            &m,
            "tracer_node_role",
            &[("pid", "100"), ("role", "follower")]
        )
        .value,
        0.0
    );
    assert_eq!(
        find(
            &m,
            "tracer_node_role",
            &[("pid", "200"), ("role", "follower")]
        )
        .value,
        1.0
    );
    assert_eq!(find(&m, "tracer_self_cpu_seconds_total", &[]).value, 1.25);
    assert_eq!(
        find(&m, "tracer_self_rss_bytes", &[]).value,
        (48u64 << 20) as f64
    );
    assert_eq!(
        find(
            &m,
            "tracer_bpf_program_runs_total",
            &[("program", "sys_enter")]
        )
        .value,
        1e6
    );
    assert_eq!(
        find(
            &m,
            "tracer_bpf_program_seconds_total",
            &[("program", "sys_enter")]
        )
        .value,
        0.25
    );
    assert_eq!(
        find(&m, "tracer_bpf_stats_sampled_seconds_total", &[]).value,
        2.0
    );
    assert_eq!(find(&m, "tracer_run_seconds", &[]).value, 15.0);

    // Every family written is a row of the metric table, with its type and label names, and
    // with overhead and a profile every row is written.
    assert_eq!(types.len(), METRICS.len());
    for row in METRICS {
        assert_eq!(types[row.name], row.kind.as_str(), "{}", row.name);
    }
    for x in &m {
        let row = METRICS
            .iter()
            .find(|r| x.name.starts_with(r.name))
            .unwrap_or_else(|| panic!("{} is not in the table", x.name));
        let mut names: Vec<&str> = x.labels.keys().map(String::as_str).collect();
        names.retain(|l| *l != "le");
        // Every family carries the host first (`--host-label`), then its own labels.
        let mut want = row.labels.to_vec();
        want.push(tracer::output::metrics::table::HOST_LABEL);
        want.sort_unstable();
        assert_eq!(names, want, "{}", x.name);
        assert_eq!(x.labels["host"], "host-a", "{}", x.name);
    }
    assert!(
        text.contains("# HELP tracer_cpu_samples_total On-CPU stack samples (99 Hz per CPU)"),
        "the frequency fills the help text"
    );
}

#[test]
fn metrics_without_overhead_or_profile_or_roles_stay_valid() {
    let s = Canned::new(2.0).node(1).no_profile().build();
    let text = render(&s, None);
    let (m, types) = parse(&text);
    assert!(!types.contains_key("tracer_self_cpu_seconds_total"));
    assert!(!types.contains_key("tracer_cpu_samples_total"));
    assert!(!types.contains_key("tracer_node_role"));
    assert_eq!(
        find(
            &m,
            "tracer_lost_events_total",
            &[("reason", "stack_collision")]
        )
        .value,
        0.0
    );
}

// ---------------------------------------------------------------- endpoint

/// One raw HTTP/1.1 request; returns (status line, headers lower-cased, body).
fn request(addr: std::net::SocketAddr, req: &str) -> (String, HashMap<String, String>, String) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    (status, headers, body.to_string())
}

#[test]
fn endpoint_serves_the_current_body_and_404_elsewhere() {
    let body = Arc::new(Mutex::new(String::from("tracer_run_seconds 1\n")));
    let server = MetricsServer::start("127.0.0.1:0", body.clone()).unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);

    let get = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n";
    let (status, headers, b) = request(addr, get);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers["content-type"].starts_with("text/plain; version=0.0.4"),
        "{headers:?}"
    );
    assert_eq!(headers["connection"], "close");
    assert_eq!(b, "tracer_run_seconds 1\n");
    assert_eq!(headers["content-length"], b.len().to_string());

    // The run loop replaces the body after a window: the next scrape sees it.
    let text = render(&metrics_snapshot(), None);
    *body.lock().unwrap() = text.clone();
    let (_, headers, b) = request(addr, get);
    assert_eq!(b, text);
    assert_eq!(headers["content-length"], text.len().to_string());
    parse(&b);

    let (_, _, b) = request(addr, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert_eq!(b, text, "query strings are ignored");

    let (status, _, _) = request(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, headers, _) = request(addr, "POST /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(headers["allow"], "GET, HEAD");

    drop(server);
    // Stopped on drop: the port is free again.
    TcpListener::bind(addr).expect("port released after drop");
}

#[test]
fn endpoint_errors_say_what_is_wrong_with_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let body = Arc::new(Mutex::new(String::new()));
    let e = MetricsServer::start(&addr, body.clone())
        .err()
        .expect("address in use")
        .to_string();
    assert!(e.contains("already in use") && e.contains(&addr), "{e}");

    for bad in ["9464", "localhost", "127.0.0.1:notaport"] {
        let e = MetricsServer::start(bad, body.clone())
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"))
            .to_string();
        assert!(e.contains("invalid metrics address"), "{bad}: {e}");
    }
}

/// Prometheus's own linter reads the text: `promtool check metrics` parses it with the
/// server's parser and applies the naming and help conventions, exiting non-zero on a problem.
#[test]
fn promtool_check_metrics_accepts_the_text() {
    let overhead = SelfCost {
        tracer_cpu_seconds: 1.25,
        tracer_rss_bytes: 48 << 20,
        bpf_programs: vec![("sys_enter".into(), 1_000_000, 250_000_000)],
        bpf_sampled_seconds: 2.0,
        kernel_maps: vec![],
    };
    for text in [
        render(&metrics_snapshot(), Some(&overhead)),
        render(&Canned::new(2.0).node(1).no_profile().build(), None),
    ] {
        let mut child = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool installed (cargo xtask setup installs Debian's prometheus)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
