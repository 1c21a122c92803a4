//! An interrupted test, bench or demo leaves nothing running: SIGINT and SIGTERM kill every
//! process test-support started (the launcher's nodes with it), and the interrupted process
//! still dies of the signal it got.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Alive and not a zombie (killed children of a dead parent may wait as zombies for init).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn interrupted_probe_leaves_nothing(sig: i32) {
    let mut probe = Command::new(env!("CARGO_BIN_EXE_interrupt-probe"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(probe.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).expect("probe's pid line");
    let pids: Vec<u32> = v["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u32)
        .collect();
    // launcher, 3 nodes, client, burner
    assert_eq!(pids.len(), 6, "{line}");
    assert!(pids.iter().all(|&p| p > 0 && alive(p)), "{pids:?}");
    tracer_test_support::send_signal(probe.id(), sig).unwrap();
    let status = probe.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(sig),
        "the probe dies of the signal: {status:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running after signal {sig}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_kills_every_started_process() {
    interrupted_probe_leaves_nothing(libc::SIGTERM);
}

#[test]
fn sigint_kills_every_started_process() {
    interrupted_probe_leaves_nothing(libc::SIGINT);
}
