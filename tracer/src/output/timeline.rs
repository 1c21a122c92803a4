//! The continuous-mode timeline of `index.html`: per window (the `windows/window_NNNN.json`
//! snapshots the session kept) and per node, the syscall rate, the fsync+fdatasync rate, the
//! on-CPU samples and the role at the window's middle, as a table with a line chart of each
//! rate. A one-shot session has a single window and gets no timeline. RSS is not in the
//! window snapshots: the table says so rather than showing nothing.

use std::fmt::Write as _;
use std::path::Path;

use crate::analyse::{roles, syscalls};
use crate::model::Snapshot;
use crate::output::layout::WINDOWS_DIR;

/// The session's windows, in order, with their start in seconds from the first kept one.
fn windows(dir: &Path) -> Vec<(String, f64, Snapshot)> {
    let Ok(entries) = std::fs::read_dir(dir.join(WINDOWS_DIR)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("window_") && n.ends_with(".json"))
        .collect();
    names.sort();
    let mut at = 0.0;
    let mut out = Vec::new();
    for n in names {
        let Ok(text) = std::fs::read(dir.join(WINDOWS_DIR).join(&n)) else {
            continue;
        };
        let Ok(w) = serde_json::from_slice::<Snapshot>(&text) else {
            continue;
        };
        let start = at;
        at += w.duration_s;
        out.push((n.trim_end_matches(".json").to_string(), start, w));
    }
    out
}

/// One window's figures of one node: (syscalls/s, flushes/s, samples).
fn figures(w: &Snapshot, pid: u32) -> (f64, f64, u64) {
    let secs = w.duration_s.max(1e-9);
    let mut calls = 0u64;
    let mut flushes = 0u64;
    for r in w.syscalls.iter().filter(|r| r.pid == pid) {
        calls += r.stats.count;
        if syscalls::FLUSH_SYSCALLS.contains(&r.name.as_str()) {
            flushes += r.stats.count;
        }
    }
    let samples = w
        .profile
        .iter()
        .flat_map(|p| p.stacks.iter())
        .filter(|s| s.pid == pid)
        .map(|s| s.count)
        .sum();
    (calls as f64 / secs, flushes as f64 / secs, samples)
}

/// The role of `pid` at `t` seconds into the run (from the whole session's role spans).
fn role_at(s: &Snapshot, pid: u32, t: f64) -> String {
    roles::of(s, pid)
        .and_then(|r| r.spans.iter().find(|sp| sp.from_s <= t && t < sp.to_s))
        .map_or("-".into(), |sp| sp.role.clone())
}

/// A polyline chart of `values` (one per window), 300×50.
fn sparkline(values: &[f64]) -> String {
    let max = values.iter().copied().fold(0.0, f64::max).max(1e-9);
    let step = 300.0 / (values.len().max(2) - 1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, 48.0 - 46.0 * v / max))
        .collect();
    format!(
        "<svg class=\"spark\" width=\"300\" height=\"50\" xmlns=\"http://www.w3.org/2000/svg\">\
         <polyline fill=\"none\" stroke=\"#4e79a7\" points=\"{}\"/></svg> max {max:.0}/s",
        points.join(" ")
    )
}

/// The page's section, or nothing for a session of fewer than two windows.
pub fn html(snapshot: &Snapshot, dir: &Path) -> String {
    let ws = windows(dir);
    if ws.len() < 2 {
        return String::new();
    }
    let mut out = format!(
        "<h2 id=\"timeline\">Timeline ({} windows)</h2>\n<p>Per window and node: syscalls/s, \
         fsync+fdatasync/s, on-CPU samples and the role at the window's middle. RSS: not \
         measured (not in the window snapshots).</p>\n",
        ws.len()
    );
    for n in roles::nodes(snapshot) {
        let rows: Vec<(f64, f64, u64)> = ws.iter().map(|(_, _, w)| figures(w, n.pid)).collect();
        let _ = writeln!(
            out,
            "<h3>{} ({})</h3><p>syscalls/s {}<br>fsync/s {}</p>\
             <table><tr><th>window</th><th>from s</th><th>syscalls/s</th><th>fsync/s</th>\
             <th>samples</th><th>role</th></tr>",
            n.name(),
            n.role,
            sparkline(&rows.iter().map(|r| r.0).collect::<Vec<_>>()),
            sparkline(&rows.iter().map(|r| r.1).collect::<Vec<_>>())
        );
        for ((name, start, w), (calls, flushes, samples)) in ws.iter().zip(&rows) {
            let _ = writeln!(
                out,
                "<tr><td>{name}</td><td>{start:.1}</td><td>{calls:.0}</td><td>{flushes:.1}</td>\
                 <td>{samples}</td><td>{}</td></tr>",
                role_at(snapshot, n.pid, start + w.duration_s / 2.0)
            );
        }
        out.push_str("</table>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned::{stats, Canned};
    use crate::model::FdKind;

    #[test]
    fn a_row_per_window_with_its_rates_and_role() {
        let dir = tempfile::tempdir().unwrap();
        let wdir = dir.path().join(WINDOWS_DIR);
        std::fs::create_dir(&wdir).unwrap();
        for (i, fsyncs) in [(1, 20u64), (2, 40)] {
            let w = Canned::new(2.0)
                .node(1)
                .syscall(1, "fsync", FdKind::File, stats(fsyncs, 1000, 0))
                .samples(1, "t", &["f"], 7)
                .build();
            std::fs::write(
                wdir.join(format!("window_{i:04}.json")),
                serde_json::to_vec(&w).unwrap(),
            )
            .unwrap();
        }
        let s = Canned::new(4.0)
            .node(1)
            .roles(1, &[("follower", 0.0, 2.0), ("leader", 2.0, 4.0)], None)
            .build();
        let h = html(&s, dir.path());
        assert!(h.contains("Timeline (2 windows)"), "{h}");
        assert!(
            h.contains("<td>window_0001</td><td>0.0</td><td>10</td><td>10.0</td><td>7</td><td>follower</td>"),
            "{h}"
        );
        assert!(
            h.contains(
                "<td>window_0002</td><td>2.0</td><td>20</td><td>20.0</td><td>7</td><td>leader</td>"
            ),
            "{h}"
        );
        assert_eq!(html(&s, &dir.path().join("none")), "");
    }
}
