//! Helpers shared by tracer's integration tests: running the real `tracer` binary, reading
//! its session folder, and running `strace -c` on the same workload for ground truth.
#![allow(dead_code)]

pub mod canned;
pub mod go_pprof;
pub mod owned;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tracer::model::Snapshot;

pub fn tracer_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tracer"))
}

/// Fails loudly (never skips) when the tests cannot load BPF: they must run as root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "these tests load real eBPF programs and must run as root (CI runs them as root)"
    );
}

/// Runs `tracer run <args>` to completion.
pub fn tracer_run(args: &[&str]) -> Output {
    let out = Command::new(tracer_bin())
        .arg("run")
        .args(args)
        .output()
        .expect("start tracer");
    eprintln!(
        "tracer run {args:?}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The window snapshots of a continuous session (`windows/*.json`), in order.
pub fn read_windows(session: &Path) -> Vec<Snapshot> {
    let mut paths: Vec<_> = std::fs::read_dir(session.join("windows"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

pub fn load_snapshot(dir: &Path) -> Snapshot {
    tracer::output::session_folder::load_snapshot(dir).expect("snapshot.json readable")
}

/// Lost events that would make a count wrong: every drop reason except the two that lose
/// only a stack (`stack_collision`: two stacks hashed to one of the stack map's 32,768
/// buckets, ~n²/65,536 for n distinct stacks; `stack_failed`). Their sample or blocked
/// interval is still counted, under a lost stack, and the report shows how many.
pub fn count_drops(s: &Snapshot) -> BTreeMap<String, u64> {
    s.drops
        .iter()
        .filter(|(k, v)| **v > 0 && !k.starts_with("stack_"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Calls per syscall name over every traced process of the session.
pub fn counts_by_name(s: &Snapshot) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in &s.syscalls {
        *m.entry(r.name.clone()).or_insert(0) += r.stats.count;
    }
    m
}

/// Calls per syscall name from a `strace -c -o FILE` summary.
pub fn parse_strace_summary(text: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], syscall
        if cols.len() < 5 || cols[0].parse::<f64>().is_err() {
            continue;
        }
        let name = *cols.last().unwrap();
        if name == "total" {
            continue;
        }
        let calls: u64 = cols[3].parse().expect("calls column");
        *m.entry(name.to_string()).or_insert(0) += calls;
    }
    m
}

/// Runs `argv` under `strace -f -c` and returns its counts per syscall.
pub fn strace_counts(argv: &[&str]) -> BTreeMap<String, u64> {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("strace.txt");
    let status = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out_file)
        .arg("--")
        .args(argv)
        .status()
        .expect("strace installed (cargo xtask setup installs it)");
    assert!(status.success(), "strace {argv:?} failed: {status}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    eprintln!("strace -f -c {argv:?}:\n{text}");
    parse_strace_summary(&text)
}

/// A temp dir readable by everyone (for running the tracer as an unprivileged user).
pub fn world_readable_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// `--pid P` for each of `pids`, after `args`.
pub fn with_pids(mut args: Vec<String>, pids: &[u32]) -> Vec<String> {
    for p in pids {
        args.push("--pid".into());
        args.push(p.to_string());
    }
    args
}

/// Starts `tracer run <args>` and returns once it says it is tracing (from then on nothing the
/// targets do is missed); its stderr keeps being forwarded to the test's output.
pub fn start_tracer(args: &[String]) -> std::process::Child {
    start_tracer_with_lines(args).child
}

/// A running tracer whose stderr lines the test can wait for.
pub struct RunningTracer {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl RunningTracer {
    /// Waits (up to 30 s) for a stderr line containing `needle`.
    pub fn wait_for_line(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => {}
                Err(e) => panic!("tracer never printed {needle:?}: {e}"),
            }
        }
    }
}

/// Like [`start_tracer`], keeping the stderr lines for [`RunningTracer::wait_for_line`].
pub fn start_tracer_with_lines(args: &[String]) -> RunningTracer {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(tracer_bin())
        .arg("run")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracer");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("tracer exited before tracing").unwrap();
        eprintln!("{line}");
        if line.contains("tracer: tracing") {
            break;
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("{l}");
            let _ = tx.send(l);
        }
    });
    RunningTracer { child, lines: rx }
}

/// Entries of probed `method` (any overload or clone) in process `pid`; None if not probed.
pub fn probed_entries(s: &Snapshot, pid: u32, method: &str) -> Option<u64> {
    let method = tracer::profile::Pattern::parse(method).expect("a valid function pattern");
    let rows: Vec<_> = s
        .functions
        .iter()
        .filter(|f| f.pid == pid && method.matches(&f.function))
        .collect();
    (!rows.is_empty()).then(|| rows.iter().map(|f| f.entries).sum())
}
