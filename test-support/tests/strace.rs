//! The fixture's ground truth is exact: strace, attached before the first
//! traced event, sees the same persister syscalls; syscall-workload issues
//! exactly the syscalls it promises.

use std::time::Duration;
use tracer_test_support::strace::{self, StraceSession};
use tracer_test_support::{fixture_bins, ClientOpts, Cluster, ClusterOpts, Fsync, Variant};

const TRACED: &[&str] = &[
    "write",
    "writev",
    "fsync",
    "fdatasync",
    "sendto",
    "recvfrom",
];

fn persister_io_matches_strace(fsync: Fsync, value_bytes: usize) {
    let c = Cluster::start(ClusterOpts {
        fsync,
        start_paused: true,
        ..Default::default()
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let sessions: Vec<StraceSession> = c
        .pids()
        .iter()
        .enumerate()
        .map(|(i, &pid)| {
            StraceSession::attach(pid, TRACED, &out.path().join(format!("strace{i}"))).unwrap()
        })
        .collect();
    c.resume().unwrap();
    c.wait_for_leader(Duration::from_secs(15)).unwrap();
    let opts = ClientOpts {
        ops_per_thread: Some(150),
        value_bytes,
        rate_per_thread: None,
        ..Default::default()
    };
    assert_eq!(c.run_client(&opts).unwrap().ops, 300);
    let gts = c.stop().unwrap();
    for (g, s) in gts.iter().zip(sessions) {
        let text = s.finish(Duration::from_secs(10)).unwrap();
        let seen = strace::count_file_syscalls(&text, &g.persister_io.files);
        let io = &g.persister_io;
        let get = |k: &str| seen.get(k).copied().unwrap_or(0);
        eprintln!(
            "{fsync:?} node {}: ground truth {io:?}, strace {seen:?}",
            g.node_id
        );
        assert!(g.quiesced);
        assert!(io.write + io.writev > 0);
        assert_eq!(get("write"), io.write, "node {}", g.node_id);
        assert_eq!(get("writev"), io.writev, "node {}", g.node_id);
        assert_eq!(get("fsync"), io.fsync, "node {}", g.node_id);
        assert_eq!(get("fdatasync"), io.fdatasync, "node {}", g.node_id);
        // Every sendto/recvfrom of a node is made by the hooked send/recv.
        let all = strace::count_syscalls(&text);
        assert_eq!(all.get("sendto").copied().unwrap_or(0), g.net_io.send);
        assert_eq!(all.get("recvfrom").copied().unwrap_or(0), g.net_io.recv);
        if value_bytes >= 1024 {
            assert!(io.writev > 0, "large records should use writev: {io:?}");
        }
    }
}

#[test]
fn persister_io_equals_strace_fsync_every_small_records() {
    persister_io_matches_strace(Fsync::Every, 0);
}

#[test]
fn persister_io_equals_strace_fsync_batch_large_records() {
    persister_io_matches_strace(Fsync::Batch, 2000);
}

#[test]
fn syscall_workload_matches_strace_c() {
    let bins = fixture_bins(Variant::Fp).unwrap();
    let out = tempfile::tempdir().unwrap();
    let table = out.path().join("summary");
    let expected = strace::workload_expected(1000);
    let names: Vec<&str> = expected.keys().map(String::as_str).collect();
    let status = std::process::Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&table)
        .args(["-e", &format!("trace={}", names.join(","))])
        .arg(&bins.workload)
        .args(["--iters", "1000"])
        .status()
        .unwrap();
    assert!(status.success());
    let seen = strace::parse_summary(&std::fs::read_to_string(&table).unwrap());
    assert_eq!(seen, expected);

    // The program's own statement of what it does agrees too.
    let printed = std::process::Command::new(&bins.workload)
        .args(["--iters", "1000", "--print-expected"])
        .output()
        .unwrap();
    let printed: std::collections::BTreeMap<String, u64> =
        serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(printed, expected);
}

#[test]
fn getppid_loop_reports_ns_per_iteration() {
    let bins = fixture_bins(Variant::NoFp).unwrap();
    let out = std::process::Command::new(&bins.workload)
        .args(["--loop-getppid", "100000"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ns = v["ns_per_iter"].as_f64().unwrap();
    eprintln!("getppid loop: {ns} ns/iter");
    assert!(ns > 0.0);
}
