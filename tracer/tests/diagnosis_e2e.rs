//! Diagnosis on real runs (issue 10): a busy-polling scheduler thread is found spinning, named,
//! at the call rate the fixture counted itself; a healthy cluster traced several times raises
//! no warning and no verdict flips between runs.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracer::analyse::findings::{evaluate, Finding, Status};
use tracer::analyse::{roles, spinning};
use tracer::model::Snapshot;
use tracer_test_support::{ClientMode, ClientOpts, Cluster, ClusterOpts, Fsync};

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// Traces `cluster` for `secs` with a light client load; returns the snapshot and the epoch ms
/// at which the tracer said it was tracing (from then on it counts every event).
fn trace(cluster: &Cluster, secs: u32) -> (Snapshot, f64) {
    let out = tempfile::tempdir().unwrap();
    let args = with_pids(
        vec![
            "-d".into(),
            format!("{secs}s"),
            "-F".into(),
            "99".into(),
            "-o".into(),
            out.path().display().to_string(),
        ],
        &cluster.pids(),
    );
    let t0 = std::thread::scope(|s| {
        let c = s.spawn(|| {
            cluster
                .run_client(&ClientOpts {
                    threads: 1,
                    ops_per_thread: None,
                    duration: Some(Duration::from_secs(secs as u64 + 3)),
                    mode: ClientMode::Put,
                    value_bytes: 16,
                    rate_per_thread: Some(200),
                })
                .unwrap()
        });
        let mut tracer = start_tracer(&args);
        let t0 = now_ms();
        assert!(tracer.wait().unwrap().success());
        c.join().unwrap();
        t0
    });
    (load_snapshot(out.path()), t0)
}

#[test]
fn busy_polling_thread_is_found_spinning_at_its_own_rate() {
    require_root();
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Batch,
        per_node_args: BTreeMap::from([(0usize, vec!["--busy-poll".to_string()])]),
        ..ClusterOpts::default()
    })
    .unwrap();
    cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let (snap, t0) = trace(&cluster, 5);
    let p0 = cluster.node_pid(0).unwrap();
    let truth = cluster.stop().unwrap()[0]
        .busy_poll
        .clone()
        .expect("node 0 reports its busy-poll thread");
    let findings = evaluate(&snap);
    let spin = findings
        .iter()
        .find(|f| f.id == "cpu.spinning_thread" && f.node == Some(p0))
        .expect("a spinning finding for node 0");
    eprintln!("{:?}: {} [{}]", spin.status, spin.message, spin.detail);

    // The thread never blocks: on CPU or runnable all the time, by its own clocks.
    let truth_busy = (truth.cpu_ns + truth.run_delay_ns) as f64 / truth.wall_ns as f64;
    assert!(truth_busy > 0.95, "fixture thread busy {truth_busy}");
    assert_eq!(spin.status, Status::Warning, "{}", spin.message);
    assert!(spin.detail.contains(&truth.thread), "{}", spin.detail);

    let node = roles::nodes(&snap)
        .into_iter()
        .find(|n| n.pid == p0)
        .unwrap();
    let threads = spinning::threads(&snap, p0, node.lifetime_s);
    let t = threads
        .iter()
        .find(|t| t.thread == truth.thread)
        .expect("the sched-poll thread");
    assert!(t.polls(), "{t:?}");
    // Busy share (not blocked): tracer's is 100% minus its blocked time, the fixture's its
    // CPU plus run-queue time over its whole life (tracing's is the traced window): within
    // 10 points.
    assert!(
        (t.busy_pct - 100.0 * truth_busy).abs() < 10.0,
        "tracer {:.1}% vs fixture {:.1}%",
        t.busy_pct,
        100.0 * truth_busy
    );
    // The rate over the traced window, from the fixture's own call series (its rate while
    // traced is lower than untraced: every traced syscall costs more). The window starts
    // when the tracer said "tracing" (a few ms after it attached) and lasts the snapshot's
    // duration; the 10% tolerates that offset and the other threads' rare epoll_waits.
    let ep = t
        .syscalls
        .iter()
        .find(|s| s.name == "epoll_wait")
        .expect("epoll_wait among its syscalls");
    let want = truth
        .calls_per_s_between(t0, t0 + snap.duration_s * 1000.0)
        .expect("the traced window inside the fixture's series");
    eprintln!(
        "epoll_wait: tracer {:.0}/s, fixture {want:.0}/s over the window ({:.0}/s over its life)",
        ep.per_s,
        truth.calls_per_s()
    );
    assert!(
        (ep.per_s - want).abs() / want < 0.10,
        "tracer {:.0}/s vs fixture {want:.0}/s",
        ep.per_s
    );
    assert!(
        t.top_frames
            .iter()
            .any(|(f, _)| f.contains("epoll_wait") || f.contains(&truth.function)),
        "{:?}",
        t.top_frames
    );
}

/// Every finding's verdict by (id, node index and subject): `ok`, `warning`, or `no verdict`
/// (info or not measured). Ok in one run and warning in another is a flip: a verdict that
/// rested on chance. A share near its threshold may be ok in one run and have no verdict (its
/// bound straddles the threshold) in the next: that is the bound doing its job, not a flip
/// (seen for node0's heartbeat share in a CI run).
fn verdicts(findings: &[Finding], nodes: &[u32]) -> BTreeMap<(String, String), &'static str> {
    findings
        .iter()
        .map(|f| {
            // Nodes by index: the same cluster is traced each time.
            let who = f
                .node
                .and_then(|p| nodes.iter().position(|&n| n == p))
                .map_or("all".to_string(), |i| format!("node{i}"));
            let verdict = match f.status {
                Status::Ok => "ok",
                Status::Warning => "warning",
                Status::Info | Status::NotMeasured => "no verdict",
            };
            (
                (
                    f.id.to_string(),
                    format!("{who} {}", f.subject.clone().unwrap_or_default()),
                ),
                verdict,
            )
        })
        .collect()
}

#[test]
fn healthy_cluster_raises_nothing_and_no_verdict_flips_between_runs() {
    require_root();
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Batch,
        heartbeat_ms: 50,
        // Group commit every 50 ms, as findings_e2e's healthy run: at the default 10 ms a
        // loaded machine's few hundred saves/s make < 10 writes per flush, a real finding.
        extra_node_args: vec!["--fsync-batch-ms".into(), "50".into()],
        ..ClusterOpts::default()
    })
    .unwrap();
    cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let pids = cluster.pids();
    let mut runs = Vec::new();
    // Three short runs: enough to see a verdict that depends on chance, short enough to keep
    // the test under a minute.
    for _ in 0..3 {
        let (snap, _) = trace(&cluster, 3);
        let findings = evaluate(&snap);
        // Not a false alarm: the fixture spawns an `hb-send` thread per follower per
        // AppendEntries round, as KVstorageBaseRaft-cpp does, so under client load its leader
        // really creates hundreds of threads per second (519/s in a CI run). It still must not
        // flip between runs (checked below with every other verdict).
        let warnings: Vec<String> = findings
            .iter()
            .filter(|f| f.status == Status::Warning && f.id != "process.thread_churn")
            .map(|f| format!("{} {:?}: {}", f.id, f.node, f.message))
            .collect();
        assert!(warnings.is_empty(), "a healthy run warned: {warnings:#?}");
        runs.push(verdicts(&findings, &pids));
    }
    cluster.stop().unwrap();
    let keys: BTreeSet<_> = runs.iter().flat_map(|r| r.keys().cloned()).collect();
    for k in keys {
        let seen: BTreeSet<&str> = runs
            .iter()
            .map(|r| r.get(&k).copied().unwrap_or("absent"))
            .collect();
        // A flip is a contradiction: "ok" in one run, "warning" in another. "no verdict" (the
        // share's 95% bound straddles the threshold) beside either is the honest answer for a
        // share near its threshold, and what issue 10 item 4 asks for instead of a guess.
        assert!(
            !(seen.contains("ok") && seen.contains("warning")),
            "{k:?} flipped between runs: {seen:?}"
        );
    }
    // Something was judged: the test would pass on a run that measured nothing.
    let judged = runs[0].values().filter(|v| **v == "ok").count();
    assert!(judged >= 10, "{:#?}", runs[0]);
}
