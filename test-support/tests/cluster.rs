//! The fixture behaves like a Raft KV cluster: one leader, client load
//! succeeds, state is persisted per --fsync, failover and recovery work.

use std::time::Duration;
use tracer_test_support::{
    thread_names, ClientOpts, Cluster, ClusterOpts, Fsync, GroundTruth, Variant,
};

const LEADER_TIMEOUT: Duration = Duration::from_secs(10);

fn leaders(gts: &[GroundTruth]) -> usize {
    gts.iter().filter(|g| g.final_role == "leader").count()
}

#[test]
fn three_nodes_elect_one_leader_and_serve_puts() {
    let c = Cluster::start(ClusterOpts::default()).unwrap();
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let names = thread_names(c.node_pid(leader).unwrap());
    for n in ["sched", "applier", "rpc-accept"] {
        assert!(names.iter().any(|t| t == n), "no {n} thread in {names:?}");
    }
    let report = c.run_client(&ClientOpts::default()).unwrap();
    assert_eq!(report.ops, 4000, "{report:?}");
    assert_eq!(report.errors, 0);
    eprintln!("fsync=every: {report:?}");

    let gts = c.stop().unwrap();
    assert_eq!(gts.len(), 3);
    assert_eq!(leaders(&gts), 1, "{gts:#?}");
    let lead = gts.iter().find(|g| g.final_role == "leader").unwrap();
    assert_eq!(lead.node_id, leader);
    assert!(lead.calls("Persister::saveRaftState") >= 4000);
    assert!(lead.calls("Raft::doHeartBeat") > 0);
    assert_eq!(lead.calls("Raft::leaderElectionTicker"), 1);
    assert_eq!(
        lead.calls("MprpcChannel::CallMethod"),
        lead.calls("MprpcChannel::sendRpcRequest")
    );
    for g in &gts {
        assert!(g.quiesced, "node {} not quiesced", g.node_id);
        assert_eq!(g.calls("Persister::readRaftState"), 1);
        let io = &g.persister_io;
        assert!(g.calls("Persister::saveRaftState") > 0);
        // One flush per save (records are small), one fsync per save.
        assert_eq!(io.write + io.writev, g.calls("Persister::saveRaftState"));
        assert_eq!(io.fsync, g.calls("Persister::saveRaftState"));
        assert_eq!(io.fdatasync, 0);
        assert_eq!(io.files.len(), 1);
        if g.final_role == "follower" {
            assert!(g.calls("Raft::AppendEntries1") > 0);
        }
    }
}

#[test]
fn fsync_off_never_syncs_and_batch_groups_syncs() {
    for fsync in [Fsync::Off, Fsync::Batch] {
        let c = Cluster::start(ClusterOpts {
            fsync,
            ..Default::default()
        })
        .unwrap();
        c.wait_for_leader(LEADER_TIMEOUT).unwrap();
        let report = c.run_client(&ClientOpts::default()).unwrap();
        assert_eq!(report.ops, 4000, "{report:?}");
        eprintln!("fsync={fsync:?}: {report:?}");
        for g in c.stop().unwrap() {
            let io = &g.persister_io;
            let saves = g.calls("Persister::saveRaftState");
            assert!(saves > 0 && io.write > 0);
            assert_eq!(io.fsync, 0, "{fsync:?} {io:?}");
            match fsync {
                Fsync::Off => assert_eq!(io.fdatasync, 0),
                _ => {
                    // At most one per 10 ms, and fewer than saves (grouped).
                    assert!(
                        io.fdatasync > 0 && io.fdatasync < saves,
                        "{io:?} saves {saves}"
                    );
                }
            }
        }
    }
}

#[test]
fn leader_kill_elects_new_leader_and_restart_recovers_term() {
    let mut c = Cluster::start(ClusterOpts::default()).unwrap();
    let old = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let small = ClientOpts {
        ops_per_thread: Some(200),
        ..Default::default()
    };
    assert_eq!(c.run_client(&small).unwrap().ops, 400);
    let old_term = c.node_status(old).unwrap().term;

    c.kill_node(old).unwrap();
    let t0 = std::time::Instant::now();
    let new = loop {
        let l = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
        if l != old {
            break l;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let failover = t0.elapsed();
    assert!(
        failover < Duration::from_secs(5),
        "failover took {failover:?}"
    );
    let new_term = c.node_status(new).unwrap().term;
    assert!(new_term > old_term);
    assert_eq!(c.run_client(&small).unwrap().ops, 400);

    c.restart_node(old).unwrap();
    // Recovered from disk: term at least the one it had when killed, before
    // it hears from anyone (the log line is printed during init).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let recovered = loop {
        let log = std::fs::read_to_string(c.log_path(old)).unwrap();
        if let Some(line) = log.lines().find(|l| l.contains("recovered term")) {
            break line.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery line:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let term: i64 = recovered
        .split_whitespace()
        .nth(4)
        .unwrap()
        .parse()
        .unwrap();
    assert!(term >= old_term, "{recovered} vs old term {old_term}");
    // It catches up: commit index reaches the leader's.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let lead = c.node_status(new).unwrap();
        let s = c.node_status(old);
        if s.as_ref()
            .is_ok_and(|s| s.term == lead.term && s.last_applied >= 800)
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{s:?} vs {lead:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("failover {failover:?}, terms {old_term} -> {new_term}");
    let gts = c.stop().unwrap();
    assert_eq!(gts.len(), 3);
    // The restarted node caught up 800+ entries in batches: large records
    // leave libstdc++ through writev.
    let restarted = gts.iter().find(|g| g.node_id == old).unwrap();
    assert!(
        restarted.persister_io.writev > 0,
        "{:?}",
        restarted.persister_io
    );
}

#[test]
fn launcher_forks_all_nodes() {
    let c = Cluster::start(ClusterOpts {
        launcher: true,
        ..Default::default()
    })
    .unwrap();
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let parent = c.launcher_pid().unwrap();
    let mut kids = tracer_test_support::children_of(parent);
    let mut pids = c.pids();
    kids.sort_unstable();
    pids.sort_unstable();
    assert_eq!(kids, pids);
    let small = ClientOpts {
        ops_per_thread: Some(100),
        ..Default::default()
    };
    assert_eq!(c.run_client(&small).unwrap().ops, 200);
    let gts = c.stop().unwrap();
    assert_eq!(gts.len(), 3);
    assert_eq!(gts[leader].final_role, "leader");
    for (i, g) in gts.iter().enumerate() {
        assert_eq!(g.node_id, i);
        assert_eq!(g.pid, pids[i]);
    }
}

#[test]
fn nofp_build_works_and_knobs_are_honoured() {
    let c = Cluster::start(ClusterOpts {
        variant: Variant::NoFp,
        fsync: Fsync::Off,
        extra_node_args: [
            "--burn-applier-us",
            "100",
            "--hold-lock-us",
            "50",
            "--persist-sleep-us",
            "50",
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    })
    .unwrap();
    c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let small = ClientOpts {
        ops_per_thread: Some(100),
        ..Default::default()
    };
    let report = c.run_client(&small).unwrap();
    assert_eq!(report.ops, 200);
    c.wait_for_convergence(Duration::from_secs(5)).unwrap();
    for g in c.stop().unwrap() {
        // Every node applies every entry, burning CPU per entry.
        assert!(g.calls("Raft::burnCpu") >= 200, "{:?}", g.calls);
    }
}

/// `--rate` paces the client: the ops it completes are what the schedule allows (not what
/// the cluster could do), with the leader applying exactly those PUTs.
#[test]
fn paced_client_sends_at_its_rate() {
    let c = Cluster::start(ClusterOpts {
        fsync: Fsync::Batch,
        ..Default::default()
    })
    .unwrap();
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let report = c
        .run_client(&ClientOpts {
            threads: 2,
            ops_per_thread: None,
            duration: Some(std::time::Duration::from_secs(3)),
            rate_per_thread: Some(200),
            ..ClientOpts::default()
        })
        .unwrap();
    // 2 threads x 200/s x 3 s, op i of a thread due at start + i/200 s: 600 per thread.
    assert_eq!(report.ops, 1200, "{report:?}");
    assert_eq!(report.errors, 0);
    let gts = c.stop().unwrap();
    let saves = gts[leader].calls("Persister::saveRaftState");
    assert!(saves >= 1200, "{saves} saves for 1200 PUTs");
}
