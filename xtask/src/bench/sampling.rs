//! `cargo xtask bench --suite sampling`: what stack sampling costs a loaded cluster. The same
//! 3-node fixture cluster and client load run untraced, under tracer at 99 Hz and 999 Hz, and
//! under `perf record -F 999 -g`; modes alternate over several rounds and the median
//! throughput and p99 latency of each are reported. tracer's own time from stop to a written
//! session (symbolising and rendering every output) is reported too.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tracer_test_support::{ClientMode, ClientOpts, Cluster, ClusterOpts, Fsync};

use super::median;
use crate::cmd::workspace_root;
use crate::demo::build_tracer;

const ROUNDS: usize = 3;

/// A mode with its ops/s per round, p99 latencies per round, and tracer's timing lines.
type Measured = (Mode, Vec<f64>, Vec<f64>, Vec<String>);

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Untraced,
    /// `tracer run` with these extra arguments.
    Tracer(&'static [&'static str]),
    Perf(u32),
}

impl Mode {
    fn name(self) -> String {
        match self {
            Mode::Untraced => "untraced".into(),
            Mode::Tracer([]) => "tracer run (default)".into(),
            Mode::Tracer(args) => format!("tracer run {}", args.join(" ")),
            Mode::Perf(f) => format!("perf record -F {f} -g"),
        }
    }
}

/// A running tracer or perf, stopped with SIGINT like a user's Ctrl-C.
struct Observer {
    child: Child,
    /// tracer's stderr lines after the "tracing" line, read on a thread.
    stderr: Option<std::thread::JoinHandle<Vec<String>>>,
}

fn start(
    mode: Mode,
    tracer: &std::path::Path,
    pids: &[u32],
    out: &std::path::Path,
) -> Result<Option<Observer>> {
    match mode {
        Mode::Untraced => Ok(None),
        Mode::Tracer(args) => {
            let mut cmd = Command::new(tracer);
            cmd.arg("run").args(args).arg("-o").arg(out);
            for p in pids {
                cmd.args(["--pid", &p.to_string()]);
            }
            let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
            let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
            loop {
                match lines.next() {
                    Some(Ok(l)) if l.contains("tracer: tracing") => break,
                    Some(_) => {}
                    None => bail!("tracer exited before tracing"),
                }
            }
            let stderr = std::thread::spawn(move || lines.map_while(Result::ok).collect());
            Ok(Some(Observer {
                child,
                stderr: Some(stderr),
            }))
        }
        Mode::Perf(freq) => {
            let list = pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let child = Command::new("perf")
                .args([
                    "record",
                    "-e",
                    "cpu-clock",
                    "-F",
                    &freq.to_string(),
                    "-g",
                    "-p",
                    &list,
                    "-o",
                ])
                .arg(out.join("perf.data"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("perf")?;
            // perf has no "ready" line: give it time to open its events.
            std::thread::sleep(Duration::from_millis(500));
            Ok(Some(Observer {
                child,
                stderr: None,
            }))
        }
    }
}

/// Stops an observer; returns tracer's stderr lines.
fn stop(obs: Observer) -> Result<Vec<String>> {
    let Observer { mut child, stderr } = obs;
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait()?;
    // perf re-raises SIGINT after writing perf.data; tracer exits 0.
    use std::os::unix::process::ExitStatusExt;
    if !status.success() && status.signal() != Some(libc::SIGINT) {
        bail!("observer exited with {status}");
    }
    Ok(stderr
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default())
}

pub fn run(seconds: u64) -> Result<()> {
    let tracer = build_tracer()?;
    let out_root = workspace_root().join("target/bench");
    std::fs::create_dir_all(&out_root)?;
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Batch,
        ..ClusterOpts::default()
    })?;
    cluster.wait_for_leader(Duration::from_secs(15))?;
    let pids = cluster.pids();
    let modes = [
        Mode::Untraced,
        Mode::Tracer(&[]),
        Mode::Tracer(&["--no-uprobes"]),
        Mode::Tracer(&["--no-uprobes", "--no-sample"]),
        Mode::Tracer(&["--no-uprobes", "-F", "999"]),
        Mode::Perf(999),
    ];
    let mut results: Vec<Measured> = modes.iter().map(|&m| (m, vec![], vec![], vec![])).collect();
    for round in 0..ROUNDS {
        for (mode, ops, p99, notes) in results.iter_mut() {
            let dir = tempfile::tempdir()?;
            let obs = start(*mode, &tracer, &pids, dir.path())?;
            let report = cluster.run_client(&ClientOpts {
                threads: 4,
                ops_per_thread: None,
                duration: Some(Duration::from_secs(seconds)),
                mode: ClientMode::Put,
                value_bytes: 128,
            })?;
            if let Some(obs) = obs {
                let lines = stop(obs)?;
                notes.extend(lines.into_iter().filter(|l| l.contains("session written")));
            }
            println!(
                "bench: round {} {:<22} {:>8.0} ops/s p99 {} us",
                round + 1,
                mode.name(),
                report.ops_per_sec,
                report.p99_us
            );
            ops.push(report.ops_per_sec);
            p99.push(report.p99_us as f64);
        }
    }
    cluster.stop()?;

    let base = median(results[0].1.clone());
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Stack sampling cost: 3-node fixture cluster, 4 client threads x {seconds} s of PUTs \
         per mode, median of {ROUNDS} alternating rounds\n"
    );
    let _ = writeln!(md, "| mode | ops/s | vs untraced | p99 latency (us) |");
    let _ = writeln!(md, "|---|---:|---:|---:|");
    let mut json = Vec::new();
    for (mode, ops, p99, _) in &results {
        let o = median(ops.clone());
        let p = median(p99.clone());
        let _ = writeln!(
            md,
            "| {} | {o:.0} | {:+.1}% | {p:.0} |",
            mode.name(),
            100.0 * (o - base) / base
        );
        json.push(
            serde_json::json!({"mode": mode.name(), "ops_per_sec": o, "p99_us": p,
            "change_vs_untraced_pct": 100.0 * (o - base) / base}),
        );
    }
    let _ = writeln!(md, "\ntracer's time from stop to a written session:");
    for (mode, _, _, notes) in &results {
        for n in notes {
            let _ = writeln!(
                md,
                "- {}: {}",
                mode.name(),
                n.trim_start_matches("tracer: ")
            );
        }
    }
    println!("\n{md}");
    std::fs::write(out_root.join("sampling_overhead.md"), &md)?;
    std::fs::write(
        out_root.join("sampling_overhead.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    println!("bench: written to {}", out_root.display());
    Ok(())
}
