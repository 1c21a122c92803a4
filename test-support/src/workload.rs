//! Runs the fixture's standalone programs and reads what they report about themselves:
//! `syscall-workload --churn` and `--burn-threads`, and `chain-burn`. Each run also returns
//! the kernel's own CPU accounting of the child (wait4's rusage), the reference a CPU
//! sampler's sample count is checked against.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::io::Read;
use std::process::{Command, Stdio};

use crate::fixture::FixtureBins;

/// A finished child: its last stdout JSON line parsed, and the kernel's CPU time for it.
#[derive(Debug, Clone)]
pub struct Measured<T> {
    pub report: T,
    /// User + system CPU of the child and all its threads (wait4 rusage), in ns.
    pub rusage_cpu_ns: u64,
    pub pid: u32,
}

/// `syscall-workload --churn FILES --forks N --failed-opens M`: what it issued (raw
/// syscalls; every path is under `dir`, removed at the end).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChurnReport {
    pub dir: String,
    /// Distinct files created (openat O_CREAT|O_EXCL), closed and unlinked by the parent.
    pub files_opened: u64,
    pub files_closed: u64,
    pub files_unlinked: u64,
    /// openat of distinct missing paths (ENOENT).
    pub failed_opens: u64,
    /// Children forked (each creates, closes and unlinks one file, then exits 0).
    pub forks: u64,
    pub child_files: u64,
    pub child_failures: u64,
}

/// `syscall-workload --burn-threads T --burn-ms MS`: each "burn" thread's own CPU time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BurnReport {
    pub threads: u64,
    pub burn_ms: u64,
    pub wall_ns: u64,
    /// Per thread, CLOCK_THREAD_CPUTIME_ID over its loop.
    pub thread_cpu_ns: Vec<u64>,
    /// Sum of `thread_cpu_ns`.
    pub threads_cpu_ns: u64,
    /// CLOCK_PROCESS_CPUTIME_ID at the end (all threads, start-up included).
    pub process_cpu_ns: u64,
    pub rounds: Vec<u64>,
}

/// `chain-burn --ms MS`: main → run → qsort → compare_items → deep_leaf.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChainReport {
    /// qsort calls (one per `run`).
    pub sorts: u64,
    pub items: u64,
    pub compare_calls: u64,
    pub leaf_calls: u64,
    /// CLOCK_PROCESS_CPUTIME_ID over the loop.
    pub cpu_ns: u64,
    pub wall_ns: u64,
    pub check: u64,
    /// The stack at the first deep_leaf call, innermost first, as glibc's backtrace(3) (the
    /// libgcc .eh_frame unwinder: no frame pointers needed) saw it and dladdr named it.
    pub chain: Vec<ChainFrame>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChainFrame {
    /// File name of the object ("chain-burn", "libc.so.6").
    pub object: String,
    /// Nearest exported symbol at or below the address, if any (glibc's internal sort
    /// functions have none; `qsort` tail-calls `qsort_r`, which is the frame you see).
    pub symbol: Option<String>,
    /// Offset from `symbol`.
    pub offset: u64,
    /// Offset from the object's load address (for addr2line and the like).
    pub module_offset: u64,
}

impl ChainReport {
    /// The program's frames of the chain, innermost first, with libc's frames as "libc".
    pub fn names(&self) -> Vec<String> {
        self.chain
            .iter()
            .map(|f| match (&f.symbol, f.object.starts_with("libc.so")) {
                (Some(s), false) => s.clone(),
                (Some(s), true) => format!("libc:{s}"),
                (None, true) => "libc".to_string(),
                (None, false) => format!("{}+{:#x}", f.object, f.module_offset),
            })
            .collect()
    }
}

pub fn churn(
    bins: &FixtureBins,
    files: u64,
    forks: u64,
    failed_opens: u64,
) -> Result<Measured<ChurnReport>> {
    let mut cmd = Command::new(&bins.workload);
    cmd.args(["--churn", &files.to_string()])
        .args(["--forks", &forks.to_string()])
        .args(["--failed-opens", &failed_opens.to_string()]);
    run_measured(cmd)
}

pub fn burn(bins: &FixtureBins, threads: u32, ms: u64) -> Result<Measured<BurnReport>> {
    let mut cmd = Command::new(&bins.workload);
    cmd.args(["--burn-threads", &threads.to_string()])
        .args(["--burn-ms", &ms.to_string()]);
    run_measured(cmd)
}

pub fn chain(bins: &FixtureBins, ms: u64) -> Result<Measured<ChainReport>> {
    let chain = bins
        .chain
        .as_ref()
        .context("chain-burn is built in the Fp and NoFp variants only")?;
    let mut cmd = Command::new(chain);
    cmd.args(["--ms", &ms.to_string()]);
    run_measured(cmd)
}

/// Runs `cmd` to the end, reaps it with wait4 for its rusage, parses its last JSON line.
pub fn run_measured<T: serde::de::DeserializeOwned>(mut cmd: Command) -> Result<Measured<T>> {
    let mut child = crate::proc_util::spawn_tracked(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )
    .with_context(|| format!("running {cmd:?}"))?;
    let pid = child.id();
    let mut out = String::new();
    child
        .stdout
        .take()
        .context("stdout")?
        .read_to_string(&mut out)?;
    crate::reaper::untrack(pid);
    let mut status = 0;
    // SAFETY: zeroed rusage filled by wait4 on our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 reaps our own child `pid` (std's Child is never waited on afterwards).
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut ru) };
    if r != pid as libc::pid_t {
        bail!("wait4({pid}): {}", std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{cmd:?} failed (wait status {status:#x}); stdout:\n{out}");
    }
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("{cmd:?} printed no JSON:\n{out}"))?;
    Ok(Measured {
        report: serde_json::from_str(line).with_context(|| format!("parsing {line}"))?,
        rusage_cpu_ns: tv(ru.ru_utime) + tv(ru.ru_stime),
        pid,
    })
}
