//! `cargo xtask bench --suite syscalls`: tracer's added cost per syscall on a tight syscall loop, side by side
//! in one run with bpftrace counting the same tracepoint, bpftrace timing every syscall (what
//! tracer does), and `strace -f -c`. Numbers come from the loop timing itself (the fixture's
//! `syscall-workload --loop-getppid N` prints ns per iteration), so start-up costs do not count.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::process::Command;
use tracer_test_support::{fixture_bins, Variant};

use super::median;
use crate::cmd::workspace_root;
use crate::demo::build_tracer;

/// Runs of each mode; the median is reported.
const RUNS: usize = 3;

struct Mode {
    name: &'static str,
    /// Loop iterations for this mode (strace is too slow for the full count).
    iters: u64,
    how: Wrap,
}

/// How a mode runs the workload command.
pub(super) enum Wrap {
    /// As it is.
    Bare,
    /// After these arguments (`strace ... --`, `tracer run ... --`).
    Prefix(Vec<String>),
    /// As `bpftrace -e SCRIPT -c "CMD"`.
    Bpftrace(String),
}

impl Wrap {
    pub(super) fn argv(&self, workload: &[String]) -> Vec<String> {
        match self {
            Wrap::Bare => workload.to_vec(),
            Wrap::Prefix(p) => p.iter().chain(workload).cloned().collect(),
            Wrap::Bpftrace(script) => vec![
                "bpftrace".into(),
                "-e".into(),
                script.clone(),
                "-c".into(),
                workload.join(" "),
            ],
        }
    }
}

pub(super) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Finds the workload's `{"ns_per_iter": ...}` line in a command's stdout.
pub(super) fn ns_per_iter(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .find_map(|v| v.get("ns_per_iter").and_then(Value::as_f64))
}

pub fn run(iters: u64) -> Result<()> {
    let tracer = build_tracer()?;
    let bins = fixture_bins(Variant::Fp)?;
    let workload = bins.workload.display().to_string();
    let out_root = workspace_root().join("target/bench");
    std::fs::create_dir_all(&out_root)?;
    let session = out_root.join("syscall_session");

    let tracer_s = tracer.display().to_string();
    let session_s = session.display().to_string();
    let modes = vec![
        Mode {
            name: "untraced",
            iters,
            how: Wrap::Bare,
        },
        Mode {
            name: "tracer run -- CMD",
            iters,
            how: Wrap::Prefix(strings(&[&tracer_s, "run", "-o", &session_s, "--"])),
        },
        Mode {
            name: "bpftrace count (sys_enter only)",
            iters,
            how: Wrap::Bpftrace(
                "tracepoint:raw_syscalls:sys_enter /pid == cpid/ { @c[args->id] = count(); }"
                    .into(),
            ),
        },
        Mode {
            name: "bpftrace latency hist (enter+exit)",
            iters,
            how: Wrap::Bpftrace(
                "tracepoint:raw_syscalls:sys_enter /pid == cpid/ { @s[tid] = nsecs; } \
                 tracepoint:raw_syscalls:sys_exit /@s[tid]/ { \
                 @h[args->id] = hist(nsecs - @s[tid]); delete(@s[tid]); }"
                    .into(),
            ),
        },
        Mode {
            name: "strace -f -c",
            iters: (iters / 100).max(1000),
            how: Wrap::Prefix(strings(&["strace", "-f", "-c", "-o", "/dev/null", "--"])),
        },
    ];

    let mut results: Vec<(String, u64, f64)> = Vec::new();
    let mut tracer_lost = None;
    let mut tracer_counted = None;
    for mode in &modes {
        let w = vec![
            workload.clone(),
            "--loop-getppid".to_string(),
            mode.iters.to_string(),
        ];
        let argv = mode.how.argv(&w);
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            let out = Command::new(&argv[0])
                .args(&argv[1..])
                .output()
                .with_context(|| format!("cannot run {}", argv[0]))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                bail!(
                    "{} failed: {}\n{}",
                    mode.name,
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let ns = ns_per_iter(&stdout)
                .with_context(|| format!("{}: no ns_per_iter line in:\n{stdout}", mode.name))?;
            samples.push(ns);
            if mode.name.starts_with("tracer") {
                let snap: Value =
                    serde_json::from_str(&std::fs::read_to_string(session.join("snapshot.json"))?)?;
                let lost: u64 = snap["drops"]
                    .as_object()
                    .map(|m| m.values().filter_map(Value::as_u64).sum())
                    .unwrap_or(0);
                let counted: u64 = snap["syscalls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["name"] == "getppid")
                    .filter_map(|r| r["stats"]["count"].as_u64())
                    .sum();
                tracer_lost = Some(lost);
                tracer_counted = Some(counted);
            }
        }
        let m = median(samples);
        println!("bench: {:<36} {:>10.1} ns/syscall", mode.name, m);
        results.push((mode.name.to_string(), mode.iters, m));
    }

    let base = results[0].2;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Syscall overhead: `syscall-workload --loop-getppid N`, median of {RUNS} runs\n"
    );
    let _ = writeln!(
        md,
        "| mode | iterations | ns/syscall | added ns/syscall | x untraced |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    let mut json = Vec::new();
    for (name, n, ns) in &results {
        let _ = writeln!(
            md,
            "| {name} | {n} | {ns:.1} | {:.1} | {:.1} |",
            ns - base,
            ns / base
        );
        json.push(serde_json::json!({
            "mode": name, "iterations": n, "ns_per_syscall": ns,
            "added_ns_per_syscall": ns - base, "ratio_to_untraced": ns / base,
        }));
    }
    let _ = writeln!(
        md,
        "\ntracer counted {} getppid calls of {iters} issued; lost events: {}",
        tracer_counted.unwrap_or(0),
        tracer_lost.unwrap_or(0)
    );
    println!("\n{md}");
    std::fs::write(out_root.join("syscall_overhead.md"), &md)?;
    std::fs::write(
        out_root.join("syscall_overhead.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "results": json,
            "tracer_counted_getppid": tracer_counted,
            "tracer_lost_events": tracer_lost,
        }))?,
    )?;
    println!("bench: written to {}", out_root.display());
    Ok(())
}
