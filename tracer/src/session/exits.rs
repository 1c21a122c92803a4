//! Noticing that traced processes exited without polling /proc: one pidfd per process
//! (`pidfd_open`), all checked with a single `poll()` per tick. A pidfd becomes readable when
//! its process exits (zombie or reaped), so a tick costs one syscall however many nodes are
//! traced, instead of reading `/proc/PID/stat` for each of them every 50 ms (that was the
//! largest part of tracer's own CPU time in a long run).

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The processes being watched.
#[derive(Default)]
pub struct ExitWatch {
    fds: HashMap<u32, OwnedFd>,
    /// Processes that were gone before they could be watched: reported by the next `exited`.
    gone: Vec<u32>,
    /// Processes without a pidfd (a kernel without `pidfd_open`): checked in /proc each tick.
    polled: Vec<u32>,
}

impl ExitWatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts watching `pid`. A process that no longer exists is reported as exited; a
    /// kernel without pidfds falls back to /proc for that process.
    pub fn watch(&mut self, pid: u32) {
        if self.fds.contains_key(&pid) || self.polled.contains(&pid) {
            return;
        }
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd >= 0 {
            // SAFETY: a fresh fd that nothing else owns.
            self.fds
                .insert(pid, unsafe { OwnedFd::from_raw_fd(fd as i32) });
        } else if std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
            self.gone.push(pid);
        } else {
            self.polled.push(pid);
        }
    }

    /// The watched processes that exited since the last call (each reported once).
    pub fn exited(&mut self) -> Vec<u32> {
        let mut out = std::mem::take(&mut self.gone);
        self.polled.retain(|&pid| {
            let alive = crate::target::procfs::is_alive(pid);
            if !alive {
                out.push(pid);
            }
            alive
        });
        if self.fds.is_empty() {
            return out;
        }
        let pids: Vec<u32> = self.fds.keys().copied().collect();
        let mut polls: Vec<libc::pollfd> = pids
            .iter()
            .map(|p| libc::pollfd {
                fd: self.fds[p].as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `polls` is a valid array of pollfd of the given length; timeout 0.
        let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, 0) };
        if n <= 0 {
            return out;
        }
        for (pid, p) in pids.iter().zip(&polls) {
            if p.revents != 0 {
                self.fds.remove(pid);
                out.push(*pid);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_exits_is_reported_once_and_a_live_one_never() {
        let mut live = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut quick = std::process::Command::new("true").spawn().unwrap();
        let mut w = ExitWatch::new();
        w.watch(live.id());
        w.watch(quick.id());
        // `true` exits at once; its pidfd is readable as soon as it is a zombie.
        let mut seen = Vec::new();
        for _ in 0..200 {
            seen.extend(w.exited());
            if !seen.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(seen, vec![quick.id()]);
        assert!(w.exited().is_empty());
        quick.wait().unwrap();
        live.kill().unwrap();
        live.wait().unwrap();
        assert_eq!(w.exited(), vec![live.id()]);
    }

    #[test]
    fn a_pid_that_does_not_exist_is_reported_as_exited() {
        let mut w = ExitWatch::new();
        // Above the default pid_max of 4194304: never a process.
        w.watch(4_194_305);
        assert_eq!(w.exited(), vec![4_194_305]);
    }
}
