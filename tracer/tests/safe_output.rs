//! Safe as root (issue 18): the session folder is created fresh, never through a symlink,
//! nothing is written outside it, and under sudo everything in it belongs to the user who ran
//! sudo. Real root, real files, real `tracer run`s (those load BPF, so never run this file
//! alongside another BPF-loading test binary: `cargo test` runs test binaries one at a time).

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every path below `dir` (not following symlinks), with `dir` itself.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        i += 1;
    }
    out
}

/// `tracer ARGS` as a sudo user with uid and gid 65534 (nobody) would run it.
fn as_sudo_user(args: &[&str]) -> Command {
    let mut cmd = Command::new(tracer_bin());
    cmd.args(args)
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!("{}", stderr_of(&out));
    assert!(out.status.success(), "{:?}: {}", cmd, stderr_of(&out));
    out
}

fn assert_owned_by(paths: &[PathBuf], uid: u32, gid: u32) {
    for p in paths {
        let m = std::fs::symlink_metadata(p).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (uid, gid),
            "{} belongs to {}:{}",
            p.display(),
            m.uid(),
            m.gid()
        );
    }
}

#[test]
fn a_symlink_at_the_output_path_is_refused_and_its_target_untouched() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("victim_dir");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("precious"), "keep me").unwrap();
    let link = tmp.path().join("out");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    // A dangling symlink (the classic /tmp attack: root would create the target) too.
    let dangling = tmp.path().join("out2");
    std::os::unix::fs::symlink(tmp.path().join("would_be_created"), &dangling).unwrap();

    for out_path in [&link, &dangling] {
        let out = tracer_run(&["-o", out_path.to_str().unwrap(), "--", "/bin/true"]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr_of(&out);
        assert!(
            err.contains("is a symbolic link") && err.contains("-o DIR"),
            "{err}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["precious"]);
    assert_eq!(
        std::fs::read_to_string(target.join("precious")).unwrap(),
        "keep me"
    );
    assert!(!tmp.path().join("would_be_created").exists());

    // `tracer report` and `tracer diff` refuse a symlinked session folder the same way.
    for args in [
        vec!["report".to_string(), link.display().to_string()],
        vec![
            "diff".to_string(),
            link.display().to_string(),
            link.display().to_string(),
        ],
    ] {
        let out = Command::new(tracer_bin()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr_of(&out).contains("symbolic link"),
            "{}",
            stderr_of(&out)
        );
    }
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1);
}

#[test]
fn an_existing_folder_with_content_is_refused_and_left_as_it_was() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old_session");
    std::fs::create_dir(&old).unwrap();
    std::fs::write(old.join("snapshot.json"), "an earlier run").unwrap();
    let out = tracer_run(&["-o", old.to_str().unwrap(), "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("already exists") && err.contains("-o DIR"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&old).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(old.join("snapshot.json")).unwrap(),
        "an earlier run"
    );
}

/// Waits until `path` exists (the tracer wrote it).
fn wait_for(path: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn symlinks_planted_during_a_continuous_run_are_not_followed() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let session = tmp.path().join("session");
    let s = session.display().to_string();
    let tracer = start_tracer(&[
        "--interval".into(),
        "1s".into(),
        "-o".into(),
        s,
        "--".into(),
        "sleep".into(),
        "4.5".into(),
    ]);
    let windows = session.join("windows");
    wait_for(&windows.join("window_0001.json"), Duration::from_secs(10));
    // At the names the next windows and the final files will take: links to files outside,
    // which root must neither write nor truncate.
    let highest = std::fs::read_dir(&windows)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_prefix("window_")?.get(..4)?.parse::<u32>().ok()
        })
        .max()
        .unwrap();
    let mut planted = Vec::new();
    for n in [highest + 1, highest + 2] {
        for ext in ["json", "pb.gz"] {
            planted.push(windows.join(format!("window_{n:04}.{ext}")));
        }
    }
    for name in [
        "snapshot.json",
        "TARGETED_PERF_ANALYSIS_REPORT.md",
        "summary.json",
    ] {
        planted.push(session.join(name));
    }
    let mut victims = Vec::new();
    for (i, at) in planted.iter().enumerate() {
        let victim = outside.join(format!("victim_{i}"));
        std::fs::write(&victim, format!("victim {i}")).unwrap();
        std::os::unix::fs::symlink(&victim, at).unwrap();
        victims.push(victim);
    }
    let out = tracer.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));

    for (i, victim) in victims.iter().enumerate() {
        assert_eq!(
            std::fs::read_to_string(victim).unwrap(),
            format!("victim {i}"),
            "{} was written through a symlink",
            victim.display()
        );
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), victims.len());
    // Each planted name now holds tracer's own file, not a link.
    for at in &planted {
        let m = std::fs::symlink_metadata(at).unwrap();
        assert!(m.is_file(), "{} is not a regular file", at.display());
    }
    let w = tracer::output::session_folder::parse_snapshot(&std::fs::read(&planted[0]).unwrap());
    assert!(w.is_ok(), "{:?}", w.err());
    assert!(load_snapshot(&session).duration_s > 0.0);
}

#[test]
fn a_symlink_planted_at_the_windows_folder_is_refused_and_the_run_goes_on() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let session = tmp.path().join("session");
    let tracer = start_tracer_with_lines(&[
        "--interval".into(),
        "1s".into(),
        "-o".into(),
        session.display().to_string(),
        "--".into(),
        "sleep".into(),
        "2.5".into(),
    ]);
    // Before the first window closes (1 s after tracing started).
    std::os::unix::fs::symlink(&outside, session.join("windows")).unwrap();
    let line = tracer.wait_for_line("window snapshot was not written");
    assert!(line.contains("symbolic link"), "{line}");
    let out = tracer.child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "a window was written through the symlink"
    );
    let snap = load_snapshot(&session);
    assert!(
        snap.notes
            .iter()
            .any(|n| n.contains("window snapshot was not written")),
        "{:?}",
        snap.notes
    );
}

#[test]
fn under_sudo_every_file_of_the_session_belongs_to_the_sudo_user() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // A parent that does not exist yet is created for the user too (like tracer_results/).
    let parent = tmp.path().join("results");
    let session = parent.join("session");
    let s = session.to_str().unwrap();
    let out = run_ok(&mut as_sudo_user(&[
        "run",
        "--interval",
        "1s",
        "-o",
        s,
        "--",
        "sleep",
        "2.5",
    ]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "session folder: {s}, owned by uid 65534 (gid 65534)"
        )),
        "the summary says where the folder is and whose: {stdout}"
    );
    let files = tree(&parent);
    assert!(
        files
            .iter()
            .any(|p| p.to_string_lossy().contains("windows/window_0001.json")),
        "{files:?}"
    );
    assert!(files.len() > 20, "{files:?}");
    assert_owned_by(&files, 65534, 65534);

    // `tracer report` re-creates what was removed, for the same user.
    std::fs::remove_dir_all(session.join("04_disk_io_dedicated")).unwrap();
    run_ok(&mut as_sudo_user(&["report", s]));
    assert_owned_by(&tree(&session), 65534, 65534);

    // `tracer diff`, beside AFTER and at -o FILE.
    run_ok(&mut as_sudo_user(&["diff", s, s]));
    let elsewhere = tmp.path().join("diff.svg");
    run_ok(&mut as_sudo_user(&[
        "diff",
        s,
        s,
        "-o",
        elsewhere.to_str().unwrap(),
    ]));
    assert_owned_by(
        &[session.join("diff_flamegraph.svg"), elsewhere],
        65534,
        65534,
    );

    // Without sudo, files are the caller's (root here), as created.
    std::fs::remove_file(session.join("summary.json")).unwrap();
    let mut cmd = Command::new(tracer_bin());
    cmd.args(["report", s])
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID");
    run_ok(&mut cmd);
    assert_owned_by(&[session.join("summary.json")], 0, 0);
}
