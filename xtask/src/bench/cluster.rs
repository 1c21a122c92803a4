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
use tracer_test_support::{cpu_seconds, ClientMode, ClientOpts, Cluster, ClusterOpts, Fsync};

use super::median;
use crate::cmd::workspace_root;
use crate::demo::build_tracer;

/// CPU seconds of this process's waited-for children (the client, once it has exited).
fn children_cpu_s() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

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
    // An interrupted bench stops its observer too (test-support stops the cluster).
    tracer_test_support::reaper::track(observer.child.id());
    Ok(Some(observer))
}

/// Stops an observer; returns its output after the ready line (tracer's stderr, bpftrace's
/// stdout: the maps it prints at exit).
fn stop(obs: Observer) -> Result<Vec<String>> {
    let Observer { mut child, output } = obs;
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    tracer_test_support::reaper::untrack(child.id());
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

/// One observed client run.
struct Sample {
    ops: f64,
    p99: f64,
    cpu_per_op: f64,
}

/// One mode's measurements over the rounds.
struct Measured {
    mode: Mode,
    ops: Vec<f64>,
    p99: Vec<f64>,
    /// CPU time of the nodes and the client per operation, µs (the observer's own process
    /// is not in it; tracer reports its own in `notes`).
    cpu_per_op_us: Vec<f64>,
    /// Per pair, this mode's value divided by that of the untraced run just before it
    /// (ops/s, p99, CPU/op); empty for the untraced mode itself.
    ratios: Vec<[f64; 3]>,
    /// tracer's stderr lines worth reporting (time to a written session, own cost).
    notes: Vec<String>,
}

impl Measured {
    fn push(&mut self, x: &Sample, base: Option<&Sample>) {
        self.ops.push(x.ops);
        self.p99.push(x.p99);
        self.cpu_per_op_us.push(x.cpu_per_op);
        if let Some(b) = base {
            self.ratios.push([
                x.ops / b.ops.max(1e-9),
                x.p99 / b.p99.max(1e-9),
                x.cpu_per_op / b.cpu_per_op.max(1e-9),
            ]);
        }
    }

    /// Median paired ratio `k` (0 ops, 1 p99, 2 CPU/op); 1 for the untraced mode.
    fn ratio(&self, k: usize) -> f64 {
        if self.ratios.is_empty() {
            1.0
        } else {
            median(self.ratios.iter().map(|r| r[k]).collect())
        }
    }
}

/// Starts the cluster, asks `spec` for the modes (the cluster's node binary and pids are known
/// by then), measures every mode for `seconds` per round and writes the table.
pub(super) fn run(
    runs: &super::ClusterRuns,
    spec: impl FnOnce(&Cluster, &Path) -> Result<Spec>,
) -> Result<()> {
    let (seconds, rounds) = (runs.seconds, runs.rounds);
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
    let mut spec = spec(&cluster, &tracer)?;
    if !matches!(spec.modes.first(), Some(Mode::Untraced)) {
        bail!("a cluster benchmark's first mode is the untraced baseline");
    }
    if let Some(only) = &runs.only {
        spec.modes
            .retain(|m| matches!(m, Mode::Untraced) || m.name().contains(only.as_str()));
        if spec.modes.len() < 2 {
            bail!("no mode of this suite matches --only {only:?}");
        }
    }
    let mut results: Vec<Measured> = spec
        .modes
        .iter()
        .map(|m| Measured {
            mode: m.clone(),
            ops: vec![],
            p99: vec![],
            cpu_per_op_us: vec![],
            ratios: vec![],
            notes: vec![],
        })
        .collect();
    // Paired design: every observed run is preceded by an untraced run of its own, and each
    // mode's ratios are the medians of its per-pair ratios. This machine drifts between a fast
    // and a slow state for minutes at a time (host contention: ~10.5k vs ~9k ops/s untraced),
    // which alternating rounds alone did not cancel out.
    let load = ClientOpts {
        threads: 4,
        ops_per_thread: None,
        duration: Some(Duration::from_secs(seconds)),
        mode: ClientMode::Put,
        value_bytes: 128,
        rate_per_thread: runs.rate.map(|r| r.div_ceil(4).max(1)),
    };
    let measure = |mode: &Mode, notes: &mut Vec<String>, round: usize| -> Result<Sample> {
        let dir = tempfile::tempdir()?;
        let obs = start(mode, &tracer, &pids, dir.path())?;
        if runs.warmup > 0 {
            cluster.run_client(&ClientOpts {
                duration: Some(Duration::from_secs(runs.warmup)),
                ..load.clone()
            })?;
        }
        let cpu0: f64 = pids.iter().map(|&p| cpu_seconds(p)).sum::<f64>() + children_cpu_s();
        let report = cluster.run_client(&load)?;
        let cpu1: f64 = pids.iter().map(|&p| cpu_seconds(p)).sum::<f64>() + children_cpu_s();
        let cpu_per_op = 1e6 * (cpu1 - cpu0) / report.ops.max(1) as f64;
        let output = obs.map(stop).transpose()?.unwrap_or_default();
        keep_output(
            mode,
            output,
            dir.path(),
            &out_root,
            &runs.stem(spec.stem),
            notes,
        )?;
        println!(
            "bench: round {} {:<46} {:>8.0} ops/s p99 {} us, {cpu_per_op:.1} CPU-us/op",
            round + 1,
            mode.name(),
            report.ops_per_sec,
            report.p99_us
        );
        Ok(Sample {
            ops: report.ops_per_sec,
            p99: report.p99_us as f64,
            cpu_per_op,
        })
    };
    for round in 0..rounds {
        for i in 1..results.len() {
            let base = measure(&Mode::Untraced, &mut Vec::new(), round)?;
            let (first, rest) = results.split_at_mut(1);
            let m = &mut rest[i - 1];
            let x = measure(&m.mode, &mut m.notes, round)?;
            first[0].push(&base, None);
            m.push(&x, Some(&base));
        }
    }
    cluster.stop()?;
    write_table(&spec, runs, &results, &out_root)
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
fn ratio(r: f64) -> String {
    format!("{r:.2} ({:+.1}%)", 100.0 * (r - 1.0))
}

fn write_table(
    spec: &Spec,
    runs: &super::ClusterRuns,
    results: &[Measured],
    out_root: &Path,
) -> Result<()> {
    let (seconds, rounds, warmup) = (runs.seconds, runs.rounds, runs.warmup);
    let load = match runs.rate {
        Some(r) => format!(
            "paced at {r} ops/s in total (latency from each op's scheduled time; the \
             throughput ratio then only says whether the cluster kept up, CPU/op and p99 \
             are the cost)"
        ),
        None => "closed loop (the cluster saturated)".to_string(),
    };
    let mut md = String::new();
    let _ = writeln!(
        md,
        "{}: 3-node fixture cluster, 4 client threads x {seconds} s of PUTs per mode, {load} \
         (measured after {warmup} s of load once the observer is ready), {rounds} rounds; every observed run is paired with an untraced run just before it, \
         and ratios are medians of the per-pair ratios (the untraced row: all its runs). CPU/op: user+system time of the nodes and the \
         client per operation (BPF programs run in the traced threads, so their time is in it; \
         the observer's own process is not) — steadier than throughput on a shared machine.\n",
        spec.title
    );
    let _ = writeln!(
        md,
        "| mode | ops/s | ratio to untraced | p99 latency (us) | p99 ratio | CPU/op (us) | CPU/op ratio |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
    let mut json = Vec::new();
    for m in results {
        let o = median(m.ops.clone());
        let p = median(m.p99.clone());
        let c = median(m.cpu_per_op_us.clone());
        let _ = writeln!(
            md,
            "| {} | {o:.0} | {} | {p:.0} | {} | {c:.1} | {} |",
            m.mode.name(),
            ratio(m.ratio(0)),
            ratio(m.ratio(1)),
            ratio(m.ratio(2))
        );
        json.push(serde_json::json!({
            "mode": m.mode.name(),
            "ops_per_sec": o,
            "ratio_to_untraced": m.ratio(0),
            "change_vs_untraced_pct": 100.0 * (m.ratio(0) - 1.0),
            "p99_us": p,
            "p99_ratio_to_untraced": m.ratio(1),
            "rounds_ops_per_sec": m.ops,
            "rounds_p99_us": m.p99,
            "cpu_per_op_us": c,
            "cpu_per_op_ratio_to_untraced": m.ratio(2),
            "paired_ratios_ops_p99_cpu": m.ratios,
            "rounds_cpu_per_op_us": m.cpu_per_op_us,
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
    let stem = runs.stem(spec.stem);
    std::fs::write(out_root.join(format!("{stem}.md")), &md)?;
    std::fs::write(
        out_root.join(format!("{stem}.json")),
        serde_json::to_string_pretty(&serde_json::json!({
            "title": spec.title,
            "seconds_per_mode": seconds,
            "warmup_seconds": warmup,
            "rate_ops_per_s": runs.rate,
            "rounds": rounds,
            "results": json,
        }))?,
    )?;
    println!("bench: written to {}", out_root.display());
    Ok(())
}
