//! `cargo xtask fuzz [--seconds N] [--target NAME]`: runs each fuzz target of `tracer/fuzz`
//! (cargo-fuzz, libFuzzer, nightly) for a bounded time, seeded with real inputs, and fails
//! when one crashed. CI does not fuzz; every crash found becomes a file under
//! `tracer/tests/data/hostile/` that the normal suite runs through `tracer report`,
//! `tracer diff` and `tracer profile --check` (tests/hostile_input.rs).
//!
//! Targets are built with debug assertions and overflow checks (cargo-fuzz's default without
//! `-O`): an arithmetic overflow on a hostile value is a finding too.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{self, workspace_root};

/// The fuzz targets, as `tracer/fuzz/Cargo.toml` declares them.
pub const TARGETS: &[&str] = &["snapshot", "snapshot_fields", "profile", "elf", "proc_text"];

fn fuzz_dir() -> PathBuf {
    workspace_root().join("tracer/fuzz")
}

/// Installs cargo-fuzz unless present: only `cargo xtask fuzz` needs it, so `setup` does not.
fn cargo_fuzz() -> Result<()> {
    if cmd::succeeds("cargo", &["+nightly", "fuzz", "--version"]) {
        println!("fuzz: cargo-fuzz present");
        return Ok(());
    }
    println!("fuzz: installing cargo-fuzz (a few minutes, once)");
    cmd::run("cargo", &["install", "cargo-fuzz", "--locked"], None)
}

/// Runs every target (or `only`) for `seconds` each; fails listing the crashes found.
pub fn run(seconds: u64, only: Option<&str>) -> Result<()> {
    let targets: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| only.is_none_or(|o| *t == o))
        .collect();
    if targets.is_empty() {
        bail!("no fuzz target is named {only:?}: {}", TARGETS.join(", "));
    }
    cargo_fuzz()?;
    let mut crashes = Vec::new();
    for target in targets {
        let corpus = fuzz_dir().join("corpus").join(target);
        seed(target, &corpus)?;
        let before = artifacts(target);
        println!("fuzz: {target} for {seconds} s");
        let status = Command::new("cargo")
            .args(["+nightly", "fuzz", "run", target])
            .arg(&corpus)
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                &format!("-max_len={}", max_len(target)),
                "-rss_limit_mb=2048",
                "-timeout=10",
                "-print_final_stats=1",
            ])
            .current_dir(workspace_root().join("tracer"))
            .status()
            .context("cannot run cargo fuzz")?;
        let new: Vec<PathBuf> = artifacts(target)
            .into_iter()
            .filter(|a| !before.contains(a))
            .collect();
        if !status.success() && new.is_empty() {
            bail!("cargo fuzz run {target} failed without a crash file: {status}");
        }
        crashes.extend(new);
    }
    if !crashes.is_empty() {
        bail!(
            "the fuzzers found {} crash(es):\n  {}\nReproduce one with `cd tracer && cargo +nightly fuzz run TARGET FILE`, fix it, and keep the file under tracer/tests/data/hostile/ as a regression test",
            crashes.len(),
            crashes
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    println!("fuzz: no crash");
    Ok(())
}

/// Inputs larger than real ones only slow the fuzzer down: sessions and binaries get room.
fn max_len(target: &str) -> usize {
    match target {
        "snapshot" | "elf" => 64 * 1024,
        _ => 8 * 1024,
    }
}

/// Crash, timeout and out-of-memory files of `target` so far.
fn artifacts(target: &str) -> Vec<PathBuf> {
    std::fs::read_dir(fuzz_dir().join("artifacts").join(target))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Puts real inputs in `corpus` (the canned sessions, the built-in profile, a small ELF
/// with symbols and a stripped one, /proc text) and the regression files of earlier crashes.
fn seed(target: &str, corpus: &Path) -> Result<()> {
    std::fs::create_dir_all(corpus)?;
    let root = workspace_root();
    let put = |name: &str, bytes: &[u8]| std::fs::write(corpus.join(name), bytes);
    match target {
        "snapshot" => {
            for s in [
                "one_node_no_sampling",
                "three_nodes_pathological",
                "two_nodes_kernel_frames",
            ] {
                let path = root
                    .join("tracer/tests/data/sessions")
                    .join(s)
                    .join("snapshot.json");
                put(&format!("seed_{s}.json"), &std::fs::read(&path)?)?;
            }
        }
        "snapshot_fields" => {
            for seed in 0u8..3 {
                put(&format!("seed_{seed}"), &[seed, 0, 0, 2, 0])?;
            }
        }
        "profile" => put(
            "seed_default.toml",
            &std::fs::read(root.join("tracer/src/profile/default.toml"))?,
        )?,
        "elf" => {
            put("seed_stripped", &std::fs::read("/usr/bin/true")?)?;
            put("seed_symbols", &tiny_elf()?)?;
        }
        "proc_text" => {
            for (name, path) in [
                ("diskstats", "/proc/diskstats"),
                ("io", "/proc/self/io"),
                ("stat", "/proc/self/stat"),
            ] {
                if let Ok(text) = std::fs::read(path) {
                    put(&format!("seed_{name}"), &text)?;
                }
            }
        }
        _ => {}
    }
    // Earlier crashes of this target stay in its corpus.
    let hostile = root.join("tracer/tests/data/hostile").join(target);
    if let Ok(dir) = std::fs::read_dir(&hostile) {
        for e in dir.flatten() {
            put(
                &format!("regression_{}", e.file_name().to_string_lossy()),
                &std::fs::read(e.path())?,
            )?;
        }
    }
    Ok(())
}

/// A small static ELF with a `.symtab` (a few KB): a seed the fuzzer can mutate quickly.
fn tiny_elf() -> Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("tiny.cpp");
    std::fs::write(
        &src,
        "namespace Raft { int applier(int x) { return x + 1; } }\n\
         extern \"C\" void _start() { Raft::applier(1); for (;;) {} }\n",
    )?;
    let out = dir.path().join("tiny");
    let (src, out_s) = (src.display().to_string(), out.display().to_string());
    cmd::run(
        "g++",
        &[
            "-O1",
            "-nostdlib",
            "-static",
            "-fno-exceptions",
            "-o",
            &out_s,
            &src,
        ],
        None,
    )?;
    Ok(std::fs::read(out)?)
}
