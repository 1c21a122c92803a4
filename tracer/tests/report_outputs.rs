//! The session outputs of a canned run (no BPF): summary.json validates against
//! `docs/summary-schema.json`, every file the report and summary.json link exists and is not
//! empty, and the original script's per-layer files are there, labelled leader/follower.

use std::path::Path;

use serde_json::Value;
mod common;
use common::canned::{stats, Canned};
use tracer::model::{FdKind, Snapshot};
use tracer::output::owner::Owner;
use tracer::output::session_dir::SessionDir;
use tracer::output::session_folder;

fn pathological() -> Snapshot {
    let data = |i: u32| format!("/data/node{i}/raftstatePersist{i}.txt");
    let mut c = Canned::new(10.0);
    for pid in [101, 102, 103] {
        c = c
            .node(pid)
            .samples(
                pid,
                "rpc-io",
                &[
                    "start_thread",
                    "RpcProvider::OnMessage()",
                    "Raft::AppendEntries1()",
                ],
                60,
            )
            .samples(
                pid,
                "sched",
                &[
                    "Scheduler::run()",
                    "Raft::leaderHearBeatTicker()",
                    "Raft::doHeartBeat()",
                ],
                30,
            )
            .samples(
                pid,
                "hb-send-1",
                &["Raft::sendAppendEntries(int)", "send"],
                10,
            )
            .file_io(
                pid,
                &data(pid - 101),
                "write",
                stats(14_500, 2_000, 1_450_000),
            )
            .file_io(pid, &data(pid - 101), "fsync", stats(14_500, 500_000, 0))
            .syscall(pid, "epoll_wait", FdKind::Other, stats(100, 10_000_000, 0))
            .offcpu(
                pid,
                "rpc-io",
                &["Raft::AppendEntries1()", "__lll_lock_wait"],
                Some("consensus"),
                "futex",
                3_000_000_000,
            )
            .data_dir(
                pid,
                &format!("/data/node{}", pid - 101),
                Some(1000),
                2_001_000,
            )
            .process_io(pid, 4_000_000);
    }
    c.roles(
        101,
        &[("follower", 0.0, 1.0), ("leader", 1.0, 10.0)],
        Some(200.0),
    )
    .roles(102, &[("follower", 0.0, 10.0)], None)
    .roles(103, &[("follower", 0.0, 10.0)], None)
    .device("vda", 1000, 15_000)
    .function(
        101,
        "Persister::saveRaftState(std::string const&)",
        "log_io",
        14_500,
    )
    .function(101, "MprpcChannel::CallMethod()", "network", 3000)
    .note("canned run")
    .build()
}

fn render(s: &Snapshot) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let folder = SessionDir::open(dir.path(), Owner::invoking()).unwrap();
    session_folder::save_snapshot(s, &folder).unwrap();
    session_folder::render(s, &folder).unwrap();
    dir
}

fn non_empty(dir: &Path, rel: &str) {
    let m = std::fs::metadata(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(m.len() > 0, "{rel} is empty");
}

/// Relative targets of `[text](target)` links in Markdown.
fn markdown_links(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = md;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(j) = rest.find(')') {
            out.push(rest[..j].to_string());
        }
    }
    out
}

// ---- a checker for the JSON Schema subset docs/summary-schema.json uses ----

fn type_ok(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        other => panic!("schema type {other} not supported by the checker"),
    }
}

fn validate(v: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(t) = schema.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(v, t),
            Value::Array(ts) => ts.iter().any(|t| type_ok(v, t.as_str().unwrap())),
            _ => panic!("bad type in schema at {path}"),
        };
        if !ok {
            errors.push(format!("{path}: {v} is not {t}"));
            return;
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(v) {
            errors.push(format!("{path}: {v} not in {allowed:?}"));
        }
    }
    if let Some(obj) = v.as_object() {
        if let Some(Value::Array(req)) = schema.get("required") {
            for r in req {
                if !obj.contains_key(r.as_str().unwrap()) {
                    errors.push(format!("{path}: missing {r}"));
                }
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(val, s, &format!("{path}.{k}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{path}: unexpected {k}")),
                    Some(s @ Value::Object(_)) => validate(val, s, &format!("{path}.{k}"), errors),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(x, items, &format!("{path}[{i}]"), errors);
        }
    }
}

fn schema() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/summary-schema.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let mut errors = Vec::new();
    let bad = serde_json::json!({"schema_version": 2, "surprise": 1});
    validate(&bad, &schema(), "$", &mut errors);
    assert!(errors.iter().any(|e| e.contains("not in")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("unexpected surprise")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("missing \"findings\"")),
        "{errors:?}"
    );
}

#[test]
fn summary_validates_and_every_link_exists() {
    for s in [
        pathological(),
        Canned::new(5.0).node(7).no_profile().build(),
    ] {
        let dir = render(&s);
        let d = dir.path();
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap())
                .unwrap();
        let mut errors = Vec::new();
        validate(&summary, &schema(), "$", &mut errors);
        assert!(errors.is_empty(), "summary.json invalid: {errors:#?}");
        for l in summary["links"].as_array().unwrap() {
            non_empty(d, l.as_str().unwrap());
        }
        let md = std::fs::read_to_string(d.join(session_folder::REPORT_FILE)).unwrap();
        let links = markdown_links(&md);
        assert!(links.len() > 5, "{links:?}");
        for l in links {
            assert!(
                !l.starts_with('/') && !l.contains("://"),
                "not relative: {l}"
            );
            non_empty(d, &l);
        }
    }
}

#[test]
fn pathological_run_raises_the_fsync_heartbeat_and_lock_findings_with_their_numbers() {
    let dir = render(&pathological());
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    let find = |id: &str, node: u64| {
        summary["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id && f["node"] == node)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    let f = find("log_io.fsync_rate", 101);
    assert_eq!(
        (f["status"].as_str(), f["value"].as_f64()),
        (Some("warning"), Some(1450.0))
    );
    assert!(f["message"]
        .as_str()
        .unwrap()
        .starts_with("fsync+fdatasync rate 1450/s > 1000/s"));
    let f = find("consensus.heartbeat_rate", 101);
    assert_eq!(
        (f["status"].as_str(), f["value"].as_f64()),
        (Some("warning"), Some(200.0))
    );
    let f = find("consensus.lock_share", 102);
    assert_eq!(
        (f["status"].as_str(), f["value"].as_f64()),
        (Some("warning"), Some(30.0))
    );
    let f = find("disk.write_fsync_ratio", 103);
    assert_eq!(
        (f["status"].as_str(), f["value"].as_f64()),
        (Some("warning"), Some(1.0))
    );
    assert_eq!(summary["nodes"][0]["role"], "leader");
    let md = std::fs::read_to_string(dir.path().join(session_folder::REPORT_FILE)).unwrap();
    assert!(
        md.contains("at 1.0 s: node0 (leader) follower → leader"),
        "{md}"
    );
}

#[test]
fn original_layer_files_exist_and_consensus_files_name_the_role() {
    let dir = render(&pathological());
    let d = dir.path();
    for rel in [
        "01_network_layer/network_flamegraph.svg",
        "01_network_layer/network_perf_report.txt",
        "01_network_layer/network_hotspots.txt",
        "01_network_layer/network_functions.txt",
        "01_network_layer/network_shares.txt",
        "02_log_io_layer/log_io_flamegraph.svg",
        "02_log_io_layer/log_io_functions.txt",
        "02_log_io_layer/write_fsync_files.txt",
        "02_log_io_layer/iostat_during_test.txt",
        "02_log_io_layer/persister_analysis.txt",
        "03_consensus_layer/consensus_hotspots.txt",
        "04_disk_io_dedicated/iotop_nodes.txt",
        "04_disk_io_dedicated/disk_before.txt",
        "04_disk_io_dedicated/disk_after.txt",
        "index.html",
    ] {
        non_empty(d, rel);
    }
    for (i, role) in [(0, "leader"), (1, "follower"), (2, "follower")] {
        let svg = std::fs::read_to_string(d.join(format!(
            "03_consensus_layer/consensus_node{i}_flamegraph.svg"
        )))
        .unwrap();
        assert!(svg.contains(&format!("consensus layer, {role}")), "node{i}");
        let txt = std::fs::read_to_string(
            d.join(format!("03_consensus_layer/consensus_node{i}_report.txt")),
        )
        .unwrap();
        assert!(
            txt.starts_with(&format!("# node{i} (pid {}, {role})", 101 + i)),
            "{txt}"
        );
    }
    let iostat = std::fs::read_to_string(d.join("02_log_io_layer/iostat_during_test.txt")).unwrap();
    assert!(iostat.contains("vda"), "{iostat}");
    let hot = std::fs::read_to_string(d.join("03_consensus_layer/consensus_hotspots.txt")).unwrap();
    assert!(hot.contains("leader%"), "{hot}");
}
