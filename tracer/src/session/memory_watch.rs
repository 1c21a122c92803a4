//! Resident memory of every traced process over the run: `/proc/PID/statm` read once a second
//! (whatever `--interval` is, so a `--duration` run has a series too) and at the end, with the
//! headroom left (`MemAvailable`, or the process's cgroup limit) for the growth finding.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::model::MemorySeries;
use crate::target::procfs;

/// How often RSS is read: enough points for a slope in a 10 s run, one small read per
/// process per second.
pub const RSS_EVERY: Duration = Duration::from_secs(1);

/// Samples kept per process: an hour at one a second; past that every other sample goes
/// (the slope needs the shape, not every second).
const MAX_SAMPLES: usize = 3600;

#[derive(Default)]
pub(super) struct MemoryWatch {
    last: Option<Instant>,
    series: BTreeMap<u32, Vec<(f64, u64)>>,
    headroom: BTreeMap<u32, (u64, String)>,
}

impl MemoryWatch {
    /// Samples `live` processes when a second has passed since the last sample (or `force`).
    pub(super) fn tick(&mut self, start: Instant, live: impl Iterator<Item = u32>, force: bool) {
        if !force && self.last.is_some_and(|t| t.elapsed() < RSS_EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        let t = start.elapsed().as_secs_f64();
        for pid in live {
            let Some(rss) = procfs::rss_bytes(pid) else {
                continue;
            };
            let s = self.series.entry(pid).or_default();
            s.push((t, rss));
            if s.len() > MAX_SAMPLES {
                let thinned = s.iter().step_by(2).copied().collect();
                *s = thinned;
            }
            if force {
                if let Some(h) = procfs::memory_headroom(pid) {
                    self.headroom.insert(pid, h);
                }
            }
        }
    }

    /// Every process's series, with its headroom at the last forced sample.
    pub(super) fn finish(self) -> Vec<MemorySeries> {
        let mut headroom = self.headroom;
        self.series
            .into_iter()
            .map(|(pid, samples)| {
                let h = headroom.remove(&pid);
                MemorySeries {
                    pid,
                    samples,
                    headroom_bytes: h.as_ref().map(|h| h.0),
                    headroom_source: h.map(|h| h.1).unwrap_or_default(),
                }
            })
            .collect()
    }
}
