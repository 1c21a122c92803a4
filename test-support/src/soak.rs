//! A soak run: `tracer run` in continuous mode (no duration, `--interval`, `--metrics`) on a
//! 3-node fixture cluster under steady client load, watched from outside: its resident
//! memory and CPU every few seconds, the windows it writes, its metrics endpoint scraped like
//! a Prometheus server would; then SIGTERM, which must still write the full report.
//!
//! One implementation for both users: `cargo xtask soak --duration 1h` (the benchmark, whose
//! target is RSS growth under 10% after the first window) and the 2-minute CI test that
//! asserts memory stays flat and windows keep coming.

use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ClientMode, ClientOpts, ClientReport, Cluster, ClusterOpts, Fsync};

pub struct SoakOpts {
    /// The `tracer` binary.
    pub tracer: PathBuf,
    pub duration: Duration,
    /// `--interval` of the tracer (window length).
    pub interval: Duration,
    /// How often memory, CPU, windows and the metrics endpoint are looked at.
    pub sample_every: Duration,
    pub client_threads: u32,
    /// Session folder of the tracer.
    pub out_dir: PathBuf,
}

/// One look at the tracer.
#[derive(Clone, Debug, Serialize)]
pub struct SoakSample {
    pub t_s: f64,
    pub rss_bytes: u64,
    /// The anonymous part of `rss_bytes` (heap, stacks); the rest is file pages (the binary,
    /// ELF files mapped for symbolisation).
    pub rss_anon_bytes: u64,
    pub tracer_cpu_s: f64,
    /// The highest window number written so far (older files are deleted by retention).
    pub windows: u32,
    /// Bytes of the metrics exposition served at this moment (0: not scraped or failed).
    pub metrics_bytes: usize,
}

#[derive(Debug, Serialize)]
pub struct SoakReport {
    pub duration_s: f64,
    pub interval_s: f64,
    pub samples: Vec<SoakSample>,
    /// RSS at the first sample after window 1 was written: the baseline of the target.
    pub baseline_rss_bytes: u64,
    /// Largest RSS seen after the baseline.
    pub max_rss_bytes: u64,
    pub final_rss_bytes: u64,
    /// (max - baseline) / baseline, in percent.
    pub growth_pct: f64,
    pub windows: u32,
    /// What `duration / interval` windows would be.
    pub expected_windows: u32,
    /// Seconds between the last window file and the end of the run.
    pub last_window_age_s: f64,
    /// Scrapes of the metrics endpoint that failed (connection refused, bad answer).
    pub failed_scrapes: u32,
    pub tracer_cpu_s: f64,
    /// The report exists after SIGTERM.
    pub report_written: bool,
    pub client_ops_per_sec: f64,
    pub client_errors: u64,
}

impl SoakReport {
    /// What failed against the targets (empty: all met): memory growth under 10% after the
    /// first window, windows every interval up to the end, the endpoint answering, the report
    /// written at SIGTERM.
    pub fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        if self.growth_pct >= 10.0 {
            f.push(format!(
                "RSS grew {:.1}% after the first window ({} -> max {} bytes), target < 10%",
                self.growth_pct, self.baseline_rss_bytes, self.max_rss_bytes
            ));
        }
        if self.windows + 2 < self.expected_windows {
            f.push(format!(
                "{} windows written, {} expected",
                self.windows, self.expected_windows
            ));
        }
        if self.last_window_age_s > 2.0 * self.interval_s + 1.0 {
            f.push(format!(
                "the last window is {:.0} s old at the end (interval {:.0} s): windows stopped",
                self.last_window_age_s, self.interval_s
            ));
        }
        if self.failed_scrapes > 0 {
            f.push(format!("{} metrics scrapes failed", self.failed_scrapes));
        }
        if !self.report_written {
            f.push("no report after SIGTERM".into());
        }
        f
    }

    /// A Markdown summary: the figures and a table of samples (about 20 rows).
    pub fn markdown(&self) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let mut md = format!(
            "Soak: tracer run --interval {:.0}s --metrics on a 3-node fixture cluster under \
             steady load ({:.0} ops/s), {:.0} s\n\n\
             | figure | value |\n|---|---:|\n\
             | RSS after the first window | {:.1} MiB |\n\
             | largest RSS after it | {:.1} MiB |\n\
             | RSS at the end | {:.1} MiB |\n\
             | growth after the first window (target < 10%) | {:.1}% |\n\
             | windows written / expected | {} / {} |\n\
             | last window's age at the end | {:.1} s |\n\
             | failed metrics scrapes | {} |\n\
             | tracer CPU | {:.1} s ({:.2}% of one CPU) |\n\
             | report written at SIGTERM | {} |\n\n\
             | t (s) | RSS (MiB) | of it anonymous (MiB) | tracer CPU (s) | windows | metrics (bytes) |\n\
             |---:|---:|---:|---:|---:|---:|\n",
            self.interval_s,
            self.client_ops_per_sec,
            self.duration_s,
            mib(self.baseline_rss_bytes),
            mib(self.max_rss_bytes),
            mib(self.final_rss_bytes),
            self.growth_pct,
            self.windows,
            self.expected_windows,
            self.last_window_age_s,
            self.failed_scrapes,
            self.tracer_cpu_s,
            100.0 * self.tracer_cpu_s / self.duration_s.max(1e-9),
            self.report_written
        );
        let step = (self.samples.len() / 20).max(1);
        for (i, s) in self.samples.iter().enumerate() {
            if i % step == 0 || i + 1 == self.samples.len() {
                md.push_str(&format!(
                    "| {:.0} | {:.1} | {:.1} | {:.2} | {} | {} |\n",
                    s.t_s,
                    mib(s.rss_bytes),
                    mib(s.rss_anon_bytes),
                    s.tracer_cpu_s,
                    s.windows,
                    s.metrics_bytes
                ));
            }
        }
        md
    }
}

/// Runs the soak; errors only when it cannot run at all (the targets are `failures`).
pub fn run(opts: &SoakOpts) -> Result<SoakReport> {
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Batch,
        ..ClusterOpts::default()
    })?;
    cluster.wait_for_leader(Duration::from_secs(15))?;
    let mut cmd = Command::new(&opts.tracer);
    cmd.arg("run")
        .args(["--interval", &format!("{}ms", opts.interval.as_millis())])
        .args(["--metrics", "127.0.0.1:0", "-o"])
        .arg(&opts.out_dir);
    for p in cluster.pids() {
        cmd.args(["--pid", &p.to_string()]);
    }
    let mut tracer = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tracer")?;
    let tracer_pid = tracer.id();
    // An interrupted soak (Ctrl-C, SIGTERM) kills the tracer too, not only the cluster.
    crate::reaper::track(tracer_pid);
    let mut lines = BufReader::new(tracer.stderr.take().context("tracer stderr")?).lines();
    let mut addr = None;
    loop {
        let Some(Ok(l)) = lines.next() else {
            crate::reaper::untrack(tracer_pid);
            let _ = tracer.wait();
            bail!("tracer exited before it was tracing");
        };
        if let Some(rest) = l.strip_prefix("tracer: metrics on http://") {
            addr = Some(rest.trim_end_matches("/metrics").to_string());
        }
        if l.contains("tracer: tracing") {
            break;
        }
    }
    // Keep draining stderr (a full pipe would block the tracer); keep the tail for errors.
    let tail = std::thread::spawn(move || {
        let mut last: Vec<String> = Vec::new();
        for l in lines.map_while(Result::ok) {
            last.push(l);
            if last.len() > 40 {
                last.remove(0);
            }
        }
        last
    });
    let client = cluster.spawn_client(&ClientOpts {
        threads: opts.client_threads,
        ops_per_thread: None,
        duration: Some(opts.duration),
        mode: ClientMode::Put,
        value_bytes: 128,
        rate_per_thread: None,
    })?;
    let start = Instant::now();
    let windows_dir = opts.out_dir.join("windows");
    let mut samples = Vec::new();
    let mut failed_scrapes = 0;
    while start.elapsed() < opts.duration {
        std::thread::sleep(opts.sample_every);
        let metrics_bytes = match &addr {
            Some(a) => match scrape(a) {
                Ok(body) => body.len(),
                Err(_) => {
                    failed_scrapes += 1;
                    0
                }
            },
            None => 0,
        };
        let (rss_bytes, rss_anon_bytes, tracer_cpu_s) =
            proc_usage(tracer_pid).with_context(|| format!("tracer (pid {tracer_pid}) is gone"))?;
        samples.push(SoakSample {
            t_s: start.elapsed().as_secs_f64(),
            rss_bytes,
            rss_anon_bytes,
            tracer_cpu_s,
            windows: last_window(&windows_dir).0,
            metrics_bytes,
        });
    }
    let duration_s = start.elapsed().as_secs_f64();
    let (windows, last_window_at) = last_window(&windows_dir);
    let last_window_age_s = last_window_at
        .and_then(|t| t.elapsed().ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(f64::INFINITY);
    let client: ClientReport = client.finish()?;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(tracer_pid as i32, libc::SIGTERM) };
    crate::reaper::untrack(tracer_pid);
    let status = tracer.wait()?;
    let tail = tail.join().unwrap_or_default();
    if !status.success() {
        bail!("tracer exited with {status}:\n{}", tail.join("\n"));
    }
    let report_written = opts
        .out_dir
        .join("TARGETED_PERF_ANALYSIS_REPORT.md")
        .is_file();
    let baseline = samples
        .iter()
        .position(|s| s.windows >= 1)
        .context("no window was written during the soak")?;
    let baseline_rss_bytes = samples[baseline].rss_bytes;
    let max_rss_bytes = samples[baseline..]
        .iter()
        .map(|s| s.rss_bytes)
        .max()
        .unwrap_or(baseline_rss_bytes);
    let last = samples.last().cloned().context("no samples")?;
    drop(cluster);
    Ok(SoakReport {
        duration_s,
        interval_s: opts.interval.as_secs_f64(),
        growth_pct: 100.0 * (max_rss_bytes as f64 - baseline_rss_bytes as f64)
            / baseline_rss_bytes.max(1) as f64,
        baseline_rss_bytes,
        max_rss_bytes,
        final_rss_bytes: last.rss_bytes,
        windows,
        expected_windows: (duration_s / opts.interval.as_secs_f64()) as u32,
        last_window_age_s,
        failed_scrapes,
        tracer_cpu_s: last.tracer_cpu_s,
        report_written,
        client_ops_per_sec: client.ops_per_sec,
        client_errors: client.errors,
        samples,
    })
}

/// Resident memory, its anonymous part (bytes) and CPU time (s) of `pid`; None once it is gone.
fn proc_usage(pid: u32) -> Option<(u64, u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |field: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(field))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let (rss_kb, anon_kb) = (kb("VmRSS:")?, kb("RssAnon:")?);
    Some((rss_kb * 1024, anon_kb * 1024, crate::cpu_seconds(pid)))
}

/// The highest window number in `dir` (`window_NNNN.json`) and when that file was written.
fn last_window(dir: &Path) -> (u32, Option<std::time::SystemTime>) {
    let mut best = (0, None);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("window_")
            .and_then(|r| r.strip_suffix(".json"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if n > best.0 {
            best = (n, e.metadata().and_then(|m| m.modified()).ok());
        }
    }
    best
}

/// GET /metrics over plain HTTP/1.0; the body if the answer is 200.
fn scrape(addr: &str) -> Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let (head, body) = resp.split_once("\r\n\r\n").context("no HTTP header end")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!("metrics answered {}", head.lines().next().unwrap_or(""));
    }
    Ok(body.to_string())
}
