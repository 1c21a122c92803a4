//! `cargo xtask demo`: the main job on the bundled demo cluster. Starts a 3-node fixture
//! cluster, drives client load, traces every node with `tracer run`, prints where the
//! session folder is.

use anyhow::{bail, Context, Result};
use std::process::Command;
use std::time::Duration;
use tracer_test_support::{ClientMode, ClientOpts, Cluster, ClusterOpts, Fsync};

use crate::cmd::{self, workspace_root};

/// Builds the release `tracer` binary and returns its path.
pub fn build_tracer() -> Result<std::path::PathBuf> {
    cmd::run(
        "cargo",
        &["build", "--release", "--quiet", "-p", "tracer"],
        Some(workspace_root()),
    )?;
    Ok(workspace_root().join("target/release/tracer"))
}

pub fn run(duration: &str) -> Result<()> {
    let secs: f64 = duration
        .trim_end_matches('s')
        .parse()
        .context("--duration takes seconds, e.g. 15s")?;
    let tracer = build_tracer()?;
    println!("demo: starting a 3-node raftkv fixture cluster");
    let cluster = Cluster::start(ClusterOpts {
        nodes: 3,
        fsync: Fsync::Batch,
        ..ClusterOpts::default()
    })?;
    let leader = cluster.wait_for_leader(Duration::from_secs(15))?;
    let pids = cluster.pids();
    println!("demo: node pids {pids:?}, leader is node {leader}");

    let mut args: Vec<String> = vec!["run".into(), "--duration".into(), format!("{secs}s")];
    for p in &pids {
        args.push("--pid".into());
        args.push(p.to_string());
    }
    let (client, status) = std::thread::scope(|s| {
        let load = s.spawn(|| {
            cluster.run_client(&ClientOpts {
                threads: 4,
                ops_per_thread: None,
                duration: Some(Duration::from_secs_f64(secs + 2.0)),
                mode: ClientMode::Mixed,
                value_bytes: 256,
                rate_per_thread: None,
            })
        });
        // Let the client connect before tracing starts.
        std::thread::sleep(Duration::from_millis(500));
        println!(
            "demo: tracing for {secs} s: {} {}",
            tracer.display(),
            args.join(" ")
        );
        // Tracked like the cluster's processes: a SIGTERM to the demo stops tracer too.
        let status = Command::new(&tracer)
            .args(&args)
            .current_dir(workspace_root())
            .spawn()
            .and_then(|mut child| {
                tracer_test_support::reaper::track(child.id());
                wait_unreaped(child.id());
                // Untracked before it is reaped: its pid can be reused only after.
                tracer_test_support::reaper::untrack(child.id());
                child.wait()
            });
        (load.join().expect("client thread"), status)
    });
    let status = status.context("cannot start tracer")?;
    match client {
        Ok(r) => println!(
            "demo: client did {} ops ({:.0} ops/s, p50 {} us, p99 {} us)",
            r.ops, r.ops_per_sec, r.p50_us, r.p99_us
        ),
        Err(e) => println!("demo: client failed: {e:#}"),
    }
    cluster.stop()?;
    if !status.success() {
        bail!("tracer failed: {status}");
    }
    println!(
        "demo: the session folder is the `report:` path above, under {}",
        workspace_root().join("tracer_results").display()
    );
    Ok(())
}

/// Blocks until child `pid` has exited, leaving it unreaped (`waitid` with `WNOWAIT`).
fn wait_unreaped(pid: u32) {
    // SAFETY: waitid(2) on our own child with a zeroed siginfo we own.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        while libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        ) != 0
            && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {}
    }
}
