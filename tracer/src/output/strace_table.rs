//! The syscall files of `04_disk_io_dedicated/`: one `strace_<node>.txt` per process (and
//! `strace_all.txt`), each a table in the shape `strace -c` users know followed by the tables
//! beyond it, and `syscall_analysis.txt` (per-node disk figures and the lost events).

use std::fmt::Write as _;

use crate::analyse::syscalls::{self, DiskFigures, FileActivity, SyscallRow};
use crate::model::{FdKind, Snapshot, Stats};
use crate::output::layout::{self, Rendered, DISK_DIR};

/// Every file of this kind in the session.
pub fn render(snapshot: &Snapshot) -> Vec<Rendered> {
    let mut out = Vec::new();
    for p in &snapshot.processes {
        let title = format!("syscalls of {} (pid {})", p.comm, p.pid);
        out.push(Rendered::new(
            format!("{DISK_DIR}/{}", layout::strace_file(p)),
            syscall_file(snapshot, &title, &[p.pid]),
        ));
    }
    if snapshot.processes.len() > 1 {
        let all: Vec<u32> = snapshot.processes.iter().map(|p| p.pid).collect();
        out.push(Rendered::new(
            format!("{DISK_DIR}/{}", layout::STRACE_ALL_FILE),
            syscall_file(snapshot, "syscalls of all traced processes", &all),
        ));
    }
    out.push(Rendered::new(
        format!("{DISK_DIR}/{}", layout::SYSCALL_ANALYSIS_FILE),
        analysis(snapshot),
    ));
    out
}

/// The full text file of one set of processes: classic table, extended table, files, figures.
pub fn syscall_file(snapshot: &Snapshot, title: &str, pids: &[u32]) -> String {
    let rows = syscalls::table(snapshot, pids);
    let mut out = String::new();
    let _ = writeln!(out, "# {title}");
    let _ = writeln!(
        out,
        "# traced {:.1} s from {}; syscall latency is enter-to-exit wall time\n",
        snapshot.duration_s, snapshot.started_at
    );
    out.push_str(&classic(&rows));
    out.push_str("\n## Latency, bytes, socket vs file\n\n");
    out.push_str(&extended(&rows));
    out.push_str("\n## Files written and flushed\n\n");
    out.push_str(&files(&syscalls::files(snapshot, pids)));
    out.push_str("\n## Disk figures\n\n");
    out.push_str(&disk_figures(&syscalls::disk_figures(snapshot, pids)));
    out
}

/// `syscall_analysis.txt`: per-node disk figures, then the drop counters.
pub fn analysis(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    for p in &snapshot.processes {
        let _ = writeln!(out, "== {} (pid {}) ==", p.comm, p.pid);
        out.push_str(&disk_figures(&syscalls::disk_figures(snapshot, &[p.pid])));
        out.push('\n');
    }
    out.push_str(&drops_text(snapshot));
    out
}

/// The lost-event counters, always shown, zero or not.
pub fn drops_text(snapshot: &Snapshot) -> String {
    let total: u64 = snapshot.drops.values().sum();
    let mut out = format!("lost events: {total}");
    if total > 0 {
        let parts: Vec<String> = snapshot
            .drops
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = write!(out, " ({})", parts.join(", "));
    }
    out.push('\n');
    out
}

const RULE: &str = "------ ----------- ----------- --------- --------- ----------------";

/// The classic table: `% time  seconds  usecs/call  calls  errors syscall`, same columns and
/// widths as strace's (strace measures time differently; ours is enter-to-exit wall time).
pub fn classic(rows: &[SyscallRow]) -> String {
    let total = syscalls::total(rows);
    let mut out = String::new();
    out.push_str("% time     seconds  usecs/call     calls    errors syscall\n");
    out.push_str(RULE);
    out.push('\n');
    for r in rows {
        classic_line(&mut out, &r.total, total.total_ns, &r.name);
    }
    out.push_str(RULE);
    out.push('\n');
    classic_line(&mut out, &total, total.total_ns, "total");
    out
}

fn classic_line(out: &mut String, s: &Stats, total_ns: u64, name: &str) {
    let pct = if total_ns == 0 {
        0.0
    } else {
        100.0 * s.total_ns as f64 / total_ns as f64
    };
    let usecs = s.total_ns.checked_div(s.count).unwrap_or(0) / 1000;
    let errors = if s.errors == 0 {
        String::new()
    } else {
        s.errors.to_string()
    };
    let _ = writeln!(
        out,
        "{pct:6.2} {:11.6} {usecs:11} {:9} {errors:>9} {name}",
        s.total_ns as f64 / 1e9,
        s.count
    );
}

/// The bucket of quantile `q` as a range in µs (`8-16`), `-` without calls.
fn bucket_us(s: &Stats, q: f64) -> String {
    match s.quantile_bucket_ns(q) {
        Some((lo, hi)) => format!("{}-{}", us_bound(lo), us_bound(hi)),
        None => "-".to_string(),
    }
}

/// A bucket bound in µs with as many decimals as sub-µs buckets need (`0.064`, `2.0`, `131`).
fn us_bound(ns: f64) -> String {
    if ns >= 100_000.0 {
        format!("{:.0}", ns / 1e3)
    } else if ns >= 1_000.0 {
        format!("{:.1}", ns / 1e3)
    } else {
        format!("{:.3}", ns / 1e3)
    }
}

fn us(ns: f64) -> String {
    if ns >= 100_000.0 {
        format!("{:.0}", ns / 1e3)
    } else {
        format!("{:.1}", ns / 1e3)
    }
}

/// Beyond strace: latency percentiles, bytes, and the socket/file split of each syscall.
pub fn extended(rows: &[SyscallRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<18} {:>9} {:>7} {:>15} {:>15} {:>9} {:>12} {:>9} {:>12} {:>9} {:>12} {:>9}",
        "syscall",
        "calls",
        "errors",
        "p50 in(us)",
        "p99 in(us)",
        "max(us)",
        "bytes",
        "socket",
        "socket_B",
        "file",
        "file_B",
        "other"
    );
    for r in rows {
        let kind = |k: FdKind| r.by_kind.get(&k).cloned().unwrap_or_default();
        let sock = kind(FdKind::Socket);
        let file = kind(FdKind::File);
        let other = kind(FdKind::Other).count + kind(FdKind::Unknown).count;
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>7} {:>15} {:>15} {:>9} {:>12} {:>9} {:>12} {:>9} {:>12} {:>9}",
            r.name,
            r.total.count,
            r.total.errors,
            bucket_us(&r.total, 0.5),
            bucket_us(&r.total, 0.99),
            us(r.total.max_ns as f64),
            r.total.bytes,
            sock.count,
            sock.bytes,
            file.count,
            file.bytes,
            other
        );
    }
    out.push_str(
        "\np50/p99 are the log2 latency bucket (a factor of two wide) that holds the percentile: \
         it lies somewhere in that range.\n\
         socket/file/other split the calls that take an fd by what the fd is; `other` also \
         counts fds of unknown kind.\n",
    );
    out
}

/// Which files were written and flushed.
pub fn files(files: &[FileActivity]) -> String {
    let mut out = String::new();
    if files.is_empty() {
        out.push_str("(no syscalls on regular files)\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:>9} {:>12} {:>9} {:>12} {:>12} {:>9}  path",
        "writes", "write_B", "flushes", "flush_ms", "flush_avg_us", "reads"
    );
    for f in files {
        let w = f.writes();
        let fl = f.flushes();
        let reads: u64 = ["read", "pread64", "readv", "preadv", "preadv2"]
            .iter()
            .filter_map(|n| f.by_syscall.get(*n))
            .map(|s| s.count)
            .sum();
        let _ = writeln!(
            out,
            "{:>9} {:>12} {:>9} {:>12.3} {:>12.1} {:>9}  {}",
            w.count,
            w.bytes,
            fl.count,
            fl.total_ns as f64 / 1e6,
            fl.mean_ns() / 1e3,
            reads,
            f.path
        );
    }
    out
}

/// The disk figures of the original fourth test, each with its number.
pub fn disk_figures(d: &DiskFigures) -> String {
    let opt = |v: Option<f64>, unit: &str| match v {
        Some(x) => format!("{x:.1}{unit}"),
        None => "n/a (no fsync/fdatasync)".to_string(),
    };
    format!(
        "fsync+fdatasync calls:        {} ({:.1}/s over {:.1} s)\n\
         mean flush latency:           {:.1} us (p99 {:.1} us, max {:.1} us)\n\
         writes to files:              {} ({} bytes)\n\
         writes per flush:             {}\n\
         bytes per flush:              {}\n\
         flush share of syscall time:  {:.1}% of {:.3} s\n",
        d.flushes,
        d.flushes_per_s,
        d.duration_s,
        d.mean_flush_us,
        d.p99_flush_us,
        d.max_flush_us,
        d.file_writes,
        d.file_write_bytes,
        opt(d.writes_per_flush, ""),
        opt(d.bytes_per_flush, " B"),
        d.flush_time_share_pct,
        d.total_syscall_s,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn row(name: &str, count: u64, errors: u64, total_ns: u64) -> SyscallRow {
        let total = Stats {
            count,
            errors,
            total_ns,
            max_ns: total_ns,
            bytes: 0,
            hist: vec![],
            scale: Default::default(),
        };
        SyscallRow {
            name: name.into(),
            total,
            by_kind: BTreeMap::new(),
        }
    }

    #[test]
    fn classic_table_matches_strace_layout() {
        let rows = vec![
            row("fsync", 10, 0, 3_000_000),
            row("write", 30, 2, 1_000_000),
        ];
        let t = classic(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "% time     seconds  usecs/call     calls    errors syscall"
        );
        assert_eq!(lines[1], RULE);
        assert_eq!(
            lines[2],
            " 75.00    0.003000         300        10           fsync"
        );
        assert_eq!(
            lines[3],
            " 25.00    0.001000          33        30         2 write"
        );
        assert_eq!(
            lines[5],
            "100.00    0.004000         100        40         2 total"
        );
    }
}
