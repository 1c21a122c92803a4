//! index.html in headless Chromium (Debian's `chromium`, installed by `cargo xtask setup`):
//! loaded from file:// with no network, no console errors, and every flamegraph of the session
//! is embedded and loaded (its `<object>` reports `data-state="loaded"` with frames inside).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::canned::{stats, Canned};
use tracer::model::Snapshot;
use tracer::output::owner::Owner;
use tracer::output::session_dir::SessionDir;
use tracer::output::session_folder;

fn chromium() -> PathBuf {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return c.into();
        }
    }
    panic!("chromium is not installed: run `cargo xtask setup` (apt package `chromium`)");
}

fn session() -> Snapshot {
    let mut c = Canned::new(10.0);
    for pid in [201, 202] {
        c = c
            .node(pid)
            .samples(
                pid,
                "rpc-io",
                &[
                    "start_thread",
                    "RpcProvider::OnMessage()",
                    "Raft::AppendEntries1()",
                ],
                60,
            )
            .samples(
                pid,
                "sched",
                &[
                    "Scheduler::run()",
                    "Raft::leaderHearBeatTicker()",
                    "Raft::doHeartBeat()",
                ],
                30,
            )
            .samples(
                pid,
                "persist",
                &["Persister::saveRaftState(std::string const&)", "write_[k]"],
                20,
            )
            .samples(pid, "rpc-io", &["MprpcChannel::CallMethod()", "send"], 10)
            .file_io(
                pid,
                "/d/raftstatePersist.txt",
                "write",
                stats(100, 2_000, 1000),
            );
    }
    c.roles(201, &[("leader", 0.0, 10.0)], Some(20.0))
        .roles(202, &[("follower", 0.0, 10.0)], None)
        .build()
}

/// Runs headless Chromium on `url` with `extra` args; returns (stdout, stderr).
fn run_chromium(url: &str, profile: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--allow-file-access-from-files",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn index_html_loads_without_errors_and_shows_every_flamegraph() {
    let dir = tempfile::tempdir().unwrap();
    let s = session();
    let folder = SessionDir::open(dir.path(), Owner::invoking()).unwrap();
    session_folder::save_snapshot(&s, &folder).unwrap();
    session_folder::render(&s, &folder).unwrap();
    let svgs = tracer::output::html::flamegraphs(dir.path());
    assert!(svgs.len() >= 6, "{svgs:?}");
    let url = format!("file://{}/index.html", dir.path().display());
    let profile = tempfile::tempdir().unwrap();

    let (dom, stderr) = run_chromium(&url, profile.path(), &["--dump-dom"]);
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    for svg in &svgs {
        let tag = dom
            .split("<object")
            .skip(1)
            .find(|o| o.contains(&format!("data=\"{svg}\"")))
            .unwrap_or_else(|| panic!("{svg} not embedded; DOM:\n{dom}"));
        assert!(
            tag.contains("data-state=\"loaded\""),
            "{svg} not loaded: {tag}"
        );
        let frames: usize = tag
            .split("data-frames=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{svg}: no frame count: {tag}"));
        assert!(frames > 3, "{svg}: only {frames} groups drawn");
    }
    assert!(dom.contains(&format!(
        "{} of {} flamegraphs loaded",
        svgs.len(),
        svgs.len()
    )));

    // A screenshot for people to look at (kept when TRACER_SCREENSHOT names a file).
    if let Ok(target) = std::env::var("TRACER_SCREENSHOT") {
        let shot = format!("--screenshot={target}");
        run_chromium(&url, profile.path(), &[&shot, "--window-size=1400,2400"]);
        assert!(Path::new(&target).exists());
    }
}
