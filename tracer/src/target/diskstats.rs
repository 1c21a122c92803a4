//! The iostat / iotop / du views, read from /proc and the file system: block-device counters
//! (/proc/diskstats), per-process I/O (/proc/PID/io), and directory sizes.

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::{DeviceStats, ProcessIo};

/// Counters of one device, as /proc/diskstats has them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskCounters {
    pub major: u32,
    pub minor: u32,
    pub reads: u64,
    pub read_sectors: u64,
    pub read_ms: u64,
    pub writes: u64,
    pub write_sectors: u64,
    pub write_ms: u64,
    pub io_ms: u64,
    pub flushes: u64,
}

/// Parses /proc/diskstats text: name -> counters (whole disks and partitions alike).
pub fn parse_diskstats(text: &str) -> BTreeMap<String, DiskCounters> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 {
            continue;
        }
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        out.insert(
            f[2].to_string(),
            DiskCounters {
                major: n(0) as u32,
                minor: n(1) as u32,
                reads: n(3),
                read_sectors: n(5),
                read_ms: n(6),
                writes: n(7),
                write_sectors: n(9),
                write_ms: n(10),
                io_ms: n(12),
                flushes: n(18),
            },
        );
    }
    out
}

pub fn read_diskstats() -> BTreeMap<String, DiskCounters> {
    std::fs::read_to_string("/proc/diskstats")
        .map(|t| parse_diskstats(&t))
        .unwrap_or_default()
}

/// Per-device activity between two readings, for devices that did any I/O (loop and ram
/// devices without I/O are left out, like `iostat -z`).
pub fn device_deltas(
    before: &BTreeMap<String, DiskCounters>,
    after: &BTreeMap<String, DiskCounters>,
    duration_s: f64,
) -> Vec<DeviceStats> {
    let mut out = Vec::new();
    for (name, b) in before {
        let Some(a) = after.get(name) else { continue };
        let d = |x: u64, y: u64| x.saturating_sub(y);
        let s = DeviceStats {
            name: name.clone(),
            duration_s,
            reads: d(a.reads, b.reads),
            writes: d(a.writes, b.writes),
            read_bytes: d(a.read_sectors, b.read_sectors).saturating_mul(512),
            write_bytes: d(a.write_sectors, b.write_sectors).saturating_mul(512),
            read_ms: d(a.read_ms, b.read_ms),
            write_ms: d(a.write_ms, b.write_ms),
            io_ms: d(a.io_ms, b.io_ms),
            flushes: d(a.flushes, b.flushes),
            request_latency: None,
        };
        if s.reads > 0 || s.writes > 0 || s.flushes > 0 {
            out.push(s);
        }
    }
    out
}

/// Device name of a kernel `dev_t` as block tracepoints report it (major << 20 | minor).
pub fn device_name(dev: u32, stats: &BTreeMap<String, DiskCounters>) -> Option<String> {
    let (major, minor) = (dev >> 20, dev & ((1 << 20) - 1));
    stats
        .iter()
        .find(|(_, c)| c.major == major && c.minor == minor)
        .map(|(n, _)| n.clone())
}

/// /proc/PID/io of a live process.
pub fn process_io(pid: u32) -> Option<ProcessIo> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    Some(parse_process_io(pid, &text))
}

/// Parses /proc/PID/io text; lines it does not know or cannot read count as 0.
pub fn parse_process_io(pid: u32, text: &str) -> ProcessIo {
    let mut io = ProcessIo {
        pid,
        ..ProcessIo::default()
    };
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v: u64 = v.trim().parse().unwrap_or(0);
        match k {
            "rchar" => io.rchar = v,
            "wchar" => io.wchar = v,
            "read_bytes" => io.read_bytes = v,
            "write_bytes" => io.write_bytes = v,
            _ => {}
        }
    }
    io
}

/// Bytes of the regular files below `dir` (like `du -sb`, not following links).
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
 253       0 vda 1000 10 8000 500 2000 20 16000 900 0 1200 1400 0 0 0 0 50 30
   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
";

    #[test]
    fn parses_and_diffs_like_iostat() {
        let before = parse_diskstats(SAMPLE);
        let after_text = SAMPLE.replace(
            "1000 10 8000 500 2000 20 16000 900 0 1200",
            "1100 10 8800 520 2400 20 19200 1300 0 1700",
        );
        let after = parse_diskstats(&after_text);
        let d = device_deltas(&before, &after, 10.0);
        assert_eq!(d.len(), 1, "idle loop0 left out");
        let v = &d[0];
        assert_eq!((v.reads, v.writes), (100, 400));
        assert_eq!(v.write_bytes, 3200 * 512);
        assert!((v.await_ms() - (20.0 + 400.0) / 500.0).abs() < 1e-9);
        assert!((v.util_pct() - 5.0).abs() < 1e-9, "500 ms busy of 10 s");
        assert_eq!(device_name(253 << 20, &after).as_deref(), Some("vda"));
    }

    #[test]
    fn reads_own_io_and_dir_sizes() {
        let io = process_io(std::process::id()).unwrap();
        assert!(io.rchar > 0);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 1000]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 24]).unwrap();
        assert_eq!(dir_size(dir.path()), 1024);
    }
}
