//! Processes a test starts and must not leave behind: killed and reaped by pid when dropped,
//! and by test-support's reaper when the test is interrupted (SIGINT/SIGTERM).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use tracer_test_support::reaper;

/// A child killed and reaped by pid when dropped (and by the reaper on SIGINT/SIGTERM).
pub struct Owned(pub Child);

impl Owned {
    pub fn new(c: Child) -> Owned {
        reaper::track(c.id());
        Owned(c)
    }

    /// SIGTERM, then wait; tracer writes its session on SIGTERM.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own, not yet reaped, child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        // Untracked before it is reaped (its pid may be reused after); it ends on its own now.
        reaper::untrack(self.0.id());
        self.0.wait().unwrap()
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        reaper::untrack(self.0.id());
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `tracer run ARGS -o OUT` as host `host` (`--host-label`); returns once it traces, with its
/// stderr lines up to then (the rest is forwarded to the test's output, tagged `[host]`).
pub fn start_host_tracer(host: &str, args: &[String], out: &Path) -> (Owned, Vec<String>) {
    let mut child = Command::new(super::tracer_bin())
        .arg("run")
        .args(args)
        .args(["--host-label", host, "-o"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = Owned::new(child);
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    loop {
        let l = lines
            .next()
            .unwrap_or_else(|| panic!("{host}: tracer ended before tracing"))
            .unwrap();
        eprintln!("[{host}] {l}");
        let tracing = l.contains("tracer: tracing");
        seen.push(l);
        if tracing {
            break;
        }
    }
    let tag = host.to_string();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[{tag}] {l}");
        }
    });
    (child, seen)
}
