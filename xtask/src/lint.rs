//! `cargo xtask lint`: what CI checks before any test runs: rustfmt, clippy on the host crates
//! and on the eBPF crate for its BPF target, and that the repository holds no large stray file
//! (a 4.8 MB folded profile named `0` once sat at its root).

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

use crate::cmd;

/// Largest tracked file allowed outside `fixture/` (1 MB): sources, docs and small test data
/// fit well within; profiles, logs and binaries do not belong in the repository.
const MAX_FILE_BYTES: u64 = 1_000_000;

/// Where larger files may live: the C++ fixture's test data.
const LARGE_FILES_ALLOWED_UNDER: &str = "fixture/";

pub fn run() -> Result<()> {
    let root = cmd::workspace_root();
    cmd::run("cargo", &["fmt", "--all", "--", "--check"], Some(root))?;
    cmd::run(
        "cargo",
        &[
            "clippy",
            "--quiet",
            "--workspace",
            "--exclude",
            "tracer-ebpf",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        Some(root),
    )?;
    cmd::run(
        "cargo",
        &[
            "+nightly",
            "clippy",
            "--quiet",
            "-Z",
            "build-std=core",
            "--target",
            "bpfel-unknown-none",
            "--release",
            "--",
            "-D",
            "warnings",
        ],
        Some(&root.join("tracer-ebpf")),
    )?;
    large_files(root)?;
    println!("lint: rustfmt and clippy clean, no tracked file over 1 MB outside fixture/");
    Ok(())
}

/// Fails when a file tracked by git (as listed by `git ls-files`) is over [`MAX_FILE_BYTES`]
/// outside `fixture/`, naming each one.
fn large_files(root: &Path) -> Result<()> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .context("cannot run `git ls-files` (the size check needs a git checkout)")?;
    if !out.status.success() {
        bail!(
            "`git ls-files` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let files: Vec<String> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let big = oversized(root, &files);
    if !big.is_empty() {
        let list: Vec<String> = big
            .iter()
            .map(|(f, n)| format!("  {f} ({:.1} MB)", *n as f64 / 1e6))
            .collect();
        bail!(
            "tracked files over 1 MB outside {LARGE_FILES_ALLOWED_UNDER} (scratch output? `git rm` \
             them, or move test data under {LARGE_FILES_ALLOWED_UNDER}):\n{}",
            list.join("\n")
        );
    }
    Ok(())
}

/// The files of `files` (relative to `root`) over [`MAX_FILE_BYTES`] and outside `fixture/`,
/// with their sizes. A tracked file deleted in the working tree is not there to be too big.
fn oversized(root: &Path, files: &[String]) -> Vec<(String, u64)> {
    files
        .iter()
        .filter(|f| !f.starts_with(LARGE_FILES_ALLOWED_UNDER))
        .filter_map(|f| {
            let len = std::fs::metadata(root.join(f)).ok()?.len();
            (len > MAX_FILE_BYTES).then(|| (f.clone(), len))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_large_files_outside_fixture_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, len: u64| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::File::create(&path).unwrap().set_len(len).unwrap();
        };
        put("0", MAX_FILE_BYTES + 1);
        put("docs/small.md", MAX_FILE_BYTES);
        put("fixture/data/big.bin", 5 * MAX_FILE_BYTES);
        let files: Vec<String> = ["0", "docs/small.md", "fixture/data/big.bin", "deleted.rs"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            oversized(dir.path(), &files),
            [("0".to_string(), MAX_FILE_BYTES + 1)]
        );
    }
}
