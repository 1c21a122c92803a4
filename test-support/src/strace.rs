//! strace as a reference: attach to a node, count syscalls per file, and
//! parse `strace -c` tables. Used to prove the fixture's own counts exact.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::proc_util;

/// An `strace -f -y -p PID` session writing to a file.
pub struct StraceSession {
    child: Option<Child>,
    output: PathBuf,
}

impl StraceSession {
    /// Attaches to `pid` tracing `syscalls`, and returns once the ptrace
    /// attach is in effect (TracerPid set) so no later syscall is missed.
    pub fn attach(pid: u32, syscalls: &[&str], output: &Path) -> Result<StraceSession> {
        let child = proc_util::spawn_tracked(
            Command::new("strace")
                .args(["-f", "-y", "-qq", "-o"])
                .arg(output)
                .args(["-e", &format!("trace={}", syscalls.join(","))])
                .args(["-p", &pid.to_string()])
                .stdin(Stdio::null()),
        )
        .context("running strace (apt-get install strace)")?;
        let mut s = StraceSession {
            child: Some(child),
            output: output.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !proc_util::is_traced(pid) {
            if Instant::now() > deadline {
                bail!("strace did not attach to {pid}");
            }
            if let Some(st) = s.child.as_mut().unwrap().try_wait()? {
                crate::reaper::untrack(s.child.as_ref().unwrap().id());
                bail!("strace exited early: {st}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(s)
    }

    /// Waits for strace to exit (it does when the tracee exits) and returns
    /// its output text.
    pub fn finish(mut self, timeout: Duration) -> Result<String> {
        let mut child = self.child.take().unwrap();
        if proc_util::wait_timeout(&mut child, timeout)?.is_none() {
            proc_util::kill_and_reap(&mut child);
            bail!("strace did not exit within {timeout:?}");
        }
        std::fs::read_to_string(&self.output)
            .with_context(|| format!("reading {}", self.output.display()))
    }
}

impl Drop for StraceSession {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            proc_util::kill_and_reap(c);
        }
    }
}

/// Splits an `strace -f` line into (syscall name, argument text); None for
/// `<... resumed>` continuations, signals and exit notices, so a call split
/// into `<unfinished ...>` / `<... resumed>` is seen once.
fn syscall_start(line: &str) -> Option<(&str, &str)> {
    // Lines start with the tid under -f.
    let rest = line
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start();
    let open = rest.find('(')?;
    let name = &rest[..open];
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name, &rest[open + 1..]))
}

/// Counts every syscall start in `strace -f` output, per name.
pub fn count_syscalls(output: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for (name, _) in output.lines().filter_map(syscall_start) {
        *counts.entry(name.to_string()).or_insert(0) += 1;
    }
    counts
}

/// Counts, per syscall name, the calls in `strace -f -y` output whose first
/// argument is an fd on one of `files` (`write(3</abs/path>, ...`).
pub fn count_file_syscalls(output: &str, files: &[String]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for (name, args) in output.lines().filter_map(syscall_start) {
        let Some(lt) = args.find('<') else { continue };
        if !args[..lt].chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Some(gt) = args[lt..].find('>') else {
            continue;
        };
        let path = &args[lt + 1..lt + gt];
        if files.iter().any(|f| f == path) {
            *counts.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// openat calls on one path in `strace -f` output, whatever their result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenCounts {
    /// Opens for reading only.
    pub read_only: u64,
    /// Opens with O_WRONLY or O_RDWR.
    pub for_writing: u64,
    /// Those of `for_writing` with O_TRUNC.
    pub truncating: u64,
}

/// Counts the `openat(dirfd, "PATH", FLAGS...)` calls on `path` (an absolute path, as the
/// fixture opens its files).
pub fn count_opens(output: &str, path: &str) -> OpenCounts {
    let mut c = OpenCounts::default();
    let quoted = format!("\"{path}\", ");
    for (name, args) in output.lines().filter_map(syscall_start) {
        if name != "openat" {
            continue;
        }
        let Some(at) = args.find(&quoted) else {
            continue;
        };
        let flags = args[at + quoted.len()..]
            .split([',', ')'])
            .next()
            .unwrap_or("");
        if flags.contains("O_WRONLY") || flags.contains("O_RDWR") {
            c.for_writing += 1;
            c.truncating += u64::from(flags.contains("O_TRUNC"));
        } else {
            c.read_only += 1;
        }
    }
    c
}

/// Per thread id, the calls of syscall `name` in `strace -f` output (lines start with the
/// tid), and how many of them returned `ret` (e.g. "0"); unfinished/resumed pairs count once.
pub fn count_by_tid(output: &str, name: &str, ret: &str) -> BTreeMap<u32, (u64, u64)> {
    let mut out: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let resumed = format!("<... {name} resumed>");
    let suffix = format!(" = {ret}");
    for line in output.lines() {
        let Some((tid, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(tid) = tid.parse::<u32>() else {
            continue;
        };
        let rest = rest.trim_start();
        let is_start = rest.starts_with(name) && rest[name.len()..].starts_with('(');
        let is_resumed = rest.starts_with(&resumed);
        if !is_start && !is_resumed {
            continue;
        }
        let e = out.entry(tid).or_default();
        if is_start {
            e.0 += 1;
        }
        if rest.trim_end().ends_with(&suffix) {
            e.1 += 1;
        }
    }
    out
}

/// Parses an `strace -c` summary table into syscall -> calls.
pub fn parse_summary(table: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in table.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], syscall
        if cols.len() < 5 || cols[0].parse::<f64>().is_err() {
            continue;
        }
        let name = cols[cols.len() - 1];
        if name == "total" {
            continue;
        }
        if let Ok(calls) = cols[3].parse::<u64>() {
            out.insert(name.to_string(), calls);
        }
    }
    out
}

/// The syscall counts `syscall-workload --iters n` issues in its counted mix.
pub fn workload_expected(iters: u64) -> BTreeMap<String, u64> {
    let t = iters / 10;
    [
        ("getppid", iters),
        ("write", iters),
        ("pwrite64", t),
        ("fsync", t),
        ("fdatasync", t),
        ("sendto", t),
        ("recvfrom", t),
        ("socketpair", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_and_per_tid_counts() {
        let out = concat!(
            "7 openat(AT_FDCWD</x>, \"/d/f\", O_RDONLY) = -1 ENOENT (No such file)\n",
            "7 openat(AT_FDCWD</x>, \"/d/f\", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 5</d/f>\n",
            "8 openat(AT_FDCWD</x>, \"/d/f\", O_WRONLY|O_CREAT|O_APPEND, 0666) = 5</d/f>\n",
            "8 openat(AT_FDCWD</x>, \"/d/g\", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 6</d/g>\n",
            "9 epoll_wait(4<anon_inode:[eventpoll]>, [], 16, 0) = 0\n",
            "9 epoll_wait(4<anon_inode:[eventpoll]>,  <unfinished ...>\n",
            "8 write(1</o>, \"x\", 1) = 1\n",
            "9 <... epoll_wait resumed>[{events=EPOLLIN}], 16, 0) = 1\n",
            "9 epoll_wait(4<anon_inode:[eventpoll]>, [], 16, 0) = 0\n",
        );
        let c = count_opens(out, "/d/f");
        assert_eq!(
            c,
            OpenCounts {
                read_only: 1,
                for_writing: 2,
                truncating: 1
            }
        );
        let t = count_by_tid(out, "epoll_wait", "0");
        assert_eq!(t.get(&9), Some(&(3, 2)));
        assert_eq!(t.len(), 1);
    }
}
