//! What to trace, and what user space reads about it from /proc and the file system.
//!
//! In: the user's `--pid` / `--comm` / `-- CMD` ([`TargetSpec`]). Out: the pids to trace and
//! their executables and libraries ([`objects`], what gets probed), or a [`HeldChild`] that waits until
//! the programs are attached; process names, command lines and open fds ([`procfs`]); disk
//! counters, process I/O and data-dir sizes over the run ([`diskstats`], [`disk_watch`]); and
//! the checks that fail a doomed run before anything is attached ([`preflight`]). Never: loads
//! BPF or reads a kernel map (that is `kernel/`).

pub mod discover;
pub mod disk_watch;
pub mod diskstats;
pub mod preflight;
pub mod procfs;

use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::symbols::objects::{self, TargetObjects};

/// How the user said what to trace.
#[derive(Clone, Debug)]
pub enum TargetSpec {
    /// `--pid P [--pid P2 ...]`
    Pids(Vec<u32>),
    /// `--comm NAME`
    Comm(String),
    /// `-- CMD ARGS...`: start it and trace it and its children from exec to exit.
    Command(Vec<String>),
    /// Nothing named: the processes of the executables discovery picked ([`discover`]);
    /// the run confirms which are nodes and follows new processes of those executables.
    Discover(discover::Discovery),
}

/// Resolves `--pid`/`--comm` to live processes, with errors that say what to check.
pub fn resolve_existing(spec: &TargetSpec) -> Result<Vec<u32>> {
    match spec {
        TargetSpec::Pids(pids) => {
            for &pid in pids {
                if !procfs::is_alive(pid) {
                    bail!(
                        "no such process: pid {pid} does not exist (or has exited). \
                         Check the pid with `ps -p {pid}`"
                    );
                }
            }
            Ok(pids.clone())
        }
        TargetSpec::Comm(name) => {
            let pids = procfs::pids_by_comm(name);
            if pids.is_empty() {
                bail!(
                    "no running process is named {name:?} (matched against /proc/PID/comm and \
                     the executable's file name). Check with `pgrep -l {name}`"
                );
            }
            Ok(pids)
        }
        TargetSpec::Command(_) => Ok(Vec::new()),
        TargetSpec::Discover(found) => {
            let pids: Vec<u32> = found
                .pids()
                .into_iter()
                .filter(|&p| procfs::is_alive(p))
                .collect();
            if pids.is_empty() {
                bail!(
                    "every process discovery found has exited since: {}",
                    found.summary()
                );
            }
            Ok(pids)
        }
    }
}

/// The objects whose functions get probed: the executables and shared libraries the named
/// processes map (one entry per executable file however many processes run it, each object
/// once), or the command's executable and the libraries the loader would load for it.
pub fn objects(spec: &TargetSpec) -> Result<Vec<TargetObjects>> {
    let pids = match spec {
        TargetSpec::Command(argv) => {
            return argv
                .first()
                .and_then(|a| command_executable(a))
                .map(|exe| objects::target_of_executable(&exe))
                .transpose()
                .map(|t| t.into_iter().collect());
        }
        other => resolve_existing(other)?,
    };
    Ok(objects::targets_of_pids(&pids))
}

/// The executable of a command given after `--`: `argv[0]` as a path, or looked up in PATH.
pub fn command_executable(argv0: &str) -> Option<PathBuf> {
    let p = Path::new(argv0);
    if argv0.contains('/') {
        return p.canonicalize().ok();
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(argv0))
            .find(|c| c.is_file())
    })
}

/// A child forked by tracer and held just before `execve` until tracing is in place, so that
/// not one syscall of the command is missed (the `strace CMD` model).
pub struct HeldChild {
    pub pid: u32,
    release_fd: libc::c_int,
    /// Set once `waitpid` has reaped it.
    pub exit_status: Option<i32>,
}

impl HeldChild {
    /// Forks; the child blocks reading a pipe, then execs `argv` (looked up in PATH).
    pub fn spawn(argv: &[String]) -> Result<HeldChild> {
        if argv.is_empty() {
            bail!("no command given after `--`");
        }
        // Everything the child needs is prepared before fork: after fork only
        // async-signal-safe calls are allowed.
        let c_args: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_str()).context("command argument contains a NUL byte"))
            .collect::<Result<_>>()?;
        let mut c_ptrs: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
        c_ptrs.push(std::ptr::null());
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds has room for two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error()).context("pipe2");
        }
        // SAFETY: the child only calls read, execvp, write and _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error()).context("fork");
        }
        if pid == 0 {
            unsafe {
                // A process group of its own, as timeout(1) gives its command: at the end of
                // the run the command and everything it forked are stopped together.
                libc::setpgid(0, 0);
                libc::close(fds[1]);
                let mut byte = 0u8;
                let n = libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                if n != 1 {
                    // tracer gave up before releasing us.
                    libc::_exit(126);
                }
                libc::execvp(c_ptrs[0], c_ptrs.as_ptr());
                let msg = b"tracer: cannot execute the command\n";
                libc::write(2, msg.as_ptr().cast(), msg.len());
                libc::_exit(127);
            }
        }
        // SAFETY: closing our copy of the read end.
        unsafe { libc::close(fds[0]) };
        let child = HeldChild {
            pid: pid as u32,
            release_fd: fds[1],
            exit_status: None,
        };
        child.wait_until_parked(fds[0])?;
        Ok(child)
    }

    /// Waits until the child is blocked in `read` on the release pipe. Only then may it be
    /// traced: the syscalls of fork's child side (set_robust_list, close, read) belong to
    /// tracer, not to the command, and `strace CMD` does not count them either.
    fn wait_until_parked(&self, pipe_fd: libc::c_int) -> Result<()> {
        // /proc/PID/syscall: "<nr> <arg0> ..." while blocked in a syscall.
        let expected = format!("0 {:#x} ", pipe_fd);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let now =
                std::fs::read_to_string(format!("/proc/{}/syscall", self.pid)).unwrap_or_default();
            if now.starts_with(&expected) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!("the command's process {} never got ready to exec", self.pid);
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// Lets the child exec.
    pub fn release(&mut self) -> Result<()> {
        if self.release_fd < 0 {
            return Ok(());
        }
        let byte = 1u8;
        // SAFETY: writing one byte from a valid buffer to our pipe end.
        let n = unsafe { libc::write(self.release_fd, (&byte as *const u8).cast(), 1) };
        unsafe { libc::close(self.release_fd) };
        self.release_fd = -1;
        if n != 1 {
            return Err(std::io::Error::last_os_error()).context("releasing the traced command");
        }
        Ok(())
    }

    /// Reaps the child if it has exited; returns true once it has.
    pub fn try_reap(&mut self) -> bool {
        if self.exit_status.is_some() {
            return true;
        }
        let mut status = 0;
        // SAFETY: plain waitpid on our own child.
        let r = unsafe { libc::waitpid(self.pid as i32, &mut status, libc::WNOHANG) };
        if r == self.pid as i32 {
            self.exit_status = Some(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            });
            true
        } else {
            r < 0
        }
    }
}

/// How long a command stopped at the end of a run gets to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

impl HeldChild {
    /// Stops the command the way `timeout(1)` does when its time is up: SIGTERM to the
    /// command's process group (the command and what it forked), then SIGKILL to the group if
    /// the command has not exited after `grace`. Returns the signal that ended the wait
    /// (`None` when the command had already exited) and leaves its status in `exit_status`.
    pub fn stop(&mut self, grace: std::time::Duration) -> Option<&'static str> {
        if self.try_reap() {
            return None;
        }
        let group = -(self.pid as i32);
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline {
            if self.try_reap() {
                return Some("SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let mut status = 0;
        // SAFETY: plain blocking waitpid on our own child, which SIGKILL ends.
        if unsafe { libc::waitpid(self.pid as i32, &mut status, 0) } == self.pid as i32 {
            self.exit_status = Some(128 + libc::WTERMSIG(status));
        }
        Some("SIGKILL")
    }
}

impl Drop for HeldChild {
    fn drop(&mut self) {
        if self.release_fd >= 0 {
            // Never released: closing the pipe makes the child exit without running the command.
            unsafe { libc::close(self.release_fd) };
            self.release_fd = -1;
            let mut status = 0;
            unsafe { libc::waitpid(self.pid as i32, &mut status, 0) };
        }
    }
}
