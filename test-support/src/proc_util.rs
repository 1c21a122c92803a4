//! Small process helpers: signals by pid, children and thread names from /proc.

use anyhow::{bail, Result};
use std::fs;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `cmd.spawn()`, retried for up to 2 s while exec fails with ETXTBSY. Tests run on parallel
/// threads of one process: when one thread has just copied an executable (its write fd still
/// open) and another thread forks, the fork's child holds that write fd until it execs, and
/// exec of the copy fails with "Text file busy" for that moment. Go's os/exec retries the same
/// way.
pub fn spawn_retrying(cmd: &mut Command) -> std::io::Result<Child> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            r => return r,
        }
    }
}

/// [`spawn_retrying`], the child tracked by [`crate::reaper`] (SIGKILLed if this process is
/// interrupted). Whoever reaps it must untrack it first: `kill_and_reap` and `wait_timeout`
/// do.
pub(crate) fn spawn_tracked(cmd: &mut Command) -> std::io::Result<Child> {
    let c = spawn_retrying(cmd)?;
    crate::reaper::track(c.id());
    Ok(c)
}

/// Sends `sig` to one process by pid.
pub fn send_signal(pid: u32, sig: i32) -> Result<()> {
    // SAFETY: kill(2) with a pid we were given; no memory is involved.
    if unsafe { libc::kill(pid as libc::pid_t, sig) } != 0 {
        bail!("kill({pid}, {sig}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// CPU seconds (user + system) `pid` has used, all its threads, living and exited, from
/// /proc/PID/stat (0 when it is gone). A BPF program runs in the context of the thread whose
/// syscall, context switch or probed call triggered it, so its time is in here too.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised comm: utime and stime are the 12th and 13th.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / hz
}

/// Direct children of `pid` (all its threads), from /proc/<pid>/task/*/children.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Names (comm) of the threads of `pid`, e.g. "sched", "rpc-io", "hb-send".
pub fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("comm")).ok())
        .map(|s| s.trim_end().to_string())
        .collect()
}

/// Waits for `child` up to `timeout`; None if it is still running.
pub(crate) fn wait_timeout(
    child: &mut Child,
    timeout: Duration,
) -> Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            crate::reaper::untrack(child.id());
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILLs and reaps `child`, ignoring errors (it may already be gone).
pub(crate) fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    crate::reaper::untrack(child.id());
    let _ = child.wait();
}

/// True while `pid` is being ptrace'd (e.g. strace has attached).
pub(crate) fn is_traced(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("TracerPid:").map(|v| v.trim() != "0"))
        })
        .unwrap_or(false)
}
