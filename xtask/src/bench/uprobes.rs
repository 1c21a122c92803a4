//! `cargo xtask bench --suite uprobes`: the cost of one call of a probed function (uprobe +
//! uretprobe), tracer vs bpftrace timing the same function, in one run. The fixture's
//! `syscall-workload --loop-call N` calls a near-empty out-of-line function N times and prints
//! ns per call, so start-up costs do not count.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::process::Command;
use tracer_test_support::{fixture_bins, Variant};

use super::median;
use super::syscalls::{ns_per_iter, strings, Wrap};
use crate::cmd::workspace_root;
use crate::demo::build_tracer;

/// Rounds; modes alternate within a round so drift on a shared machine hits them all alike.
const RUNS: usize = 5;

/// A profile probing only the benchmark function.
const PROFILE: &str = r#"
[[layer]]
name = "bench"
title = "Bench"
folder = "bench"
functions = ["workload_probe_target"]
"#;

pub fn run(calls: u64) -> Result<()> {
    let tracer = build_tracer()?;
    let bins = fixture_bins(Variant::Fp)?;
    let workload = bins.workload.display().to_string();
    let out_root = workspace_root().join("target/bench");
    std::fs::create_dir_all(&out_root)?;
    let profile = out_root.join("uprobe_bench_profile.toml");
    std::fs::write(&profile, PROFILE)?;
    let session = out_root.join("uprobe_session");
    let t = tracer.display().to_string();
    let (p, s) = (profile.display().to_string(), session.display().to_string());
    let entry_ret = format!(
        "uprobe:{workload}:workload_probe_target {{ @s[tid] = nsecs; }} \
         uretprobe:{workload}:workload_probe_target /@s[tid]/ {{ \
         @h = hist(nsecs - @s[tid]); delete(@s[tid]); }}"
    );
    let count_only = format!("uprobe:{workload}:workload_probe_target {{ @c = count(); }}");
    let modes: Vec<(&str, Wrap)> = vec![
        ("untraced", Wrap::Bare),
        (
            "tracer (uprobe+uretprobe, latency histogram)",
            Wrap::Prefix(strings(&[
                &t,
                "run",
                "--no-sample",
                "--probe-budget",
                "0",
                "--profile",
                &p,
                "-o",
                &s,
                "--",
            ])),
        ),
        (
            "bpftrace uprobe+uretprobe, latency hist",
            Wrap::Bpftrace(entry_ret),
        ),
        ("bpftrace uprobe only, count", Wrap::Bpftrace(count_only)),
    ];
    let argv_w = vec![workload.clone(), "--loop-call".into(), calls.to_string()];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut counted = None;
    for _ in 0..RUNS {
        for (i, (name, how)) in modes.iter().enumerate() {
            let argv = how.argv(&argv_w);
            let out = Command::new(&argv[0])
                .args(&argv[1..])
                .output()
                .with_context(|| format!("cannot run {}", argv[0]))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                bail!(
                    "{name} failed: {}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            samples[i].push(
                ns_per_iter(&stdout).with_context(|| format!("{name}: no timing in {stdout}"))?,
            );
            if name.starts_with("tracer") {
                let snap: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(session.join("snapshot.json"))?)?;
                counted = snap["functions"]
                    .as_array()
                    .and_then(|f| f.first())
                    .and_then(|f| f["entries"].as_u64());
            }
        }
    }
    let mut results = Vec::new();
    for ((name, _), s) in modes.iter().zip(samples) {
        let m = median(s);
        println!("bench: {name:<46} {m:>10.1} ns/call");
        results.push((name.to_string(), m));
    }
    let base = results[0].1;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Probed-call cost: `syscall-workload --loop-call {calls}` (a near-empty function), \
         median of {RUNS} runs\n"
    );
    let _ = writeln!(md, "| mode | ns/call | added us/call |");
    let _ = writeln!(md, "|---|---:|---:|");
    let mut json = Vec::new();
    for (name, ns) in &results {
        let _ = writeln!(md, "| {name} | {ns:.1} | {:.2} |", (ns - base) / 1e3);
        json.push(serde_json::json!({"mode": name, "ns_per_call": ns, "added_us_per_call": (ns - base) / 1e3}));
    }
    let _ = writeln!(
        md,
        "\ntracer counted {} calls of {calls}",
        counted.unwrap_or(0)
    );
    println!("\n{md}");
    std::fs::write(out_root.join("uprobe_overhead.md"), &md)?;
    std::fs::write(
        out_root.join("uprobe_overhead.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    Ok(())
}
