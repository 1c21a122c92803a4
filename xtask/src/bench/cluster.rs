//! What the cluster benchmarks (`sampling`, `overhead`) share: one 3-node fixture cluster
//! under the same client load (4 threads of PUTs), observed in turn by each mode (nothing,
//! tracer, perf, strace, bpftrace). Modes alternate within every round so drift on a shared
//! machine hits them all alike; the median throughput and p99 client latency of each mode are
//! reported with their ratio to the untraced run, as `target/bench/STEM.{md,json}`.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Lines, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;
use tracer_test_support::{ClientMode, ClientOpts, Cluster, ClusterOpts, Fsync};

use super::median;
use crate::cmd::workspace_root;
use crate::demo::build_tracer;

/// Rounds; the median of each mode is reported.
const ROUNDS: usize = 3;

#[derive(Clone)]
pub(super) enum Mode {
    Untraced,
    /// `tracer run --pid ...` with these extra arguments.
    Tracer(&'static [&'static str]),
    /// `perf record -e cpu-clock -F FREQ -g -p PIDS`.
    Perf(u32),
    /// `strace -f -c -p PID ...` (summary to a file).
    Strace,
    /// `bpftrace -e SCRIPT`; the script filters on the cluster's pids itself.
    Bpftrace {
        label: &'static str,
        script: String,
    },
}

impl Mode {
    fn name(&self) -> String {
        match self {
            Mode::Untraced => "untraced".into(),
            Mode::Tracer([]) => "tracer run (default)".into(),
            Mode::Tracer(args) => format!("tracer run {}", args.join(" ")),
            Mode::Perf(f) => format!("perf record -F {f} -g"),
            Mode::Strace => "strace -f -c".into(),
            Mode::Bpftrace { label, .. } => format!("bpftrace ({label})"),
        }
    }
}

/// One cluster benchmark: its modes and where its results go.
pub(super) struct Spec {
    /// First line of the Markdown, before the load description.
    pub title: &'static str,
    /// `target/bench/STEM.md` and `STEM.json`.
    pub stem: &'static str,
    pub modes: Vec<Mode>,
    /// Markdown after the table (may be empty).
    pub footer: String,
}

/// A running observer, stopped with SIGINT like a user's Ctrl-C.
struct Observer {
    child: Child,
    /// The observer's output after it said it was ready, read on a thread until it exits.
    output: Option<JoinHandle<Vec<String>>>,
}

/// Reads `r` until `ready` has seen every line it waits for (it returns true); fails if the
/// stream ends first (the observer exited). Returns the rest of the stream.
fn wait_ready<R: Read>(
    r: R,
    what: &str,
    mut ready: impl FnMut(&str) -> bool,
) -> Result<Lines<BufReader<R>>> {
    let mut lines = BufReader::new(r).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if ready(&l) => return Ok(lines),
            Some(_) => {}
            None => bail!("{what} exited before it was ready"),
        }
    }
}

/// Collects the rest of a stream on a thread (so the observer never blocks on a full pipe).
fn collect<R: Read + Send + 'static>(lines: Lines<BufReader<R>>) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || lines.map_while(Result::ok).collect())
}

/// Drains a stream on a thread, keeping nothing.
fn discard<R: Read + Send + 'static>(lines: Lines<BufReader<R>>) {
    std::thread::spawn(move || lines.for_each(drop));
}

fn start(mode: &Mode, tracer: &Path, pids: &[u32], out: &Path) -> Result<Option<Observer>> {
    let observer = match mode {
        Mode::Untraced => return Ok(None),
        Mode::Tracer(args) => {
            let mut cmd = Command::new(tracer);
            cmd.arg("run").args(*args).arg("-o").arg(out);
            for p in pids {
                cmd.args(["--pid", &p.to_string()]);
            }
            let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
            let lines = wait_ready(child.stderr.take().unwrap(), "tracer", |l| {
                l.contains("tracer: tracing")
            })?;
            Observer {
                output: Some(collect(lines)),
                child,
            }
        }
        Mode::Perf(freq) => {
            let list = pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let child = Command::new("perf")
                .args(["record", "-e", "cpu-clock", "-F", &freq.to_string(), "-g"])
                .args(["-p", &list, "-o"])
                .arg(out.join("perf.data"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("perf")?;
            // perf has no "ready" line: give it time to open its events.
            std::thread::sleep(Duration::from_millis(500));
            Observer {
                child,
                output: None,
            }
        }
        Mode::Strace => {
            let mut cmd = Command::new("strace");
            cmd.args(["-f", "-c", "-o"]).arg(out.join("strace.txt"));
            for p in pids {
                cmd.args(["-p", &p.to_string()]);
            }
            let mut child = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .context("strace")?;
            // "strace: Process PID attached[ with N threads]" once per -p.
            let mut waiting: Vec<String> = pids
                .iter()
                .map(|p| format!("Process {p} attached"))
                .collect();
            let lines = wait_ready(child.stderr.take().unwrap(), "strace", |l| {
                waiting.retain(|w| !l.contains(w.as_str()));
                waiting.is_empty()
            })?;
            discard(lines);
            Observer {
                child,
                output: None,
            }
        }
        Mode::Bpftrace { script, .. } => {
            let mut child = Command::new("bpftrace")
                .args(["-e", script])
                // More keys than the default 4096: the nodes create a thread per outgoing
                // RPC, and the per-thread start-time maps see every one of them.
                .env("BPFTRACE_MAP_KEYS_MAX", "65536")
                // bpftrace's own test hook: prints this line on stderr once every probe is
                // attached ("Attaching N probes..." on stdout comes before attaching).
                .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("bpftrace")?;
            let mut attaching = None;
            let stdout = wait_ready(child.stdout.take().unwrap(), "bpftrace", |l| {
                attaching = l.starts_with("Attaching").then(|| l.to_string());
                attaching.is_some()
            });
            let mut stderr = child.stderr.take().unwrap();
            let stdout = match stdout {
                Ok(lines) => lines,
                Err(e) => {
                    // Refused the script: its reasons are on stderr.
                    let mut why = String::new();
                    let _ = stderr.read_to_string(&mut why);
                    let _ = child.wait();
                    return Err(e.context(why));
                }
            };
            // Warnings (a probe it could not attach...) come before the ready line. The
            // complaint that it cannot raise RLIMIT_MEMLOCK is moot: kernels since 5.11
            // charge BPF memory to the cgroup instead.
            let mut said = Vec::new();
            let stderr = wait_ready(stderr, "bpftrace", |l| {
                let ready = l.contains("__BPFTRACE_NOTIFY_PROBES_ATTACHED");
                if !ready && !l.contains("RLIMIT_MEMLOCK") {
                    said.push(l.to_string());
                }
                ready
            });
            for l in &said {
                println!("bench: bpftrace: {l}");
            }
            let stderr = stderr.with_context(|| said.join("\n"))?;
            discard(stderr);
            let output = std::thread::spawn(move || {
                attaching
                    .into_iter()
                    .chain(stdout.map_while(Result::ok))
                    .collect()
            });
            Observer {
                child,
                output: Some(output),
            }
        }
    };
    Ok(Some(observer))
}

/// Stops an observer; returns its output after the ready line (tracer's stderr, bpftrace's
/// stdout: the maps it prints at exit).
fn stop(obs: Observer) -> Result<Vec<String>> {
    let Observer { mut child, output } = obs;
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait()?;
    // perf and strace re-raise SIGINT after writing their output; tracer and bpftrace exit 0.
    use std::os::unix::process::ExitStatusExt;
    if !status.success() && status.signal() != Some(libc::SIGINT) {
        bail!("observer exited with {status}");
    }
    Ok(output
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default())
}

/// One mode's measurements over the rounds.
struct Measured {
    mode: Mode,
    ops: Vec<f64>,
    p99: Vec<f64>,
    /// tracer's stderr lines worth reporting (time to a written session, own cost).
    notes: Vec<String>,
}

/// Starts the cluster, asks `spec` for the modes (the cluster's node binary and pids are known
/// by then), measures every mode for `seconds` per round and writes the table.
pub(super) fn run(seconds: u64, spec: impl FnOnce(&Cluster, &Path) -> Result<Spec>) -> Result<()> {
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
    let spec = spec(&cluster, &tracer)?;
    let mut results: Vec<Measured> = spec
        .modes
        .iter()
        .map(|m| Measured {
            mode: m.clone(),
            ops: vec![],
            p99: vec![],
            notes: vec![],
        })
        .collect();
    for round in 0..ROUNDS {
        for m in results.iter_mut() {
            let dir = tempfile::tempdir()?;
            let obs = start(&m.mode, &tracer, &pids, dir.path())?;
            let report = cluster.run_client(&ClientOpts {
                threads: 4,
                ops_per_thread: None,
                duration: Some(Duration::from_secs(seconds)),
                mode: ClientMode::Put,
                value_bytes: 128,
            })?;
            let output = obs.map(stop).transpose()?.unwrap_or_default();
            keep_output(
                &m.mode,
                output,
                dir.path(),
                &out_root,
                spec.stem,
                &mut m.notes,
            )?;
            println!(
                "bench: round {} {:<46} {:>8.0} ops/s p99 {} us",
                round + 1,
                m.mode.name(),
                report.ops_per_sec,
                report.p99_us
            );
            m.ops.push(report.ops_per_sec);
            m.p99.push(report.p99_us as f64);
        }
    }
    cluster.stop()?;
    write_table(&spec, seconds, &results, &out_root)
}

/// tracer's report lines go to the notes; strace's and bpftrace's output of the last round is
/// kept as `STEM_strace.txt` / `STEM_bpftrace.txt` to show what they collected.
fn keep_output(
    mode: &Mode,
    output: Vec<String>,
    dir: &Path,
    out_root: &Path,
    stem: &str,
    notes: &mut Vec<String>,
) -> Result<()> {
    match mode {
        Mode::Tracer(_) => notes.extend(
            output
                .into_iter()
                .filter(|l| l.contains("session written") || l.contains("own cost"))
                .map(|l| l.trim_start_matches("tracer: ").to_string()),
        ),
        Mode::Strace => {
            std::fs::copy(
                dir.join("strace.txt"),
                out_root.join(format!("{stem}_strace.txt")),
            )
            .context("strace wrote no summary")?;
        }
        Mode::Bpftrace { .. } => std::fs::write(
            out_root.join(format!("{stem}_bpftrace.txt")),
            output.join("\n"),
        )?,
        Mode::Untraced | Mode::Perf(_) => {}
    }
    Ok(())
}

/// `0.81 (-19.0%)`
fn ratio(x: f64, base: f64) -> String {
    format!("{:.2} ({:+.1}%)", x / base, 100.0 * (x - base) / base)
}

fn write_table(spec: &Spec, seconds: u64, results: &[Measured], out_root: &Path) -> Result<()> {
    let base_ops = median(results[0].ops.clone());
    let base_p99 = median(results[0].p99.clone());
    let mut md = String::new();
    let _ = writeln!(
        md,
        "{}: 3-node fixture cluster, 4 client threads x {seconds} s of PUTs per mode, \
         median of {ROUNDS} alternating rounds\n",
        spec.title
    );
    let _ = writeln!(
        md,
        "| mode | ops/s | ratio to untraced | p99 latency (us) | p99 ratio |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    let mut json = Vec::new();
    for m in results {
        let o = median(m.ops.clone());
        let p = median(m.p99.clone());
        let _ = writeln!(
            md,
            "| {} | {o:.0} | {} | {p:.0} | {} |",
            m.mode.name(),
            ratio(o, base_ops),
            ratio(p, base_p99)
        );
        json.push(serde_json::json!({
            "mode": m.mode.name(),
            "ops_per_sec": o,
            "ratio_to_untraced": o / base_ops,
            "change_vs_untraced_pct": 100.0 * (o - base_ops) / base_ops,
            "p99_us": p,
            "p99_ratio_to_untraced": p / base_p99,
            "rounds_ops_per_sec": m.ops,
            "rounds_p99_us": m.p99,
            "tracer_notes": m.notes,
        }));
    }
    if !spec.footer.is_empty() {
        let _ = writeln!(md, "\n{}", spec.footer);
    }
    if results.iter().any(|m| !m.notes.is_empty()) {
        let _ = writeln!(
            md,
            "\ntracer at exit (time from stop to a written session, its own cost):"
        );
        for m in results {
            for n in &m.notes {
                let _ = writeln!(md, "- {}: {n}", m.mode.name());
            }
        }
    }
    println!("\n{md}");
    std::fs::write(out_root.join(format!("{}.md", spec.stem)), &md)?;
    std::fs::write(
        out_root.join(format!("{}.json", spec.stem)),
        serde_json::to_string_pretty(&serde_json::json!({
            "title": spec.title,
            "seconds_per_mode": seconds,
            "rounds": ROUNDS,
            "results": json,
        }))?,
    )?;
    println!("bench: written to {}", out_root.display());
    Ok(())
}
