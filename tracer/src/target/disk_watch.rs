//! Disk views over the run: /proc/diskstats before and after (iostat -x), /proc/PID/io of
//! each node (iotop), and the size of each node's data directories before and after (du).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::model::{DataDir, DiskReport, FileRecord, ProcessIo, Stats};
use crate::target::diskstats::{self, DiskCounters};
use crate::target::procfs::{self, OpenFd};

#[derive(Default)]
pub struct DiskWatch {
    before: BTreeMap<String, DiskCounters>,
    io_first: HashMap<u32, ProcessIo>,
    io_last: HashMap<u32, ProcessIo>,
    /// (pid, dir) -> bytes when the process was first seen.
    dirs_before: BTreeMap<(u32, PathBuf), u64>,
}

impl DiskWatch {
    pub fn start() -> Self {
        DiskWatch {
            before: diskstats::read_diskstats(),
            ..Default::default()
        }
    }

    /// A traced process was first seen: its I/O counters and the directories of the files it
    /// has open now (a node keeps its persister files open) are its "before".
    pub fn on_process(&mut self, pid: u32) {
        if let Some(io) = diskstats::process_io(pid) {
            self.io_first.insert(pid, io.clone());
            self.io_last.insert(pid, io);
        }
        for (_, fd) in procfs::open_fds(pid) {
            if let OpenFd::File(path) = fd {
                if let Some(dir) = path.parent() {
                    self.dirs_before
                        .entry((pid, dir.to_path_buf()))
                        .or_insert_with(|| diskstats::dir_size(dir));
                }
            }
        }
    }

    /// A process that turned out not to be a target (discovery): its I/O is left out.
    pub fn forget(&mut self, pid: u32) {
        self.io_first.remove(&pid);
        self.io_last.remove(&pid);
    }

    /// Refreshes the last I/O counters of live processes (a process that exits keeps its last).
    pub fn tick(&mut self, live: impl Iterator<Item = u32>) {
        for pid in live {
            if let Some(io) = diskstats::process_io(pid) {
                self.io_last.insert(pid, io);
            }
        }
    }

    /// The disk report: device deltas (with block latency by kernel dev_t), per-process I/O,
    /// and every data directory (the ones seen at start plus those of files written since).
    pub fn finish(
        &self,
        duration_s: f64,
        files: &[FileRecord],
        block: &[(u32, Stats)],
    ) -> DiskReport {
        let after = diskstats::read_diskstats();
        let mut devices = diskstats::device_deltas(&self.before, &after, duration_s);
        for (dev, lat) in block {
            if let Some(name) = diskstats::device_name(*dev, &after) {
                if let Some(d) = devices.iter_mut().find(|d| d.name == name) {
                    d.request_latency = Some(lat.clone());
                }
            }
        }
        let mut processes: Vec<ProcessIo> = self
            .io_first
            .iter()
            .filter_map(|(pid, first)| {
                let last = self.io_last.get(pid)?;
                Some(ProcessIo {
                    pid: *pid,
                    read_bytes: last.read_bytes.saturating_sub(first.read_bytes),
                    write_bytes: last.write_bytes.saturating_sub(first.write_bytes),
                    rchar: last.rchar.saturating_sub(first.rchar),
                    wchar: last.wchar.saturating_sub(first.wchar),
                })
            })
            .collect();
        processes.sort_by_key(|p| p.pid);

        let mut dirs: BTreeMap<(u32, PathBuf), Option<u64>> = self
            .dirs_before
            .iter()
            .map(|(k, v)| (k.clone(), Some(*v)))
            .collect();
        for f in files
            .iter()
            .filter(|f| f.syscall.starts_with("write") || f.syscall.starts_with("pwrite"))
        {
            if let Some(dir) = Path::new(&f.path).parent() {
                dirs.entry((f.pid, dir.to_path_buf())).or_insert(None);
            }
        }
        let data_dirs = dirs
            .into_iter()
            .map(|((pid, path), before)| DataDir {
                pid,
                bytes_after: diskstats::dir_size(&path),
                path: path.display().to_string(),
                bytes_before: before,
            })
            .collect();
        DiskReport {
            devices,
            processes,
            data_dirs,
        }
    }
}
