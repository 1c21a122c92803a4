//! Installing prerequisites, idempotently: each step checks first and says what it did.
//! A fresh machine (or CI's clean clone) gets everything from this file alone.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

use crate::cmd::{self, workspace_root};

/// Debian packages: LLVM 22 for bpf-linker, and the tools the tests and benchmarks compare
/// against (strace, bpftrace, perf, iostat) or build with (g++), and the consumers the tests
/// load tracer's outputs in (chromium for index.html, Go's `go tool pprof` for profile.pb.gz,
/// Prometheus's `promtool check metrics` for the metrics text),
/// and gRPC + protobuf for the fixture's gRPC variant (built only when a test asks for it).
const APT_PACKAGES: &[&str] = &[
    "llvm-22-dev",
    "libpolly-22-dev",
    "strace",
    "bpftrace",
    "linux-perf",
    "sysstat",
    "g++",
    "chromium",
    "golang-go",
    "prometheus",
    "libgrpc++-dev",
    "protobuf-compiler-grpc",
    "libprotobuf-dev",
    "protobuf-compiler",
    "pkg-config",
];

pub fn run() -> Result<()> {
    apt_packages()?;
    rust_src()?;
    bpf_linker()?;
    Ok(())
}

fn apt_packages() -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        println!("setup: apt packages present ({})", APT_PACKAGES.join(", "));
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "setup: missing packages {}: run `sudo cargo xtask setup` or `sudo apt-get install -y {}`",
            missing.join(" "),
            missing.join(" ")
        );
    }
    println!("setup: installing {}", missing.join(" "));
    cmd::run("apt-get", &["update", "-qq"], None)?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    let status = Command::new("apt-get")
        .args(&args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!("setup: apt-get install {} failed", missing.join(" "));
    }
    Ok(())
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn rust_src() -> Result<()> {
    let sysroot = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "sysroot"])
        .output();
    let has_nightly = matches!(&sysroot, Ok(o) if o.status.success());
    if !has_nightly {
        println!("setup: installing the nightly toolchain");
        cmd::run(
            "rustup",
            &["toolchain", "install", "nightly", "--profile", "minimal"],
            None,
        )?;
    }
    let sysroot = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "sysroot"])
        .output()?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib/src/rust/library/core").is_dir() {
        println!("setup: nightly rust-src present");
        return Ok(());
    }
    println!("setup: adding rust-src to nightly");
    cmd::run(
        "rustup",
        &["component", "add", "rust-src", "--toolchain", "nightly"],
        None,
    )
}

fn bpf_linker() -> Result<()> {
    if cmd::succeeds("bpf-linker", &["--version"]) {
        println!("setup: bpf-linker present");
        return Ok(());
    }
    let bindir = Command::new("llvm-config-22").arg("--bindir").output();
    let bindir = match bindir {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => bail!("setup: llvm-config-22 not found; install llvm-22-dev first"),
    };
    println!("setup: building bpf-linker against LLVM 22 (about a minute)");
    let path = format!("{bindir}:{}", std::env::var("PATH").unwrap_or_default());
    let status = Command::new("cargo")
        .args([
            "install",
            "bpf-linker",
            "--no-default-features",
            "--features",
            "llvm-22",
        ])
        .env("PATH", path)
        .status()
        .context("cannot run cargo install")?;
    if !status.success() {
        bail!("setup: cargo install bpf-linker failed");
    }
    Ok(())
}

/// Builds the eBPF object by itself and returns its path.
pub fn build_ebpf() -> Result<PathBuf> {
    let dir = workspace_root().join("tracer-ebpf");
    cmd::run(
        "cargo",
        &[
            "+nightly",
            "build",
            "-Z",
            "build-std=core",
            "--target",
            "bpfel-unknown-none",
            "--release",
        ],
        Some(&dir),
    )?;
    Ok(workspace_root().join("target/bpfel-unknown-none/release/tracer"))
}
