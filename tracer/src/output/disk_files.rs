//! The original script's extra files of the disk test, in the `disk` layer's folder (else
//! `04_disk_io_dedicated/`): `iotop_nodes.txt` (per-process I/O over the run, from
//! /proc/PID/io) and `disk_before.txt` / `disk_after.txt` (`du` of the data directories).

use std::fmt::Write as _;

use crate::analyse::roles::{self, Node};
use crate::model::Snapshot;
use crate::output::findings_text::node_name;
use crate::output::layout::{self, Rendered, DISK_DIR};

/// The files; always written, saying so when the session has no such figures.
pub fn render(snapshot: &Snapshot) -> Vec<Rendered> {
    let nodes = roles::nodes(snapshot);
    let disk = layout::layer_folder(snapshot, "disk").unwrap_or_else(|| DISK_DIR.into());
    vec![
        Rendered::new(
            format!("{disk}/iotop_nodes.txt"),
            iotop_text(snapshot, &nodes),
        ),
        Rendered::new(
            format!("{disk}/disk_before.txt"),
            du_text(snapshot, &nodes, true),
        ),
        Rendered::new(
            format!("{disk}/disk_after.txt"),
            du_text(snapshot, &nodes, false),
        ),
    ]
}

/// Per-process I/O (what iotop shows), from /proc/PID/io deltas.
pub fn iotop_text(snapshot: &Snapshot, nodes: &[Node]) -> String {
    let Some(disk) = snapshot.disk.as_ref().filter(|d| !d.processes.is_empty()) else {
        return "no per-process I/O in this session (disk report not collected)\n".into();
    };
    let d = snapshot.duration_s.max(1e-9);
    let mut out = format!(
        "# per-process I/O over the run ({:.1} s), /proc/PID/io deltas\n",
        d
    );
    let _ = writeln!(
        out,
        "{:<36} {:>14} {:>14} {:>12} {:>14} {:>14}",
        "node", "disk read B", "disk write B", "write KB/s", "rchar", "wchar"
    );
    for p in &disk.processes {
        let _ = writeln!(
            out,
            "{:<36} {:>14} {:>14} {:>12.1} {:>14} {:>14}",
            node_name(nodes, Some(p.pid)),
            p.read_bytes,
            p.write_bytes,
            p.write_bytes as f64 / 1024.0 / d,
            p.rchar,
            p.wchar
        );
    }
    out
}

/// `du` of the data dirs before or after the run.
pub fn du_text(snapshot: &Snapshot, nodes: &[Node], before: bool) -> String {
    let Some(disk) = snapshot.disk.as_ref().filter(|d| !d.data_dirs.is_empty()) else {
        return "no data directories recorded in this session\n".into();
    };
    let mut out = format!(
        "# disk usage of the data dirs {} the run (bytes)\n",
        if before { "before" } else { "after" }
    );
    for dd in &disk.data_dirs {
        let v = if before {
            dd.bytes_before
                .map_or("- (found during the run)".into(), |b| b.to_string())
        } else {
            dd.bytes_after.to_string()
        };
        let _ = writeln!(
            out,
            "{v:>14}  {}  ({})",
            dd.path,
            node_name(nodes, Some(dd.pid))
        );
    }
    out
}
