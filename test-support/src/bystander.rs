//! Processes that are not nodes, for discovery tests (`sudo tracer run` with no target must
//! trace the cluster's nodes and nothing else): a CPU burner, an idle shell, and a process of
//! the node's own executable that never runs Raft code (a launcher-like parent that forks
//! nothing and waits). Each is SIGKILLed by pid on Drop, tracked by [`crate::reaper`] for an
//! interrupted test, and dies by itself if the thread that started it dies
//! (PR_SET_PDEATHSIG; the shell: EOF on its stdin), so none can outlive its test.

use anyhow::{Context, Result};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::fixture::{fixture_bins, Variant};
use crate::proc_util::{kill_and_reap, spawn_tracked};

pub struct Bystander {
    child: Child,
    exe: PathBuf,
    kind: &'static str,
    /// Keeps the paused node's config and data dir alive.
    _dir: Option<tempfile::TempDir>,
}

impl Bystander {
    /// `syscall-workload --burn-threads 1 --burn-ms 600000`: one thread ("burn") on CPU all
    /// the time, no Raft code, a different executable.
    pub fn cpu_burner(variant: Variant) -> Result<Bystander> {
        let exe = fixture_bins(variant)?.workload;
        let mut cmd = Command::new(&exe);
        cmd.args(["--burn-threads", "1", "--burn-ms", "600000"]);
        Self::spawn(cmd, exe, "cpu burner", None)
    }

    /// `sh -c 'read line'` with a pipe on stdin: a shell that waits and has no children (it
    /// exits on EOF, when this process and its pipe end go away).
    pub fn shell() -> Result<Bystander> {
        let exe = PathBuf::from("/bin/sh");
        let mut cmd = Command::new(&exe);
        cmd.args(["-c", "read line"]).stdin(Stdio::piped());
        Self::spawn(cmd, exe, "shell", None)
    }

    /// The fixture's node executable started with `--start-paused` on a one-node config: it
    /// writes its pid file and waits for a SIGUSR1 that never comes, so it maps the same
    /// executable as the cluster's nodes (same device and inode) but never runs Raft code.
    pub fn idle_node_executable(variant: Variant) -> Result<Bystander> {
        let exe = fixture_bins(variant)?.node;
        let dir = tempfile::Builder::new().prefix("raftkv-idle-").tempdir()?;
        let port = crate::ports::free_ports(1)?[0];
        let conf = dir.path().join("cluster.conf");
        std::fs::write(&conf, format!("node 0 127.0.0.1 {port}\n"))?;
        let mut cmd = Command::new(&exe);
        cmd.args(["--id", "0", "--start-paused", "--config"])
            .arg(&conf)
            .arg("--data-dir")
            .arg(dir.path().join("node0"));
        Self::spawn(cmd, exe, "idle node executable", Some(dir))
    }

    fn spawn(
        mut cmd: Command,
        exe: PathBuf,
        kind: &'static str,
        dir: Option<tempfile::TempDir>,
    ) -> Result<Bystander> {
        if !matches!(kind, "shell") {
            cmd.stdin(Stdio::null());
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: prctl(2) is async-signal-safe; the closure touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = spawn_tracked(&mut cmd).with_context(|| format!("starting {kind}"))?;
        Ok(Bystander {
            child,
            exe,
            kind,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The executable it runs.
    pub fn exe(&self) -> &std::path::Path {
        &self.exe
    }

    /// "cpu burner", "shell" or "idle node executable".
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// True while it has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}
