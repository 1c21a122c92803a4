//! The /proc text tracer parses: /proc/diskstats, /proc/PID/io, /proc/PID/stat (whose comm a
//! process chooses, any character included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracer::target::{diskstats, procfs};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Two readings of diskstats: the input's halves.
    let mid = (text.len() / 2..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    let (a, b) = text.split_at(mid);
    let before = diskstats::parse_diskstats(a);
    let after = diskstats::parse_diskstats(b);
    let _ = diskstats::device_deltas(&before, &after, 1.0);
    let _ = diskstats::device_deltas(&after, &before, 0.0);
    let _ = diskstats::parse_process_io(1, &text);
    let _ = procfs::stat_fields(&text);
});
