//! On the fixture cluster under client load, the fsync/fdatasync and persister-file write
//! counts tracer reports equal, exactly, what each node counted itself (its interposed libc
//! functions count every such syscall on its persister files).

mod common;

use common::*;
use std::process::Child;
use std::time::{Duration, Instant};
use tracer_test_support::{ClientMode, ClientOpts, Cluster, ClusterOpts, Fsync};

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("tracer did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_cluster(fsync: Fsync, value_bytes: usize) {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync,
        start_paused: true,
        ..ClusterOpts::default()
    })
    .unwrap();
    let pids = cluster.pids();
    let args = with_pids(
        vec!["-o".to_string(), out.path().display().to_string()],
        &pids,
    );
    let mut tracer = start_tracer(&args);
    cluster.resume().unwrap();
    cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let report = cluster
        .run_client(&ClientOpts {
            threads: 2,
            ops_per_thread: Some(300),
            duration: None,
            mode: ClientMode::Put,
            value_bytes,
            rate_per_thread: None,
        })
        .unwrap();
    assert!(report.ops > 0, "client made progress: {report:?}");
    let truths = cluster.stop().unwrap();
    // Every traced node exited: the tracer stops by itself and writes its session.
    let status = wait_with_timeout(&mut tracer, Duration::from_secs(30));
    assert!(status.success());
    let snap = load_snapshot(out.path());
    assert!(
        count_drops(&snap).is_empty(),
        "lost events: {:?}",
        snap.drops
    );

    for truth in &truths {
        assert!(truth.quiesced, "node {} counted while busy", truth.node_id);
        let pid = truth.pid;
        let process_count = |name: &str| -> u64 {
            snap.syscalls
                .iter()
                .filter(|r| r.pid == pid && r.name == name)
                .map(|r| r.stats.count)
                .sum()
        };
        let file_count = |name: &str| -> u64 {
            snap.files
                .iter()
                .filter(|f| f.pid == pid && f.syscall == name)
                .filter(|f| truth.persister_io.files.contains(&f.path))
                .map(|f| f.stats.count)
                .sum()
        };
        let io = &truth.persister_io;
        eprintln!("node {} pid {pid}: truth {io:?}", truth.node_id);
        assert_eq!(
            process_count("fsync"),
            io.fsync,
            "fsync calls of node {}",
            truth.node_id
        );
        assert_eq!(
            process_count("fdatasync"),
            io.fdatasync,
            "fdatasync calls of node {}",
            truth.node_id
        );
        assert_eq!(
            file_count("write"),
            io.write,
            "persister writes, node {}",
            truth.node_id
        );
        assert_eq!(
            file_count("writev"),
            io.writev,
            "persister writevs, node {}",
            truth.node_id
        );
        assert_eq!(file_count("fsync"), io.fsync);
        assert_eq!(file_count("fdatasync"), io.fdatasync);
        let bytes: u64 = snap
            .files
            .iter()
            .filter(|f| f.pid == pid && (f.syscall == "write" || f.syscall == "writev"))
            .filter(|f| truth.persister_io.files.contains(&f.path))
            .map(|f| f.stats.bytes)
            .sum();
        assert_eq!(
            bytes, io.write_bytes,
            "persister bytes, node {}",
            truth.node_id
        );
        assert!(io.write + io.writev > 0, "the workload persisted something");
    }
}

#[test]
fn fsync_every_counts_equal_ground_truth() {
    check_cluster(Fsync::Every, 0);
}

#[test]
fn fsync_batch_with_large_values_counts_equal_ground_truth() {
    // Large values make libstdc++ write with writev; batch mode flushes with fdatasync.
    check_cluster(Fsync::Batch, 2048);
}
