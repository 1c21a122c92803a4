//! The few facts about processes read from /proc: name, command line, liveness, open fds.

use std::path::{Path, PathBuf};

/// `comm` of `pid` (the kernel's 15-character thread name), if the process exists.
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Command line of `pid`, split at NULs.
pub fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// True while `pid` exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised comm.
        Ok(stat) => match stat_fields(&stat) {
            Some(f) => !matches!(f.first().and_then(|s| s.chars().next()), Some('Z' | 'X')),
            None => true,
        },
        Err(_) => false,
    }
}

/// The fields of a /proc/PID/stat line after the parenthesised comm, state first (so
/// utime is `[11]`, stime `[12]`). A comm may hold any character, `)` and spaces included
/// (a process names itself), so the last `)` ends it. `None` without one.
pub fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    Some(rest.split_whitespace().collect())
}

/// Pids of every process whose comm equals `name` (or whose exe basename does: comm is
/// truncated to 15 characters, and a program may rename its main thread).
pub fn pids_by_comm(name: &str) -> Vec<u32> {
    CommScan::default().scan(name)
}

/// Repeated searches for processes named `name` (`--comm` watching for restarted nodes every
/// 500 ms): a process is checked by its comm alone (one small read) once it has been seen,
/// and by its executable's name only when it is new or its comm is the 15-character
/// truncation of `name`. An exec changes comm to the new program's name, so a process that
/// execs into the target later is still found.
#[derive(Default)]
pub struct CommScan {
    seen: std::collections::HashSet<u32>,
}

impl CommScan {
    pub fn scan(&mut self, name: &str) -> Vec<u32> {
        let mut pids = Vec::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return pids;
        };
        let me = std::process::id();
        let truncated: String = name.chars().take(15).collect();
        let mut now_seen = std::collections::HashSet::new();
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == me {
                continue;
            }
            now_seen.insert(pid);
            let Some(c) = comm(pid) else {
                continue;
            };
            let matches = c == name
                || ((c == truncated || !self.seen.contains(&pid)) && exe_name_is(pid, name));
            if matches && is_alive(pid) {
                pids.push(pid);
            }
        }
        self.seen = now_seen;
        pids.sort_unstable();
        pids
    }
}

fn exe_name_is(pid: u32, name: &str) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy() == name))
        .unwrap_or(false)
}

/// What one open fd of a process is, read from /proc/PID/fd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenFd {
    File(PathBuf),
    Socket,
    Other,
}

/// Open fds of `pid`, classified like the kernel side classifies fds it sees created.
pub fn open_fds(pid: u32) -> Vec<(u32, OpenFd)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let text = target.to_string_lossy();
        let kind = if text.starts_with("socket:") {
            OpenFd::Socket
        } else if text.starts_with('/') && !tracer_common::is_pseudo_path(text.as_bytes()) {
            OpenFd::File(target)
        } else {
            // Pipes, anon inodes, and device nodes (ttys, /dev/null): not the files whose I/O
            // we analyse.
            OpenFd::Other
        };
        out.push((fd, kind));
    }
    out
}

/// Resolves a path a process passed to open(2) against its cwd when it is relative.
pub fn absolute_for(pid: u32, path: &str) -> String {
    if Path::new(path).is_absolute() {
        return path.to_string();
    }
    match std::fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => cwd.join(path).to_string_lossy().into_owned(),
        Err(_) => path.to_string(),
    }
}

/// Resident set size of `pid` in bytes (`/proc/PID/statm`, second field, in pages). None for a
/// process that has exited but is not reaped yet (a zombie's statm reads all zeros): its
/// memory is gone, not 0 — a crashed node's "RSS 4.7 -> 0.0 MiB" once read as growth.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    if pages == 0 {
        return None;
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(4096) as u64)
}

/// How much more memory `pid` can take before trouble, and where that figure comes from: the
/// machine's `MemAvailable`, or its cgroup's `memory.max` less `memory.current` when that is
/// lower (cgroup v2).
pub fn memory_headroom(pid: u32) -> Option<(u64, String)> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo.lines().find_map(|l| {
        let kb = l.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?;
        kb.trim().parse::<u64>().ok().map(|kb| kb * 1024)
    })?;
    let mut best = (available, "MemAvailable".to_string());
    if let Some((room, cg)) = cgroup_headroom(pid) {
        if room < best.0 {
            best = (room, format!("memory.max of cgroup {cg}"));
        }
    }
    Some(best)
}

/// `memory.max - memory.current` of `pid`'s cgroup (v2), when it has a limit.
fn cgroup_headroom(pid: u32) -> Option<(u64, String)> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = format!("/sys/fs/cgroup{path}");
    let max: u64 = std::fs::read_to_string(format!("{dir}/memory.max"))
        .ok()?
        .trim()
        .parse()
        .ok()?; // "max": no limit
    let current: u64 = std::fs::read_to_string(format!("{dir}/memory.current"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some((max.saturating_sub(current), path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_any_comm_and_truncation() {
        let line = "42 (a) b) (c) S 1 42 42 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0";
        let f = stat_fields(line).unwrap();
        assert_eq!((f[0], f[11], f[12]), ("S", "7", "3"));
        assert_eq!(stat_fields("42 (sleep)"), Some(vec![]));
        assert_eq!(stat_fields("42 (sleep"), None);
        assert_eq!(stat_fields(""), None);
        assert_eq!(stat_fields(")"), Some(vec![]));
    }

    /// A copy of `sleep` with a name longer than comm's 15 characters, unique to this test.
    fn long_named_sleep(dir: &Path) -> (PathBuf, String) {
        let name = format!("scan-test-{}-sleeper", std::process::id());
        let path = dir.join(&name);
        std::fs::copy("/bin/sleep", &path).unwrap();
        (path, name)
    }

    #[test]
    fn comm_scan_finds_long_names_and_processes_that_exec_into_the_target_later() {
        let dir = tempfile::tempdir().unwrap();
        let (path, name) = long_named_sleep(dir.path());
        let mut direct = std::process::Command::new(&path).arg("30").spawn().unwrap();
        // A shell that is not the target when first scanned, then execs into it.
        let mut later = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("sleep 0.5; exec '{}' 30", path.display()))
            .spawn()
            .unwrap();
        let mut scan = CommScan::default();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(scan.scan(&name), vec![direct.id()]);
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let mut both = vec![direct.id(), later.id()];
        both.sort_unstable();
        assert_eq!(scan.scan(&name), both);
        // The one-shot form agrees.
        assert_eq!(pids_by_comm(&name), both);
        for c in [&mut direct, &mut later] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        assert!(scan.scan(&name).is_empty());
    }

    #[test]
    fn sees_itself() {
        let me = std::process::id();
        assert!(is_alive(me));
        assert!(!cmdline(me).is_empty());
        assert!(comm(me).is_some());
        assert!(!is_alive(u32::MAX - 1));
    }

    #[test]
    fn classifies_own_fds() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fds = open_fds(std::process::id());
        use std::os::fd::AsRawFd;
        let find = |fd: i32| {
            fds.iter()
                .find(|(f, _)| *f == fd as u32)
                .map(|(_, k)| k.clone())
        };
        assert_eq!(
            find(file.as_file().as_raw_fd()),
            Some(OpenFd::File(file.path().canonicalize().unwrap()))
        );
        assert_eq!(find(sock.as_raw_fd()), Some(OpenFd::Socket));
    }
}
