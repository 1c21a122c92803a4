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

/// The window snapshots of a session, in order (window_0001.json, ...).

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
            rate_per_thread: None,
        })
        .unwrap();
    // Let at least three windows close (window closing competes with the load for CPU).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline
        && std::fs::read_dir(out.path().join("windows"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .count()
            })
            .unwrap_or(0)
            < 3
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGTERM) };
    assert!(tracer.wait().unwrap().success());

    let total = load_snapshot(out.path());
    assert!(out.path().join("TARGETED_PERF_ANALYSIS_REPORT.md").exists());
    let windows = read_windows(out.path());
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

/// Fetches http://ADDR/metrics with a plain TCP client.
fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// Sum of one metric family's samples.
fn metric_sum(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn metrics_endpoint_serves_the_window_totals() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(ClusterOpts::default()).unwrap();
    cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let mut cmd = Command::new(tracer_bin());
    cmd.args(["run", "--interval", "1s", "--metrics", "127.0.0.1:0", "-o"])
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
    let mut addr = String::new();
    loop {
        let l = lines.next().unwrap().unwrap();
        if let Some(rest) = l.strip_prefix("tracer: metrics on http://") {
            addr = rest.trim_end_matches("/metrics").to_string();
        }
        if l.contains("tracer: tracing") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(|l| eprintln!("{}", l.unwrap_or_default())));
    assert!(!addr.is_empty(), "tracer printed its metrics address");
    cluster
        .run_client(&ClientOpts {
            threads: 1,
            ops_per_thread: None,
            duration: Some(Duration::from_secs(3)),
            mode: ClientMode::Put,
            value_bytes: 64,
            rate_per_thread: None,
        })
        .unwrap();
    // The endpoint is filled when the first window closes; the BPF programs' cost once the
    // first measurement slice (2 s to 3 s into the run) has ended.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut body = scrape(&addr);
    while !(body.contains("tracer_syscalls_total")
        && body.contains("tracer_bpf_program_runs_total"))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
        body = scrape(&addr);
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGTERM) };
    assert!(tracer.wait().unwrap().success());

    assert!(
        body.contains("# TYPE tracer_syscalls_total counter"),
        "{body}"
    );
    assert!(metric_sum(&body, "tracer_self_cpu_seconds_total") > 0.0);
    assert!(body.contains("tracer_lost_events_total"));
    assert!(body.contains("tracer_bpf_program_runs_total"), "{body}");
    // One slice of about a second was measured, and the syscall programs ran in it.
    let sampled = metric_sum(&body, "tracer_bpf_stats_sampled_seconds_total");
    assert!((0.9..3.0).contains(&sampled), "sampled {sampled} s");
    assert!(
        body.lines()
            .any(|l| l.starts_with("tracer_bpf_program_runs_total{")
                && l.contains("program=\"sys_exit\"")
                && l.split_whitespace().last().unwrap().parse::<f64>().unwrap() > 0.0),
        "{body}"
    );
    let served = metric_sum(&body, "tracer_syscalls_total") as u64;
    // The endpoint is updated when a window closes: its syscall count is that of the first k
    // windows, for some k.
    let windows = read_windows(out.path());
    let mut running = 0;
    let mut prefixes = vec![0];
    for w in &windows {
        running += syscall_counts(w).values().sum::<u64>();
        prefixes.push(running);
    }
    assert!(
        prefixes.contains(&served),
        "served {served}, window prefix sums {prefixes:?}"
    );
    assert!(served > 0);
    // Each window with samples has its pprof profile.
    assert!(std::fs::read_dir(out.path().join("windows"))
        .unwrap()
        .flatten()
        .any(|e| e.path().to_string_lossy().ends_with(".pb.gz")));
    // Go's pprof loads the run's profile and counts every sample that kept its stack.
    let snap = load_snapshot(out.path());
    let prof = snap.profile.as_ref().expect("a CPU profile");
    let with_stack: u64 = prof.stacks.iter().map(|s| s.count).sum();
    let (text, traces) =
        common::go_pprof::go_pprof_traces(&out.path().join("cpu_profile/profile.pb.gz"));
    assert!(with_stack > 0);
    assert_eq!(
        traces.iter().map(|t| t.value).sum::<u64>(),
        with_stack,
        "{text}"
    );
    drop(cluster);
}

/// `--comm NAME` keeps watching for processes of that name: a node killed and started again
/// mid-run is traced again (syscalls and uprobes), and every call it made is counted.
#[test]
fn a_restarted_node_is_traced_again() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    // Our own copy of the node binary: `--comm` must not find other tests' nodes.
    let name = tracer_test_support::unique_node_name();
    let mut cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Batch,
        start_paused: true,
        node_name: Some(name.clone()),
        ..ClusterOpts::default()
    })
    .unwrap();
    let args: Vec<String> = [
        "--comm",
        &name,
        "--interval",
        "2s",
        "--no-sample",
        "--probe-budget",
        "0",
        "-o",
        out.path().to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut tracer = start_tracer_with_lines(&args);
    cluster.resume().unwrap();
    let leader = cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    let victim = (leader + 1) % 3;
    let old_pid = cluster.node_pid(victim).unwrap();
    let load = ClientOpts {
        threads: 1,
        ops_per_thread: None,
        duration: Some(Duration::from_secs(2)),
        mode: ClientMode::Put,
        value_bytes: 64,
        rate_per_thread: None,
    };
    cluster.run_client(&load).unwrap();
    cluster.kill_node(victim).unwrap();
    tracer.wait_for_line(&format!("pid {old_pid} ({name}) exited"));
    cluster.restart_node(victim).unwrap();
    let new_pid = cluster.node_pid(victim).unwrap();
    // The restarted node waits (--start-paused) until tracer says it traces it: then every
    // call it makes is seen.
    tracer.wait_for_line(&format!("now tracing pid {new_pid} ({name})"));
    tracer_test_support::send_signal(new_pid, libc::SIGUSR1).unwrap();
    cluster.run_client(&load).unwrap();
    let truths = cluster.stop().unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(tracer.child.id() as i32, libc::SIGTERM) };
    assert!(tracer.child.wait().unwrap().success());

    let snap = load_snapshot(out.path());
    let old = snap.processes.iter().find(|p| p.pid == old_pid).unwrap();
    assert!(old.exited_at_s.is_some(), "the killed node is seen gone");
    assert!(snap.processes.iter().any(|p| p.pid == new_pid));
    let truth = truths.iter().find(|t| t.pid == new_pid).unwrap();
    let mut checked = 0;
    for (method, &expected) in &truth.calls {
        if let Some(got) = probed_entries(&snap, new_pid, method) {
            assert_eq!(got, expected, "{method} in the restarted node");
            checked += u64::from(expected > 0);
        }
    }
    eprintln!("{checked} probed methods of the restarted node agree with its own counts");
    assert!(
        checked >= 3,
        "the restarted node made probed calls: {checked}"
    );
    let syscalls: u64 = snap
        .syscalls
        .iter()
        .filter(|r| r.pid == new_pid)
        .map(|r| r.stats.count)
        .sum();
    assert!(syscalls > 100, "syscalls of the restarted node: {syscalls}");
    assert!(
        read_windows(out.path()).len() >= 2,
        "windows kept coming across the restart"
    );
}
