//! `cargo xtask soak --duration 1h`: tracer in continuous mode on a loaded fixture cluster for
//! a long time, watched from outside (see `tracer_test_support::soak`). Target: resident
//! memory grows less than 10% after the first window, windows keep coming, the metrics
//! endpoint keeps answering, and SIGTERM still writes the report. Writes
//! `target/bench/soak.{md,json}` and fails when a target is missed.

use anyhow::{bail, Context, Result};
use std::time::Duration;
use tracer_test_support::soak::{self, SoakOpts};

use crate::cmd::workspace_root;
use crate::demo::build_tracer;

/// `90s`, `30m`, `1h`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num
        .parse()
        .with_context(|| format!("{s:?}: expected e.g. 90s, 30m, 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("{s:?}: expected e.g. 90s, 30m, 1h"),
    };
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(duration: &str, interval: &str, threads: u32) -> Result<()> {
    let duration = parse_duration(duration)?;
    let interval = parse_duration(interval)?;
    let tracer = build_tracer()?;
    let out_root = workspace_root().join("target/bench");
    std::fs::create_dir_all(&out_root)?;
    let session = tempfile::tempdir()?;
    println!(
        "soak: tracer run --interval {}s on a 3-node fixture cluster, {threads} client thread(s), \
         for {} s",
        interval.as_secs(),
        duration.as_secs()
    );
    let report = soak::run(&SoakOpts {
        tracer,
        duration,
        interval,
        sample_every: Duration::from_secs(5).min(interval),
        client_threads: threads,
        out_dir: session.path().join("session"),
    })?;
    let md = report.markdown();
    println!("\n{md}");
    std::fs::write(out_root.join("soak.md"), &md)?;
    std::fs::write(
        out_root.join("soak.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!("soak: written to {}", out_root.display());
    let failures = report.failures();
    if !failures.is_empty() {
        bail!("soak missed its targets:\n- {}", failures.join("\n- "));
    }
    println!("soak: every target met");
    Ok(())
}
