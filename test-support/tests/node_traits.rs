//! The node switches that reproduce traits of real clusters (busy polling, a leak, thread
//! churn, reopening or truncating the state file, a log in the working directory, crashes)
//! really produce them, and the node's own figures for each agree with the kernel's (strace,
//! /proc, wait status) and with each other.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracer_test_support::strace::{self, StraceSession};
use tracer_test_support::{ClientOpts, Cluster, ClusterOpts, Fsync, GroundTruth};

const LEADER_TIMEOUT: Duration = Duration::from_secs(10);
const MIB: f64 = 1048576.0;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn small_load() -> ClientOpts {
    ClientOpts {
        ops_per_thread: Some(100),
        ..Default::default()
    }
}

/// Attaches strace to every node of a cluster started paused, then resumes it.
fn strace_all(c: &Cluster, syscalls: &[&str], dir: &Path) -> Vec<StraceSession> {
    let s = c
        .pids()
        .iter()
        .enumerate()
        .map(|(i, &pid)| {
            StraceSession::attach(pid, syscalls, &dir.join(format!("strace{i}"))).unwrap()
        })
        .collect();
    c.resume().unwrap();
    s
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[test]
fn defaults_add_no_trait() {
    let c = Cluster::start(ClusterOpts::default()).unwrap();
    c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    assert_eq!(c.run_client(&small_load()).unwrap().ops, 200);
    for g in c.stop().unwrap() {
        assert!(g.busy_poll.is_none() && g.leak.is_none() && g.log_io.is_none());
        assert!(g.persist_timing.is_none() && g.fiber_rpc.is_none() && g.entry_log.is_none());
        let io = &g.persister_io;
        assert_eq!(
            (io.mode.as_str(), io.opens, io.closes),
            ("keep", 1, 0),
            "{io:?}"
        );
        let t = &g.threads;
        for name in ["sched", "applier", "rpc-accept"] {
            assert_eq!(t.created(name), 1, "{name}: {t:?}");
        }
        assert_eq!(t.created("hb-reply"), 0);
        assert_eq!(t.created("sched-poll") + t.created("leak"), 0);
        assert_eq!(
            t.created("hb-send"),
            g.calls("Raft::sendAppendEntries"),
            "one hb-send thread per sendAppendEntries: {t:?}"
        );
        // Client PUTs reach the leader's KvServer::PutAppend and Raft::Start, once each.
        if g.final_role == "leader" {
            assert_eq!(g.calls("KvServer::PutAppend"), 200);
            assert_eq!(g.calls("Raft::Start"), 200);
        }
    }
}

/// `--busy-poll`: the `sched-poll` thread never blocks, so every nanosecond of its wall time
/// is either on a CPU (CLOCK_THREAD_CPUTIME_ID) or waiting for one (schedstat run_delay):
/// cpu + run_delay == wall to within the clock reads around the loop. The tolerance (1% +
/// 5 ms) covers those reads and the two /proc reads bracketing the loop; a thread that slept
/// even 1% of the time would fail it. (CPU/wall alone is ~0.5-0.9 here, depending on what
/// else the 2 shared CPUs run.)
#[test]
fn busy_poll_thread_spins_and_accounts_for_its_wall_time() {
    let c = Cluster::start(ClusterOpts {
        nodes: 1,
        extra_node_args: args(&["--busy-poll"]),
        ..Default::default()
    })
    .unwrap();
    c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let pid = c.node_pid(0).unwrap();
    assert!(tracer_test_support::thread_names(pid)
        .iter()
        .any(|n| n == "sched-poll"));
    std::thread::sleep(Duration::from_millis(1500));
    let g = c.stop().unwrap().remove(0);
    let bp = g.busy_poll.clone().expect("busy_poll section");
    eprintln!("{bp:?}");
    assert_eq!(
        (bp.thread.as_str(), bp.function.as_str()),
        ("sched-poll", "IOManager::idle")
    );
    assert_eq!(g.threads.created("sched-poll"), 1);
    assert_eq!(g.threads.sites["sched-poll"].function, "IOManager::start");
    assert_ne!(bp.tid, g.pid);
    assert_eq!(
        bp.zero_returns + bp.event_returns + bp.errors,
        bp.epoll_wait_calls
    );
    assert_eq!(bp.errors, 0);
    assert_eq!(
        bp.event_returns, bp.timer_reads,
        "one timerfd read per event"
    );
    // The 10 ms timer fires at most once per tick (missed ticks coalesce into one event).
    assert!(bp.event_returns >= 1 && bp.event_returns <= bp.wall_ns / 10_000_000 + 1);
    assert!(bp.zero_returns as f64 >= 0.99 * bp.epoll_wait_calls as f64);
    assert!(
        bp.wall_ns >= 1_400_000_000,
        "polled for the whole run: {bp:?}"
    );
    // A 10 ms epoll timeout would give ~100 calls/s; spinning gives millions.
    assert!(
        bp.calls_per_s() > 100_000.0,
        "{:.0} calls/s",
        bp.calls_per_s()
    );
    let accounted = bp.cpu_ns + bp.run_delay_ns;
    let gap = accounted.abs_diff(bp.wall_ns);
    assert!(
        gap <= bp.wall_ns / 100 + 5_000_000,
        "cpu {} + run delay {} vs wall {}",
        bp.cpu_ns,
        bp.run_delay_ns,
        bp.wall_ns
    );
    // Only preemption takes it off the CPU (the final /proc reads may add one or two).
    assert!(bp.voluntary_ctxt_switches <= 2, "{bp:?}");
}

/// The busy-poll counts are exact: strace sees the same epoll_wait calls from the same tid,
/// and the same number of them returning 0.
#[test]
fn busy_poll_counts_match_strace() {
    let c = Cluster::start(ClusterOpts {
        nodes: 1,
        start_paused: true,
        extra_node_args: args(&["--busy-poll"]),
        ..Default::default()
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let sessions = strace_all(&c, &["epoll_wait"], out.path());
    c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let g = c.stop().unwrap().remove(0);
    let text = sessions
        .into_iter()
        .next()
        .unwrap()
        .finish(Duration::from_secs(20))
        .unwrap();
    let bp = g.busy_poll.unwrap();
    let by_tid = strace::count_by_tid(&text, "epoll_wait", "0");
    eprintln!("ground truth {bp:?}; strace per tid {by_tid:?}");
    assert_eq!(by_tid.keys().copied().collect::<Vec<_>>(), vec![bp.tid]);
    assert_eq!(by_tid[&bp.tid], (bp.epoll_wait_calls, bp.zero_returns));
}

/// `--leak-mb-per-s 20`: RSS grows at 20 MiB/s, by the node's own samples and by /proc read
/// from outside. Tolerance 10%: a sample lands anywhere within a 100 ms chunk period, i.e.
/// ±1 chunk (2 MiB) over a ~2.5 s regression span is ±4%; the idle node's other allocations
/// add well under 1 MiB.
#[test]
fn leak_grows_rss_at_its_rate() {
    let c = Cluster::start(ClusterOpts {
        nodes: 1,
        extra_node_args: args(&["--leak-mb-per-s", "20"]),
        ..Default::default()
    })
    .unwrap();
    c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let pid = c.node_pid(0).unwrap();
    let (t0, r0) = (Instant::now(), rss_bytes(pid));
    std::thread::sleep(Duration::from_millis(2000));
    let (t1, r1) = (Instant::now(), rss_bytes(pid));
    std::thread::sleep(Duration::from_millis(600));
    let g = c.stop().unwrap().remove(0);
    let leak = g.leak.clone().expect("leak section");
    let outside = (r1 - r0) as f64 / (t1 - t0).as_secs_f64() / MIB;
    let inside = leak.rss_slope_bytes_per_s().unwrap() / MIB;
    eprintln!(
        "leak: {} chunks, {} bytes, {} samples; RSS slope {inside:.2} MiB/s (node), {outside:.2} \
         MiB/s (/proc from outside)",
        leak.chunks,
        leak.bytes,
        leak.rss_samples.len()
    );
    assert_eq!(leak.mib_per_s, 20);
    assert_eq!(leak.function, "MemoryLeak::leakChunk");
    assert_eq!(
        leak.bytes,
        leak.chunks * 2 * 1048576,
        "2 MiB per 100 ms chunk"
    );
    assert!(leak.rss_samples.len() >= 5, "{:?}", leak.rss_samples);
    assert!(
        (inside - 20.0).abs() <= 2.0,
        "node's RSS slope {inside:.2} MiB/s"
    );
    // From outside over 2 s: ±1 chunk at each end is ±2 MiB/s.
    assert!(
        (outside - 20.0).abs() <= 2.5,
        "/proc RSS slope {outside:.2} MiB/s"
    );
    let last = leak.rss_samples.last().unwrap();
    let first = leak.rss_samples.first().unwrap();
    assert!(last.t_ms > first.t_ms && last.rss_bytes > first.rss_bytes);
}

/// `--hb-threads 2`: each AppendEntries round starts two threads per follower (hb-send, and
/// hb-reply for the answer), counted per name with their creating functions; the total of
/// threads a node says it created equals the clone3 calls strace sees.
#[test]
fn thread_churn_is_counted_per_name_and_matches_clone3() {
    let c = Cluster::start(ClusterOpts {
        start_paused: true,
        // Batch mode: its persist-sync thread is counted too.
        fsync: Fsync::Batch,
        extra_node_args: args(&["--hb-threads", "2"]),
        ..Default::default()
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let sessions = strace_all(&c, &["clone", "clone3"], out.path());
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let gts = c.stop().unwrap();
    for (g, s) in gts.iter().zip(sessions) {
        let text = s.finish(Duration::from_secs(20)).unwrap();
        let clones = strace::count_syscalls(&text);
        let created =
            clones.get("clone3").copied().unwrap_or(0) + clones.get("clone").copied().unwrap_or(0);
        let t = &g.threads;
        eprintln!(
            "node {} ({}): {t:?}; strace clone/clone3 {created}",
            g.node_id, g.final_role
        );
        assert_eq!(t.total(), created, "node {}", g.node_id);
        assert_eq!(t.created("hb-send"), g.calls("Raft::sendAppendEntries"));
        assert_eq!(t.created("vote-send"), g.calls("Raft::sendRequestVote"));
        assert_eq!(
            t.created("hb-reply"),
            t.created("hb-send"),
            "two threads per round"
        );
    }
    let g = &gts[leader];
    let t = &g.threads;
    let hb = &t.sites["hb-send"];
    assert_eq!(
        (hb.function.as_str(), hb.caller.as_str()),
        ("Raft::spawnSender", "Raft::replicateRound")
    );
    assert_eq!(t.sites["hb-reply"].function, "Raft::sendAppendEntries");
    // An idle leader: every round is a heartbeat to both followers, 20 heartbeats/s.
    let beats = g.calls("Raft::doHeartBeat");
    assert!(beats >= 20, "{beats} heartbeats in 1.5 s");
    assert!(
        t.created("hb-send") >= 2 * beats && t.created("hb-send") <= 2 * beats + 10,
        "{} hb-send threads for {beats} heartbeats",
        t.created("hb-send")
    );
}

/// Runs a 3-node cluster with `mode` under strace and checks the persister's counts against
/// it; returns the ground truths and the stopped cluster (its files still there).
fn persister_mode_matches_strace(mode: &str) -> (Vec<GroundTruth>, Cluster) {
    let mut c = Cluster::start(ClusterOpts {
        start_paused: true,
        extra_node_args: args(&[mode]),
        ..Default::default()
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let traced = [
        "openat",
        "close",
        "write",
        "writev",
        "fsync",
        "fdatasync",
        "rename",
        "renameat",
        "renameat2",
    ];
    let sessions = strace_all(&c, &traced, out.path());
    c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    assert_eq!(c.run_client(&small_load()).unwrap().ops, 200);
    c.wait_for_convergence(Duration::from_secs(5)).unwrap();
    let gts = c.stop_nodes().unwrap();
    for (g, s) in gts.iter().zip(sessions) {
        let text = s.finish(Duration::from_secs(20)).unwrap();
        let io = &g.persister_io;
        let file = io.files[0].clone();
        let opens = strace::count_opens(&text, &file);
        let per_file = strace::count_file_syscalls(&text, &io.files);
        let get = |k: &str| per_file.get(k).copied().unwrap_or(0);
        eprintln!(
            "{mode} node {}: {io:?}; strace opens {opens:?}, {per_file:?}",
            g.node_id
        );
        let saves = g.calls("Persister::saveRaftState");
        assert!(saves > 0);
        assert_eq!(io.opens, saves, "one open per save");
        assert_eq!(io.closes, saves, "one close per save");
        assert_eq!(opens.for_writing, io.opens);
        assert_eq!(opens.truncating, io.truncating_opens);
        // Plus at most one: Persister::readRaftState's std::ifstream closes the file once at
        // start when it exists (--persist-reopen creates it first for its fsync fd).
        assert!(
            get("close") == io.closes || get("close") == io.closes + 1,
            "{} closes seen, {} counted",
            get("close"),
            io.closes
        );
        assert_eq!(get("write"), io.write);
        assert_eq!(get("writev"), io.writev);
        assert_eq!(io.write + io.writev, saves);
        assert_eq!(get("fsync"), io.fsync);
        assert_eq!(get("fdatasync"), io.fdatasync);
        // Never renamed into place (the node renames only its ground_truth.json).
        let renames: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("rename") && l.contains(&file))
            .collect();
        assert!(renames.is_empty(), "{renames:?}");
    }
    (gts, c)
}

/// `--persist-reopen`: Persister::saveRaftState opens its file, writes and closes it on every
/// call (still fsyncing per --fsync); strace sees exactly the node's opens and closes.
#[test]
fn persist_reopen_opens_and_closes_per_save() {
    let (gts, _cluster) = persister_mode_matches_strace("--persist-reopen");
    for g in gts {
        let io = &g.persister_io;
        assert_eq!(io.mode, "reopen");
        assert_eq!(io.truncating_opens, 0);
        assert_eq!(
            io.fsync,
            g.calls("Persister::saveRaftState"),
            "--fsync every still holds"
        );
    }
}

/// `--persist-truncate`: every save opens with O_TRUNC and rewrites the whole state, never
/// fsyncs, never renames; at rest the file is one record holding the whole log.
#[test]
fn persist_truncate_rewrites_in_place_without_fsync() {
    let (gts, _cluster) = persister_mode_matches_strace("--persist-truncate");
    for g in gts {
        let io = &g.persister_io;
        assert_eq!(io.mode, "truncate");
        assert_eq!(io.truncating_opens, io.opens);
        assert_eq!((io.fsync, io.fdatasync), (0, 0));
        let bytes = std::fs::read(&io.files[0]).unwrap();
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(4 + len, bytes.len(), "one record, the last save's");
        // term, votedFor, from index 1, entry count: the whole log (>= the 200 PUTs).
        let from = u64::from_le_bytes(bytes[20..28].try_into().unwrap());
        let n = u32::from_le_bytes(bytes[28..32].try_into().unwrap());
        assert_eq!(from, 1);
        assert!(n >= 200, "{n} entries in the rewritten state");
    }
}

/// `log_in_cwd`: each node runs in the cluster's root dir and its stdout is a log file there,
/// one write per applied entry and per heartbeat; those writes are counted in `log_io`, never
/// in `persister_io`, and strace agrees on both.
#[test]
fn stdout_log_in_working_dir_is_counted_apart_from_raft_state() {
    let mut c = Cluster::start(ClusterOpts {
        start_paused: true,
        log_in_cwd: true,
        ..Default::default()
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let sessions = strace_all(&c, &["write", "writev", "fsync"], out.path());
    c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let root = std::fs::canonicalize(c.root_dir()).unwrap();
    for pid in c.pids() {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
            root
        );
    }
    assert_eq!(c.run_client(&small_load()).unwrap().ops, 200);
    let commit = c.wait_for_convergence(Duration::from_secs(5)).unwrap();
    let paths: Vec<_> = (0..3).map(|i| c.stdout_log_path(i)).collect();
    let gts = c.stop_nodes().unwrap();
    for ((g, s), path) in gts.iter().zip(sessions).zip(paths) {
        let text = s.finish(Duration::from_secs(20)).unwrap();
        let log = g.log_io.clone().expect("log_io section");
        assert_eq!(Path::new(&log.path), std::fs::canonicalize(&path).unwrap());
        assert!(
            Path::new(&log.path).starts_with(&root),
            "the log is in the working dir"
        );
        assert!(
            Path::new(&g.persister_io.files[0]).starts_with(&root),
            "so is raft state"
        );
        let content = std::fs::read_to_string(&path).unwrap();
        assert_eq!(content.len() as u64, log.write_bytes);
        assert_eq!(
            content.lines().count() as u64,
            log.write,
            "one write per line"
        );
        let applied = content
            .lines()
            .filter(|l| l.contains(" applied index "))
            .count() as u64;
        assert!(
            applied >= commit,
            "node {}: {applied} applied lines, commit {commit}",
            g.node_id
        );
        let beats = content.lines().filter(|l| l.contains(" heartbeat")).count() as u64;
        if g.final_role == "leader" {
            assert_eq!(beats, g.calls("Raft::doHeartBeat"));
        } else {
            assert!(beats > 0 && beats <= g.calls("Raft::AppendEntries1"));
        }
        let seen = strace::count_file_syscalls(&text, std::slice::from_ref(&log.path));
        assert_eq!(seen.get("write").copied().unwrap_or(0), log.write);
        let io = &g.persister_io;
        let seen = strace::count_file_syscalls(&text, &io.files);
        let get = |k: &str| seen.get(k).copied().unwrap_or(0);
        assert_eq!((get("write"), get("writev")), (io.write, io.writev));
        assert_eq!(io.write + io.writev, g.calls("Persister::saveRaftState"));
        eprintln!("node {}: log {log:?}, persister {io:?}", g.node_id);
    }
}

/// `--crash-after-ms 1500`: the applier thread segfaults in Raft::debugPrint; crash.json
/// names it, and the wait status says SIGSEGV.
#[test]
fn crash_after_ms_segfaults_in_debug_print() {
    // Before the spawn: the node's 1.5 s start after it, however late this thread runs (and
    // 1.5 s leaves time to find its applier thread before it crashes).
    let started = unix_ms();
    let mut c = Cluster::start(ClusterOpts {
        nodes: 1,
        extra_node_args: args(&["--crash-after-ms", "1500"]),
        ..Default::default()
    })
    .unwrap();
    c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let pid = c.node_pid(0).unwrap();
    let applier = applier_tid(pid);
    let status = c.wait_node_exit(0, Duration::from_secs(10)).unwrap();
    let ended = unix_ms();
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{status:?}");
    let r = c.crash_report(0).unwrap();
    eprintln!("{r:?}, {status:?}");
    assert_eq!((r.signal.as_str(), r.signo), ("SIGSEGV", libc::SIGSEGV));
    assert_eq!(r.function, "Raft::debugPrint");
    assert_eq!((r.thread.as_str(), r.tid, r.pid), ("applier", applier, pid));
    assert!(
        r.t_ms >= started + 1500 && r.t_ms <= ended,
        "{started} {} {ended}",
        r.t_ms
    );
    assert!(!c.data_dir(0).join("ground_truth.json").exists());
}

/// SIGUSR2 with `--crash-signal ABRT`: a follower aborts in Raft::applySnapshot; the rest of
/// the cluster keeps serving.
#[test]
fn sigusr2_makes_a_follower_abort() {
    let mut c = Cluster::start(ClusterOpts {
        extra_node_args: args(&["--crash-signal", "ABRT"]),
        ..Default::default()
    })
    .unwrap();
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let victim = (leader + 1) % 3;
    let pid = c.node_pid(victim).unwrap();
    let applier = applier_tid(pid);
    let sent = unix_ms();
    tracer_test_support::send_signal(pid, libc::SIGUSR2).unwrap();
    let status = c.wait_node_exit(victim, Duration::from_secs(10)).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?}");
    let r = c.crash_report(victim).unwrap();
    assert_eq!(
        (r.signal.as_str(), r.function.as_str()),
        ("SIGABRT", "Raft::applySnapshot")
    );
    assert_eq!((r.thread.as_str(), r.tid), ("applier", applier));
    // The applier is woken at once; 2 s only bounds a stalled machine.
    assert!(
        r.t_ms >= sent && r.t_ms <= sent + 2000,
        "crashed {} ms after SIGUSR2",
        r.t_ms - sent
    );
    assert_eq!(
        c.run_client(&small_load()).unwrap().ops,
        200,
        "two nodes still commit"
    );
    let gts = c.stop().unwrap();
    assert_eq!(gts.len(), 2);
}

/// The tid of the `applier` thread of `pid`.
fn applier_tid(pid: u32) -> u32 {
    let tids: BTreeMap<u32, String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter_map(|t| {
            let tid = t.file_name().to_str()?.parse().ok()?;
            Some((
                tid,
                std::fs::read_to_string(t.path().join("comm"))
                    .ok()?
                    .trim()
                    .to_string(),
            ))
        })
        .collect();
    let found: Vec<u32> = tids
        .iter()
        .filter(|(_, n)| *n == "applier")
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(found.len(), 1, "{tids:?}");
    found[0]
}

#[test]
fn fsync_batch_with_reopen_still_groups_syncs() {
    let c = Cluster::start(ClusterOpts {
        fsync: Fsync::Batch,
        extra_node_args: args(&["--persist-reopen"]),
        ..Default::default()
    })
    .unwrap();
    c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    assert_eq!(c.run_client(&small_load()).unwrap().ops, 200);
    for g in c.stop().unwrap() {
        let io = &g.persister_io;
        let saves = g.calls("Persister::saveRaftState");
        assert_eq!((io.opens, io.closes, io.fsync), (saves, saves, 0));
        assert!(io.fdatasync > 0 && io.fdatasync < saves, "{io:?}");
    }
}

/// `--fiber-rpc`: RPC handlers run as fibers on the `sched` thread beside the ticker fibers
/// (which never return). Every request is served there, and strace agrees with the node on
/// the sendto/recvfrom syscalls that thread made: all of them are the handlers'.
#[test]
fn fiber_rpc_handlers_share_the_ticker_thread() {
    let mut c = Cluster::start(ClusterOpts {
        start_paused: true,
        fsync: Fsync::Off,
        extra_node_args: args(&["--fiber-rpc"]),
        ..Default::default()
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let sessions = strace_all(&c, &["sendto", "recvfrom"], out.path());
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    assert_eq!(c.run_client(&small_load()).unwrap().ops, 200);
    let gts = c.stop_nodes().unwrap();
    for (g, s) in gts.iter().zip(sessions) {
        let text = s.finish(Duration::from_secs(20)).unwrap();
        let f = g.fiber_rpc.clone().expect("fiber_rpc section");
        let sends = strace::count_by_tid(&text, "sendto", "0");
        let recvs = strace::count_by_tid(&text, "recvfrom", "0");
        eprintln!("node {} ({}): {f:?}", g.node_id, g.final_role);
        assert_eq!(f.thread, "sched");
        assert_eq!(g.threads.created("rpc-io"), 0, "no connection got a thread");
        assert_eq!(g.threads.created("sched"), 1);
        assert_eq!(
            f.requests, g.rpc.received,
            "every request served on a fiber"
        );
        assert_eq!(f.requests, g.calls("RpcProvider::OnMessage"));
        assert_eq!(f.send, f.requests, "one send per response");
        assert_eq!(
            f.recv,
            f.recv_data + f.recv_eagain + f.recv_eof + f.recv_error
        );
        assert!(f.recv_data >= 2 * f.requests, "header and body per request");
        assert_eq!(
            sends.get(&f.tid).map(|c| c.0),
            Some(f.send),
            "sendto by the sched thread"
        );
        assert_eq!(
            recvs.get(&f.tid).map(|c| c.0),
            Some(f.recv),
            "recvfrom by the sched thread"
        );
        assert_eq!(
            g.calls("Raft::leaderHearBeatTicker"),
            1,
            "the ticker never returned"
        );
        if g.node_id == leader {
            assert!(g.calls("KvServer::PutAppend") >= 200);
        } else {
            assert!(g.calls("Raft::AppendEntries1") > 0);
        }
    }
}
