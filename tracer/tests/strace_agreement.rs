//! `tracer run -- CMD` counts every syscall `strace -f -c CMD` counts, exactly, on
//! deterministic commands: the fixture's syscall workload, a plain binary, and a shell that
//! forks and execs children (following children like `strace -f`).

mod common;

use common::*;
use std::collections::BTreeMap;
use tracer_test_support::{fixture_bins, Variant};

fn tracer_counts(argv: &[&str]) -> (BTreeMap<String, u64>, tracer::model::Snapshot) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["-o", dir.path().to_str().unwrap(), "--"];
    args.extend_from_slice(argv);
    let out = tracer_run(&args);
    assert!(out.status.success(), "tracer run failed");
    let snap = load_snapshot(dir.path());
    (counts_by_name(&snap), snap)
}

fn assert_same_counts(argv: &[&str]) -> tracer::model::Snapshot {
    require_root();
    let expected = strace_counts(argv);
    let (got, snap) = tracer_counts(argv);
    assert!(!expected.is_empty());
    let diff: Vec<String> = expected
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| expected.get(*k) != got.get(*k))
        .map(|k| format!("{k}: strace {:?} tracer {:?}", expected.get(k), got.get(k)))
        .collect();
    assert!(diff.is_empty(), "counts differ:\n{}", diff.join("\n"));
    assert!(
        count_drops(&snap).is_empty(),
        "lost events: {:?}",
        snap.drops
    );
    snap
}

#[test]
fn fixture_workload_counts_equal_strace() {
    let bins = fixture_bins(Variant::Fp).unwrap();
    let workload = bins.workload.to_str().unwrap().to_string();
    let snap = assert_same_counts(&[&workload, "--iters", "2000"]);
    // The workload's own known mix, checked against its definition as well.
    let counts = counts_by_name(&snap);
    assert_eq!(counts.get("getppid"), Some(&2000));
    assert_eq!(counts.get("fsync"), Some(&200));
    assert_eq!(counts.get("fdatasync"), Some(&200));
}

#[test]
fn plain_binary_counts_equal_strace() {
    assert_same_counts(&["/bin/ls", "-l", "/"]);
}

#[test]
fn forking_shell_counts_equal_strace() {
    assert_same_counts(&[
        "/bin/sh",
        "-c",
        "/bin/true; /bin/echo hi > /dev/null; /bin/true",
    ]);
}

#[test]
fn socket_and_file_io_are_told_apart() {
    require_root();
    let bins = fixture_bins(Variant::Fp).unwrap();
    let (_, snap) = tracer_counts(&[bins.workload.to_str().unwrap(), "--iters", "1000"]);
    let count = |name: &str, kind: tracer::model::FdKind| -> u64 {
        snap.syscalls
            .iter()
            .filter(|r| r.name == name && r.fd_kind == kind)
            .map(|r| r.stats.count)
            .sum()
    };
    use tracer::model::FdKind::*;
    // pwrite64 + fsync go to a regular file; send/recv on a socketpair; 64-byte writes to
    // /dev/null (a device: "other").
    assert_eq!(count("pwrite64", File), 100);
    assert_eq!(count("fsync", File), 100);
    assert!(count("sendto", Socket) >= 100, "sends on the socketpair");
    assert!(count("recvfrom", Socket) >= 100, "recvs on the socketpair");
    assert!(count("write", Other) >= 1000, "writes to /dev/null");
    // Per-file rows name the file that was written and flushed.
    let file_rows: Vec<_> = snap.files.iter().filter(|f| f.syscall == "fsync").collect();
    assert_eq!(file_rows.iter().map(|f| f.stats.count).sum::<u64>(), 100);
    assert!(
        file_rows.iter().all(|f| f.path.starts_with('/')),
        "{file_rows:?}"
    );
}
