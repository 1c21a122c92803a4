//! Roles and disk views on a live cluster: exactly one leader; killing it mid-run shows the
//! role change and the new leader while the survivors stay traced; disk and data-dir figures
//! agree with what the nodes wrote.

mod common;

use common::*;
use std::process::{Child, Command};
use std::time::Duration;
use tracer::model::Snapshot;
use tracer_test_support::{ClientMode, ClientOpts, Cluster, ClusterOpts, Fsync};

fn stop_tracer(mut tracer: Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGTERM) };
    assert!(tracer.wait().unwrap().success());
}

fn role_of(s: &Snapshot, pid: u32) -> Option<String> {
    s.roles
        .iter()
        .find(|r| r.pid == pid)
        .and_then(|r| r.final_role().map(String::from))
}

fn load(threads: u32, secs: u64) -> ClientOpts {
    ClientOpts {
        threads,
        ops_per_thread: None,
        duration: Some(Duration::from_secs(secs)),
        mode: ClientMode::Put,
        value_bytes: 256,
        rate_per_thread: None,
    }
}

#[test]
fn one_leader_and_a_role_change_when_it_dies() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Every,
        ..ClusterOpts::default()
    })
    .unwrap();
    let first = cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let pids = cluster.pids();
    let args = with_pids(
        vec![
            "--no-sample".to_string(),
            "-o".into(),
            out.path().display().to_string(),
        ],
        &pids,
    );
    let tracer = start_tracer(&args);
    cluster.run_client(&load(2, 2)).unwrap();
    let old_leader_pid = pids[first];
    cluster.kill_node(first).unwrap();
    let second = cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    assert_ne!(first, second);
    let report = cluster.run_client(&load(2, 2)).unwrap();
    assert!(report.ops > 0, "the new leader serves");
    std::thread::sleep(Duration::from_millis(700));
    // Under load a second election can follow the first: the leader that matters is the one
    // in charge when tracing stops.
    let second = cluster.current_leader().unwrap_or(second);
    stop_tracer(tracer);
    let snap = load_snapshot(out.path());
    eprintln!("roles: {:#?}", snap.roles);

    let old = snap.roles.iter().find(|r| r.pid == old_leader_pid).unwrap();
    assert_eq!(old.spans.first().map(|s| s.role.as_str()), Some("leader"));
    assert!(snap
        .processes
        .iter()
        .any(|p| p.pid == old_leader_pid && p.exited_at_s.is_some()));
    let new_pid = pids[second];
    let new = snap.roles.iter().find(|r| r.pid == new_pid).unwrap();
    assert_eq!(new.final_role(), Some("leader"));
    assert!(
        new.spans.iter().any(|s| s.role == "follower"),
        "the new leader was a follower first: {:?}",
        new.spans
    );
    // Exactly one leader at the end among the survivors.
    let leaders: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|&p| p != old_leader_pid && role_of(&snap, p).as_deref() == Some("leader"))
        .collect();
    assert_eq!(leaders, vec![new_pid]);
    // Survivors were traced after the kill: their role spans reach the end of the run.
    for &p in pids.iter().filter(|&&p| p != old_leader_pid) {
        let r = snap.roles.iter().find(|r| r.pid == p).unwrap();
        assert!(r.spans.last().unwrap().to_s > snap.duration_s - 1.0);
    }
    drop(cluster);
}

#[test]
fn disk_views_follow_what_the_nodes_wrote() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Every,
        ..ClusterOpts::default()
    })
    .unwrap();
    cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let mut args = vec![
        "--no-sample".to_string(),
        "-d".into(),
        "3s".into(),
        "-o".into(),
        out.path().display().to_string(),
    ];
    args = with_pids(args, &cluster.pids());
    std::thread::scope(|s| {
        let c = s.spawn(|| cluster.run_client(&load(2, 4)).unwrap());
        let st = Command::new(tracer_bin())
            .arg("run")
            .args(&args)
            .status()
            .unwrap();
        assert!(st.success());
        c.join().unwrap();
    });
    let snap = load_snapshot(out.path());
    let disk = snap.disk.expect("disk report");
    eprintln!("{disk:#?}");
    for p in &snap.processes {
        // Every node wrote its persister file: /proc/PID/io saw bytes written.
        let io = disk.processes.iter().find(|i| i.pid == p.pid).unwrap();
        assert!(io.wchar > 0, "{} wrote", p.pid);
        // Its data directory grew (or at least was measured before and after).
        let dir = disk
            .data_dirs
            .iter()
            .find(|d| d.pid == p.pid && d.path.contains("node"))
            .expect("the node's data dir");
        assert!(dir.bytes_before.is_some());
        assert!(dir.bytes_after >= dir.bytes_before.unwrap());
    }
    // fsync every: the block device saw writes and flushes.
    assert!(
        disk.devices.iter().any(|d| d.writes > 0),
        "{:?}",
        disk.devices
    );
    drop(cluster);
}

/// The probe budget removes the leader's hot role function (`Raft::sendAppendEntries`, one
/// call per follower per replication round) while `Raft::doHeartBeat` stays probed, and roles
/// still come out right from it: one leader, for the whole run, with its heartbeat rate.
#[test]
fn a_hot_role_function_is_unprobed_and_roles_rest_on_the_heartbeat() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Batch,
        ..ClusterOpts::default()
    })
    .unwrap();
    let leader = cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let pids = cluster.pids();
    // The fixture's heartbeat is 50 ms (20 calls/s): a budget of 100/s keeps doHeartBeat
    // and removes sendAppendEntries once two client threads drive replication.
    let args = with_pids(
        vec![
            "--no-sample".to_string(),
            "--probe-budget".into(),
            "100".into(),
            "-o".into(),
            out.path().display().to_string(),
        ],
        &pids,
    );
    let tracer = start_tracer(&args);
    cluster.run_client(&load(2, 4)).unwrap();
    stop_tracer(tracer);
    let snap = load_snapshot(out.path());
    let leader_pid = pids[leader];
    let func = |name: &str| {
        snap.functions
            .iter()
            .find(|f| f.pid == leader_pid && f.function.starts_with(name))
            .unwrap_or_else(|| panic!("{name} of the leader in {:#?}", snap.functions))
    };
    assert!(
        func("Raft::sendAppendEntries").detached_at_s.is_some(),
        "the hot role function was unprobed"
    );
    assert!(
        func("Raft::doHeartBeat").detached_at_s.is_none(),
        "the heartbeat stays probed"
    );
    assert_eq!(role_of(&snap, leader_pid).as_deref(), Some("leader"));
    let roles = snap.roles.iter().find(|r| r.pid == leader_pid).unwrap();
    assert!(
        roles.spans.iter().all(|s| s.role == "leader"),
        "leader all along: {roles:#?}"
    );
    let hb = roles.heartbeat_per_s.unwrap();
    assert!(
        (10.0..=30.0).contains(&hb),
        "heartbeat {hb}/s (fixture: 20/s)"
    );
    for (i, &p) in pids.iter().enumerate() {
        if i != leader {
            assert_eq!(role_of(&snap, p).as_deref(), Some("follower"));
        }
    }
}
