//! On-CPU stack sampling against ground truth: the fixture burns CPU in `Raft::burnCpu`
//! (called from `Raft::applier`) and `perf record -g` samples the same processes at the same
//! time; tracer's share of that function must agree with perf's.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;
use tracer::model::{CpuProfile, StackRecord};
use tracer_test_support::{ClientMode, ClientOpts, Cluster, ClusterOpts, Fsync, Variant};

fn has_frame(r: &StackRecord, name: &str) -> bool {
    r.frames.iter().any(|f| f.starts_with(name))
}

fn share_pct(p: &CpuProfile, name: &str) -> f64 {
    let total: u64 = p.stacks.iter().map(|r| r.count).sum();
    let hit: u64 = p
        .stacks
        .iter()
        .filter(|r| has_frame(r, name))
        .map(|r| r.count)
        .sum();
    100.0 * hit as f64 / total.max(1) as f64
}

/// Children % of `symbol` in `perf report` (the first column of its `[.] symbol` line).
fn perf_children_pct(data: &std::path::Path, symbol: &str) -> f64 {
    let out = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--children",
            "--sort",
            "sym",
            "-g",
            "none",
            "-i",
        ])
        .arg(data)
        .output()
        .expect("perf installed (cargo xtask setup installs linux-perf)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_end().ends_with(&format!("[.] {symbol}")))
        .unwrap_or_else(|| panic!("perf report has no line for {symbol}:\n{text}"));
    line.split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap()
}

/// Thread names (comms) that have samples in a perf.data file.
fn perf_comms(data: &std::path::Path) -> Vec<String> {
    let out = Command::new("perf")
        .args(["report", "--stdio", "--sort", "comm", "-g", "none", "-i"])
        .arg(data)
        .output()
        .expect("perf installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('%'))
        .filter_map(|l| l.split_whitespace().last().map(String::from))
        .collect()
}

/// A 3-node cluster burning ~200 us of CPU per applied entry, under client load.
fn burning_cluster(variant: Variant) -> Cluster {
    cluster_burning(variant, 200)
}

fn cluster_burning(variant: Variant, burn_us: u32) -> Cluster {
    require_root();
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        variant,
        fsync: Fsync::Batch,
        extra_node_args: vec!["--burn-applier-us".into(), burn_us.to_string()],
        ..ClusterOpts::default()
    })
    .unwrap();
    cluster.wait_for_leader(Duration::from_secs(10)).unwrap();
    cluster
}

fn client_opts(secs: u64) -> ClientOpts {
    ClientOpts {
        threads: 2,
        ops_per_thread: None,
        duration: Some(Duration::from_secs(secs)),
        mode: ClientMode::Put,
        value_bytes: 0,
        rate_per_thread: None,
    }
}

/// Runs tracer on the cluster's nodes for `secs` at `freq` Hz while the client loads it.
#[allow(clippy::type_complexity)]
fn trace_cluster(
    cluster: &Cluster,
    freq: u32,
    secs: u32,
    with_perf: bool,
) -> (tempfile::TempDir, Option<(f64, Vec<String>)>) {
    let dir = tempfile::tempdir().unwrap();
    let pids = cluster.pids();
    let pid_list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    std::thread::scope(|s| {
        let load = s.spawn(|| cluster.run_client(&client_opts(secs as u64 + 5)).unwrap());
        std::thread::sleep(Duration::from_millis(700));
        // Sampling alone: a sampler that is itself a BPF program cannot sample while other
        // BPF programs run on that CPU (uprobe hits, the syscall and sched_switch
        // tracepoints), so their time is invisible to it but not to perf. Stack sampling is
        // compared with perf on its own; the other programs' time is reported by the session.
        let mut args = vec![
            "--no-uprobes".to_string(),
            "--no-syscalls".to_string(),
            "--no-offcpu".to_string(),
            "-F".to_string(),
            freq.to_string(),
            "-d".into(),
            format!("{secs}s"),
            "-o".into(),
            dir.path().join("session").display().to_string(),
        ];
        args = with_pids(args, &pids);
        // perf starts once tracer is attached and runs as long as tracer's -d: both look at
        // the same seconds of a load that drifts (a window offset by tracer's attach time
        // made the shares differ by up to ~9 points).
        let tracer = start_tracer_with_lines(&args);
        let perf = with_perf.then(|| {
            Command::new("perf")
                .args([
                    "record",
                    "-e",
                    "cpu-clock",
                    // A fixed period (1/freq s of CPU time) rather than -F: in frequency mode
                    // perf adapts the period of every new thread's event from scratch, which
                    // mis-weights the short-lived RPC threads; tracer samples each CPU at a
                    // steady rate.
                    "-c",
                    &(1_000_000_000 / freq as u64).to_string(),
                    "-g",
                    "-p",
                    &pid_list,
                    "-o",
                ])
                .arg(dir.path().join("perf.data"))
                .args(["--", "sleep", &secs.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("perf installed")
        });
        let mut tracer = tracer.child;
        assert!(tracer.wait().unwrap().success());
        if let Some(mut p) = perf {
            assert!(p.wait().unwrap().success(), "perf record failed");
        }
        let report = load.join().unwrap();
        assert!(report.ops > 0);
    });
    let perf_share = with_perf.then(|| {
        let data = dir.path().join("perf.data");
        (perf_children_pct(&data, "Raft::burnCpu"), perf_comms(&data))
    });
    (dir, perf_share)
}

#[test]
fn burn_share_agrees_with_perf_and_stacks_are_whole() {
    let cluster = burning_cluster(Variant::Fp);
    let (dir, perf_share) = trace_cluster(&cluster, 999, 5, true);
    let snap = load_snapshot(&dir.path().join("session"));
    let mut profile = snap.profile.expect("sampling is on by default");
    let (perf, comms) = perf_share.unwrap();
    // `perf record -p` does not see threads created after it attached (the leader's
    // short-lived hb-send threads); tracer does. Compare on the threads both tools see.
    let unseen: u64 = profile
        .stacks
        .iter()
        .filter(|r| !comms.contains(&r.thread))
        .map(|r| r.count)
        .sum();
    eprintln!("perf saw threads {comms:?}; tracer has {unseen} samples of threads perf missed");
    profile.stacks.retain(|r| comms.contains(&r.thread));
    let ours = share_pct(&profile, "Raft::burnCpu");
    eprintln!("Raft::burnCpu share: tracer {ours:.1}% perf {perf:.1}%");
    assert!(ours > 10.0, "the burn is visible: {ours:.1}%");
    // Two samplers of one drifting load on a shared 2-vCPU VM: over 12 runs (2026-12-02) the
    // difference ranged from -10.0 to +4.1 points, tracer mostly lower. Likely cause: threads
    // the nodes start after perf attached (hb-send per heartbeat round) are invisible to
    // `perf record -p` but share a name with ones it saw, so the comm filter keeps them on
    // tracer's side only. Excluding hb-send narrowed most runs to a few points but one read
    // perf 28% vs tracer 54%; `perf record -a` needs more work. A broken walk or a
    // misattributed thread still moves it by tens of points, and `ours > 10` guards the rest.
    assert!(
        (ours - perf).abs() <= 15.0,
        "tracer {ours:.1}% vs perf {perf:.1}%"
    );

    // Frame-pointer build: burnCpu's stacks carry the fixture's chain, demangled, from the
    // thread's entry function (Raft::applier, run by std::thread) down to the leaf.
    let burn: Vec<&StackRecord> = profile
        .stacks
        .iter()
        .filter(|r| has_frame(r, "Raft::burnCpu"))
        .collect();
    let burn_total: u64 = burn.iter().map(|r| r.count).sum();
    let whole: u64 = burn
        .iter()
        .filter(|r| {
            let i = r
                .frames
                .iter()
                .position(|f| f.starts_with("Raft::burnCpu"))
                .unwrap();
            i >= 1 && r.frames[i - 1] == "Raft::applier()" && !r.user_truncated
        })
        .map(|r| r.count)
        .sum();
    assert!(
        whole as f64 >= 0.95 * burn_total as f64,
        "{whole} of {burn_total} burnCpu samples carry applier -> burnCpu: {:?}",
        burn.iter().take(3).map(|r| &r.frames).collect::<Vec<_>>()
    );
    drop(cluster);
    check_outputs(&dir.path().join("session"));
}

/// Every node's flamegraph is well-formed XML naming the burning function, and the folded
/// files round-trip through `tracer report`.
fn check_outputs(session: &std::path::Path) {
    let snap = load_snapshot(session);
    let cpu = session.join("cpu_profile");
    let mut folded_before = Vec::new();
    for p in &snap.processes {
        let svg =
            std::fs::read_to_string(cpu.join(format!("{}_flamegraph.svg", p.label()))).unwrap();
        assert_well_formed_xml(&svg);
        assert!(
            svg.contains("Raft::burnCpu"),
            "flamegraph of {} names the function",
            p.label()
        );
        assert!(
            svg.contains(&format!("pid {}", p.pid)),
            "titled with the pid"
        );
        let report =
            std::fs::read_to_string(cpu.join(format!("{}_perf_report.txt", p.label()))).unwrap();
        assert!(report.contains("Raft::burnCpu"));
        folded_before
            .push(std::fs::read_to_string(cpu.join(format!("{}.folded", p.label()))).unwrap());
    }
    std::fs::remove_dir_all(&cpu).unwrap();
    let out = Command::new(tracer_bin())
        .arg("report")
        .arg(session)
        .output()
        .unwrap();
    assert!(out.status.success());
    for (p, before) in snap.processes.iter().zip(folded_before) {
        let after = std::fs::read_to_string(cpu.join(format!("{}.folded", p.label()))).unwrap();
        assert_eq!(before, after, "folded stacks of {} round-trip", p.label());
    }
}

fn assert_well_formed_xml(text: &str) {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0i64;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML: {e}"),
        }
    }
    assert_eq!(depth, 0, "every element closed");
}

#[test]
fn diff_shows_what_changed_between_sessions() {
    let calm = cluster_burning(Variant::Fp, 0);
    let (before, _) = trace_cluster(&calm, 499, 3, false);
    drop(calm);
    let hot = cluster_burning(Variant::Fp, 200);
    let (after, _) = trace_cluster(&hot, 499, 3, false);
    drop(hot);
    let svg = after.path().join("diff.svg");
    let out = Command::new(tracer_bin())
        .arg("diff")
        .arg(before.path().join("session"))
        .arg(after.path().join("session"))
        .arg("-o")
        .arg(&svg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(out.status.success());
    let text = std::fs::read_to_string(&svg).unwrap();
    assert_well_formed_xml(&text);
    assert!(text.contains("Raft::burnCpu"));
    // The summary names the function whose share grew most, with a large positive change.
    let line = stdout
        .lines()
        .find(|l| l.contains("Raft::burnCpu"))
        .expect("burnCpu among the largest changes");
    let change: f64 = line
        .split(['(', ')'])
        .nth(1)
        .unwrap()
        .trim_start_matches('+')
        .parse()
        .unwrap();
    assert!(change > 20.0, "{line}");
}

#[test]
fn frame_pointer_less_build_reports_truncated_stacks() {
    let cluster = burning_cluster(Variant::NoFp);
    let (dir, _) = trace_cluster(&cluster, 499, 3, false);
    let profile = load_snapshot(&dir.path().join("session")).profile.unwrap();
    let total: u64 = profile.stacks.iter().map(|r| r.count).sum();
    let truncated: u64 = profile
        .stacks
        .iter()
        .filter(|r| r.user_truncated)
        .map(|r| r.count)
        .sum();
    let pct = 100.0 * truncated as f64 / total as f64;
    eprintln!("truncated user stacks: {pct:.1}%");
    // burnCpu alone is >50% of samples and, without frame pointers, its caller is lost.
    assert!(pct > 40.0, "truncation is reported: {pct:.1}%");
    drop(cluster);
}

#[test]
fn three_nodes_at_999_hz_account_for_every_sample() {
    let cluster = burning_cluster(Variant::Fp);
    let (dir, _) = trace_cluster(&cluster, 999, 10, false);
    let snap = load_snapshot(&dir.path().join("session"));
    let profile = snap.profile.unwrap();
    let recorded: u64 = profile.stacks.iter().map(|r| r.count).sum();
    eprintln!(
        "samples taken {} recorded {recorded}, drops {:?}",
        profile.samples, snap.drops
    );
    // ~999 Hz x 10 s on each busy CPU: thousands of samples, every one counted.
    assert!(profile.samples > 5000, "{}", profile.samples);
    assert_eq!(recorded + snap.drops["sample_map_full"], profile.samples);
    assert_eq!(snap.drops["sample_map_full"], 0);
    drop(cluster);
}

#[test]
fn stacks_of_a_process_that_exited_still_resolve() {
    require_root();
    let bins = tracer_test_support::fixture_bins(Variant::Fp).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Calls an out-of-line function in a loop for about a second, then exits: long before
    // tracer symbolises at the end of the run. The loop itself is inlined into `main`.
    let out = tracer_run(&[
        "-F",
        "999",
        "--no-uprobes",
        "-o",
        dir.path().to_str().unwrap(),
        "--",
        bins.workload.to_str().unwrap(),
        "--loop-call",
        "600000000",
    ]);
    assert!(out.status.success());
    let profile = load_snapshot(dir.path()).profile.unwrap();
    let total: u64 = profile.stacks.iter().map(|r| r.count).sum();
    let resolved: u64 = profile
        .stacks
        .iter()
        .filter(|r| {
            r.frames
                .iter()
                .any(|f| f == "main" || f.contains("workload_probe_target"))
        })
        .map(|r| r.count)
        .sum();
    eprintln!("{resolved} of {total} samples resolve to the workload's functions");
    assert!(total > 100);
    assert!(resolved * 10 >= total * 8, "{resolved}/{total}");
}
