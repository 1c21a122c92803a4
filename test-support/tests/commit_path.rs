//! Ground truth for the commit path: save durations that change mid-run
//! (`--persist-sleep-after-ms`) and the per-entry timeline (`--entry-log`) with one slow
//! follower (`--delay-follower-persist-us`), each checked for what it must show.

use std::collections::BTreeMap;
use std::time::Duration;
use tracer_test_support::{quantile, ClientOpts, Cluster, ClusterOpts, EntryLog, Fsync, Stage};

const LEADER_TIMEOUT: Duration = Duration::from_secs(10);

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// 2 ms per save for the first 1.5 s, 4 ms after: each phase's p50 is its sleep plus the
/// save's own work, and the step between them is the 2 ms added. Bounds: a sleep never ends
/// early (min >= sleep); the save's own work (a write of a few dozen bytes, no fsync) plus
/// the sleep's overshoot is well under 0.6 ms at p50 even with the 2 CPUs shared.
#[test]
fn persist_sleep_switches_mid_run() {
    let mut c = Cluster::start(ClusterOpts {
        fsync: Fsync::Off,
        extra_node_args: args(&[
            "--persist-sleep-us",
            "2000",
            "--persist-sleep-after-ms",
            "1500",
            "--persist-sleep-us-after",
            "4000",
        ]),
        ..Default::default()
    })
    .unwrap();
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let report = c
        .run_client(&ClientOpts {
            threads: 2,
            ops_per_thread: None,
            duration: Some(Duration::from_millis(2500)),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(report.errors, 0);
    let gts = c.stop_nodes().unwrap();
    let g = &gts[leader];
    let t = g.persist_timing.clone().expect("persist_timing section");
    let saves = t.saves().unwrap();
    eprintln!("leader: {t:?}; {} saves in the file", saves.len());
    assert_eq!(t.saves_dropped, 0);
    assert_eq!(t.saves_recorded, g.calls("Persister::saveRaftState"));
    assert_eq!(saves.len() as u64, t.saves_recorded);
    let switch_ns = t.switch_t_ms.unwrap() * 1_000_000;
    let mut per_phase: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
    for s in &saves {
        let want = if s.phase == 0 { 2000 } else { 4000 };
        assert_eq!(s.slept_us, want, "{s:?}");
        assert!(
            s.duration_ns >= want * 1000,
            "a save shorter than its sleep: {s:?}"
        );
        // Phase by start time (the switch is read to the ms).
        if s.phase == 0 {
            assert!(s.start_unix_ns < switch_ns + 1_000_000, "{s:?}");
        } else {
            assert!(s.start_unix_ns + 1_000_000 >= switch_ns, "{s:?}");
        }
        per_phase
            .entry(s.phase)
            .or_default()
            .push(s.duration_ns / 1000);
    }
    assert_eq!(t.phases.len(), 2);
    for (p, phase) in t.phases.iter().enumerate() {
        let d = &per_phase[&(p as u8)];
        assert!(d.len() >= 50, "phase {p}: only {} saves", d.len());
        // The summary is the file's: same count, same nearest-rank p50.
        assert_eq!(phase.saves, d.len() as u64);
        assert_eq!(phase.p50_us, quantile(d, 0.5).unwrap());
        assert!(phase.min_us >= phase.sleep_us);
        assert!(
            phase.p50_us >= phase.sleep_us && phase.p50_us <= phase.sleep_us + 600,
            "phase {p}: {phase:?}"
        );
    }
    let step = t.phases[1].p50_us as i64 - t.phases[0].p50_us as i64;
    assert!((1700..=2300).contains(&step), "p50 step {step} us");
}

/// The per-entry timeline with node 2 a follower whose persists take 3 ms more: every stage
/// of every entry is in order across the three nodes' clocks, batches are explicit, and the
/// slow follower is the one whose ack completes the quorum least often.
#[test]
fn entry_log_orders_every_stage_and_shows_the_slow_follower() {
    const SLOW: usize = 2;
    let mut c = Cluster::start(ClusterOpts {
        start_paused: true,
        fsync: Fsync::Off,
        entry_log: true,
        per_node_args: [(SLOW, args(&["--delay-follower-persist-us", "3000"]))].into(),
        ..Default::default()
    })
    .unwrap();
    // Nodes 0 and 1 elect a leader among themselves; node 2 joins as a follower.
    c.resume_node(0).unwrap();
    c.resume_node(1).unwrap();
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    assert_ne!(leader, SLOW);
    c.resume_node(SLOW).unwrap();
    c.wait_for_convergence(Duration::from_secs(5)).unwrap();
    let report = c
        .run_client(&ClientOpts {
            threads: 4,
            ops_per_thread: Some(100),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((report.ops, report.errors), (400, 0));
    c.wait_for_convergence(Duration::from_secs(5)).unwrap();
    let gts = c.stop_nodes().unwrap();
    let logs: Vec<EntryLog> = (0..3).map(|i| c.entry_log(i).unwrap()).collect();
    for (g, l) in gts.iter().zip(&logs) {
        assert_eq!(g.entry_log.as_ref().unwrap().events, l.events.len() as u64);
        assert!(l
            .events
            .iter()
            .all(|e| e.node == g.node_id && e.first <= e.last));
    }
    let fast = 3 - leader - SLOW;
    let lead = &logs[leader];
    let at = |log: &EntryLog, s: Stage, peer: Option<usize>| log.first_at(s, peer);
    let propose = at(lead, Stage::Propose, None);
    assert_eq!(propose.len(), 400, "one propose per PUT");
    assert_eq!(gts[leader].calls("Raft::Start"), 400);
    assert_eq!(at(lead, Stage::Reply, None).len(), 400);
    // The leader's own path, entry by entry.
    let chain = [
        Stage::Propose,
        Stage::PersistStart,
        Stage::PersistEnd,
        Stage::Commit,
        Stage::ApplyStart,
        Stage::ApplyEnd,
        Stage::Reply,
    ];
    let times: Vec<_> = chain.iter().map(|&s| at(lead, s, None)).collect();
    for &i in propose.keys() {
        for w in 0..chain.len() - 1 {
            let (a, b) = (times[w][&i], times[w + 1][&i]);
            assert!(
                a <= b,
                "index {i}: {:?} at {a} after {:?} at {b}",
                chain[w],
                chain[w + 1]
            );
        }
    }
    // Each follower's path, joined to the leader's by index (one host: one monotonic clock).
    let mut quorum_by: BTreeMap<usize, u64> = BTreeMap::new();
    let mut persist_us: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for f in [fast, SLOW] {
        let send = at(lead, Stage::Send, Some(f));
        let ack = at(lead, Stage::Ack, Some(f));
        let fl = &logs[f];
        let steps = [
            at(fl, Stage::AppendStart, None),
            at(fl, Stage::PersistStart, None),
            at(fl, Stage::PersistEnd, None),
            at(fl, Stage::AppendEnd, None),
        ];
        for &i in propose.keys() {
            let mut t = send[&i];
            for (k, s) in steps.iter().enumerate() {
                assert!(
                    t <= s[&i],
                    "follower {f} index {i}: step {k} before the previous"
                );
                t = s[&i];
            }
            assert!(
                t <= ack[&i],
                "follower {f} index {i}: acked before it answered"
            );
        }
        for e in fl.stage(Stage::PersistEnd, None) {
            let start = fl
                .stage(Stage::PersistStart, None)
                .filter(|s| s.first == e.first && s.last == e.last && s.mono_ns <= e.mono_ns)
                .map(|s| s.mono_ns)
                .max()
                .unwrap();
            persist_us
                .entry(f)
                .or_default()
                .push((e.mono_ns - start) / 1000);
        }
    }
    // Commit = the leader's persist and the first follower ack (2 of 3).
    let commit = at(lead, Stage::Commit, None);
    let (ack_fast, ack_slow) = (
        at(lead, Stage::Ack, Some(fast)),
        at(lead, Stage::Ack, Some(SLOW)),
    );
    let persisted = at(lead, Stage::PersistEnd, None);
    for &i in propose.keys() {
        let first_ack = ack_fast[&i].min(ack_slow[&i]);
        assert!(
            commit[&i] >= first_ack && commit[&i] >= persisted[&i],
            "index {i}"
        );
        let by = if ack_fast[&i] <= ack_slow[&i] {
            fast
        } else {
            SLOW
        };
        *quorum_by.entry(by).or_default() += 1;
    }
    let p50 = |f: usize| quantile(&persist_us[&f], 0.5).unwrap();
    eprintln!(
        "leader {leader}; quorum completed by {quorum_by:?}; follower persist p50: fast {} us, \
         slow {} us",
        p50(fast),
        p50(SLOW)
    );
    assert!(
        p50(SLOW) >= 3000,
        "the delay is inside the slow follower's persists"
    );
    assert!(p50(fast) < 1000);
    let slow_share = quorum_by.get(&SLOW).copied().unwrap_or(0) as f64 / 400.0;
    assert!(
        slow_share < 0.2,
        "slow follower completed {:.0}% of quorums",
        slow_share * 100.0
    );
    // Batches are explicit: some AppendEntries carried several entries, persisted at once.
    let batched = logs[SLOW]
        .stage(Stage::AppendStart, None)
        .filter(|e| e.len() > 1)
        .count();
    assert!(
        batched > 0,
        "no multi-entry AppendEntries reached the slow follower"
    );
    assert!(logs[SLOW]
        .stage(Stage::PersistStart, None)
        .any(|e| e.len() > 1));
}
