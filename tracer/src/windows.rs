//! Continuous mode: the run is cut into windows. Counters stay cumulative in the kernel and a
//! window is the difference between two reads (exact, and the windows add up to the totals by
//! construction); stack samples and off-CPU records are drained (read, then deleted, with the
//! stack map) every window so kernel memory stays bounded over hours, and user space keeps
//! their running sum. Each window is written as `windows/window_NNNN.json` (bounded retention).

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::collect::KernelData;
use crate::model::{CpuProfile, OffCpuRecord, Snapshot, Stats};

/// Subtracts `b` from `a`: counts, sums and buckets. `max_ns` cannot be subtracted: it stays
/// the maximum seen so far in the run.
pub fn stats_minus(a: &Stats, b: &Stats) -> Stats {
    let mut hist = a.hist.clone();
    for (x, y) in hist.iter_mut().zip(&b.hist) {
        *x = x.saturating_sub(*y);
    }
    Stats {
        count: a.count.saturating_sub(b.count),
        errors: a.errors.saturating_sub(b.errors),
        total_ns: a.total_ns.saturating_sub(b.total_ns),
        max_ns: a.max_ns,
        bytes: a.bytes.saturating_sub(b.bytes),
        hist,
        scale: a.scale,
    }
}

/// The part of cumulative `cur` that happened since `prev` (counters); drained data (samples,
/// off-CPU) is taken from `cur` as it is.
pub fn delta(cur: &KernelData, prev: &KernelData) -> KernelData {
    let sys_prev: HashMap<_, _> = prev
        .syscalls
        .iter()
        .map(|(p, n, k, l, s)| ((*p, *n, *k, *l), s))
        .collect();
    let file_prev: HashMap<_, _> = prev
        .files
        .iter()
        .map(|(p, n, id, s)| ((*p, *n, *id), s))
        .collect();
    let func_prev: HashMap<_, _> = prev
        .functions
        .iter()
        .map(|f| ((f.tgid, f.func), f))
        .collect();
    let block_prev: HashMap<_, _> = prev.block_latency.iter().map(|(d, s)| (*d, s)).collect();
    let zero = Stats::default();
    KernelData {
        syscalls: cur
            .syscalls
            .iter()
            .map(|(p, n, k, l, s)| {
                let b = sys_prev.get(&(*p, *n, *k, *l)).copied().unwrap_or(&zero);
                (*p, *n, *k, *l, stats_minus(s, b))
            })
            .filter(|r| r.4.count > 0)
            .collect(),
        files: cur
            .files
            .iter()
            .map(|(p, n, id, s)| {
                let b = file_prev.get(&(*p, *n, *id)).copied().unwrap_or(&zero);
                (*p, *n, *id, stats_minus(s, b))
            })
            .filter(|r| r.3.count > 0)
            .collect(),
        functions: cur
            .functions
            .iter()
            .map(|f| {
                let mut d = f.clone();
                if let Some(b) = func_prev.get(&(f.tgid, f.func)) {
                    d.entries = f.entries.saturating_sub(b.entries);
                    d.returns = f.returns.saturating_sub(b.returns);
                    d.unmatched_returns = f.unmatched_returns.saturating_sub(b.unmatched_returns);
                    d.latency = stats_minus(&f.latency, &b.latency);
                }
                d
            })
            .filter(|f| f.entries + f.returns > 0)
            .collect(),
        paths: cur.paths.clone(),
        drops: cur
            .drops
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.saturating_sub(*prev.drops.get(k).unwrap_or(&0)),
                )
            })
            .collect(),
        samples_taken: cur.samples_taken.saturating_sub(prev.samples_taken),
        samples: cur.samples.clone(),
        offcpu: cur.offcpu.clone(),
        block_latency: cur
            .block_latency
            .iter()
            .map(|(d, s)| {
                (
                    *d,
                    stats_minus(s, block_prev.get(d).copied().unwrap_or(&zero)),
                )
            })
            .collect(),
    }
}

/// Adds window profile `w` into the running profile `acc`.
pub fn merge_profile(acc: &mut CpuProfile, w: &CpuProfile) {
    acc.freq_hz = w.freq_hz;
    acc.samples += w.samples;
    let mut index: HashMap<(u32, String, Option<String>, Vec<String>), usize> = acc
        .stacks
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                (s.pid, s.thread.clone(), s.layer.clone(), s.frames.clone()),
                i,
            )
        })
        .collect();
    for s in &w.stacks {
        let key = (s.pid, s.thread.clone(), s.layer.clone(), s.frames.clone());
        match index.get(&key) {
            Some(&i) => acc.stacks[i].count += s.count,
            None => {
                index.insert(key, acc.stacks.len());
                acc.stacks.push(s.clone());
            }
        }
    }
    acc.stacks
        .sort_by(|a, b| b.count.cmp(&a.count).then(a.frames.cmp(&b.frames)));
}

/// Adds window off-CPU records into the running ones.
pub fn merge_offcpu(acc: &mut Vec<OffCpuRecord>, w: &[OffCpuRecord]) {
    for r in w {
        match acc.iter_mut().find(|a| {
            a.pid == r.pid
                && a.thread == r.thread
                && a.layer == r.layer
                && a.reason == r.reason
                && a.futex_op == r.futex_op
                && a.frames == r.frames
        }) {
            Some(a) => {
                a.total_ns += r.total_ns;
                a.count += r.count;
            }
            None => acc.push(r.clone()),
        }
    }
}

/// Where windows go, and how many are kept.
pub struct WindowWriter {
    dir: PathBuf,
    keep: usize,
    next: u32,
}

pub const WINDOWS_DIR: &str = "windows";

impl WindowWriter {
    pub fn new(session: &Path, keep: usize) -> WindowWriter {
        WindowWriter {
            dir: session.join(WINDOWS_DIR),
            keep,
            next: 1,
        }
    }

    /// Writes one window snapshot and removes the oldest beyond `keep`. Returns its path.
    pub fn write(&mut self, window: &Snapshot) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(format!("window_{:04}.json", self.next));
        std::fs::write(&path, serde_json::to_string(window)?)
            .with_context(|| format!("writing {}", path.display()))?;
        // Each window's CPU profile in pprof format, for `go tool pprof` and Pyroscope.
        if window.profile.is_some() {
            crate::output::pprof::write(
                window,
                &self.dir.join(format!("window_{:04}.pb.gz", self.next)),
            )?;
        }
        if self.next as usize > self.keep {
            let old = self.next as usize - self.keep;
            let _ = std::fs::remove_file(self.dir.join(format!("window_{old:04}.json")));
            let _ = std::fs::remove_file(self.dir.join(format!("window_{old:04}.pb.gz")));
        }
        self.next += 1;
        Ok(path)
    }

    /// Windows written so far.
    pub fn count(&self) -> u32 {
        self.next - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HistScale;

    fn st(count: u64, total: u64, hist: Vec<u64>) -> Stats {
        Stats {
            count,
            total_ns: total,
            max_ns: 9,
            hist,
            scale: HistScale::Log2,
            ..Stats::default()
        }
    }

    #[test]
    fn windows_add_up_to_the_total() {
        let w1 = st(3, 30, vec![1, 2]);
        let total = st(10, 100, vec![4, 6]);
        let w2 = stats_minus(&total, &w1);
        let mut back = w1.clone();
        back.merge(&w2);
        assert_eq!(
            (back.count, back.total_ns, back.hist.clone()),
            (10, 100, vec![4, 6])
        );
    }
}
