//! Continuous mode: a run without --duration closes a window every --interval; the windows'
//! counts add up exactly to the final totals, and SIGTERM writes the final report.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tracer::model::Snapshot;
use tracer_test_support::{ClientMode, ClientOpts, Cluster, ClusterOpts, Fsync};

fn syscall_counts(s: &Snapshot) -> BTreeMap<(u32, String), u64> {
    let mut m = BTreeMap::new();
    for r in &s.syscalls {
        *m.entry((r.pid, r.name.clone())).or_insert(0) += r.stats.count;
    }
    m
}

#[test]
fn windows_add_up_to_the_totals_and_sigterm_writes_the_report() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Batch,
        ..ClusterOpts::default()
    })
    .unwrap();
    cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let mut cmd = Command::new(tracer_bin());
    cmd.args(["run", "--interval", "1s", "-F", "99", "-o"])
        .arg(out.path());
    for p in cluster.pids() {
        cmd.args(["--pid", &p.to_string()]);
    }
    let mut tracer = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(tracer.stderr.take().unwrap()).lines();
    while !lines.next().unwrap().unwrap().contains("tracer: tracing") {}
    std::thread::spawn(move || lines.for_each(|l| eprintln!("{}", l.unwrap_or_default())));
    cluster
        .run_client(&ClientOpts {
            threads: 2,
            ops_per_thread: None,
            duration: Some(Duration::from_secs(4)),
            mode: ClientMode::Put,
            value_bytes: 64,
        })
        .unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGTERM) };
    assert!(tracer.wait().unwrap().success());

    let total = load_snapshot(out.path());
    assert!(out.path().join("TARGETED_PERF_ANALYSIS_REPORT.md").exists());
    let mut windows: Vec<Snapshot> = std::fs::read_dir(out.path().join("windows"))
        .unwrap()
        .flatten()
        .map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap())
        .collect();
    windows.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    assert!(
        windows.len() >= 3,
        "about a window a second: {}",
        windows.len()
    );

    let mut summed: BTreeMap<(u32, String), u64> = BTreeMap::new();
    let mut samples = 0;
    for w in &windows {
        for (k, v) in syscall_counts(w) {
            *summed.entry(k).or_insert(0) += v;
        }
        samples += w.profile.as_ref().map(|p| p.samples).unwrap_or(0);
    }
    assert_eq!(
        summed,
        syscall_counts(&total),
        "windows add up to the totals"
    );
    let total_profile = total.profile.unwrap();
    assert_eq!(samples, total_profile.samples);
    let recorded: u64 = total_profile.stacks.iter().map(|s| s.count).sum();
    let recorded_in_windows: u64 = windows
        .iter()
        .filter_map(|w| w.profile.as_ref())
        .flat_map(|p| p.stacks.iter())
        .map(|s| s.count)
        .sum();
    assert_eq!(recorded, recorded_in_windows);
    drop(cluster);
}
