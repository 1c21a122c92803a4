//! Figures about how a node writes its raft state: files reopened for every write, and files
//! truncated and rewritten in place (no fsync, no atomic rename), from the per-file opens the
//! kernel side records with the layer they were made in and whether they truncated.

use super::measure::{is_persister_file, Measured};
use crate::analyse::{roles, syscalls};
use crate::model::{FileRecord, Snapshot};

fn is_open(r: &FileRecord) -> bool {
    matches!(r.syscall.as_str(), "open" | "openat" | "openat2" | "creat")
}

/// Whether this session recorded opens per file at all (tracer versions before could not).
fn opens_recorded(snapshot: &Snapshot) -> bool {
    snapshot.files.iter().any(is_open)
}

/// Successful opens of each raft-state file of the node: (path, opens, truncating opens).
fn state_opens(snapshot: &Snapshot, pid: u32) -> Vec<(String, u64, u64)> {
    let mut out: Vec<(String, u64, u64)> = Vec::new();
    for r in snapshot
        .files
        .iter()
        .filter(|r| r.pid == pid && is_open(r) && is_persister_file(snapshot, pid, &r.path))
    {
        let ok = r.stats.count - r.stats.errors.min(r.stats.count);
        let trunc = if r.truncating { ok } else { 0 };
        match out.iter_mut().find(|(p, _, _)| *p == r.path) {
            Some(e) => {
                e.1 += ok;
                e.2 += trunc;
            }
            None => out.push((r.path.clone(), ok, trunc)),
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

fn not_recorded() -> Measured {
    Measured::NotMeasured(
        "opens per file were not recorded (--no-syscalls, or a session of an older tracer)".into(),
    )
}

/// Opens per second of the node's most reopened raft-state file, with its writes.
pub fn reopens(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    if !opens_recorded(snapshot) {
        return not_recorded();
    }
    let opens = state_opens(snapshot, node.pid);
    let Some((path, n, _)) = opens.first() else {
        return Measured::NotMeasured("the node opened no raft-state file during the run".into());
    };
    let secs = node.lifetime_s.max(1e-9);
    let files = syscalls::files(snapshot, &[node.pid]);
    let writes = files
        .iter()
        .find(|f| &f.path == path)
        .map_or(0, |f| f.writes().count);
    Measured::Value(
        *n as f64 / secs,
        format!(
            "{path} opened {n} times in {secs:.1} s, written {writes} times ({})",
            if writes > 0 {
                format!("{:.2} opens per write", *n as f64 / writes as f64)
            } else {
                "never written".into()
            }
        ),
    )
}

/// Truncating opens per second of raft-state files that are written and not made durable: not
/// flushed as often as they are truncated, and not replaced by an atomic rename (renames in
/// the log & I/O layer, or by the node at all without layer data).
pub fn truncate_rewrite(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    if !opens_recorded(snapshot) {
        return not_recorded();
    }
    let files = syscalls::files(snapshot, &[node.pid]);
    // With layers recorded, only the persister's own renames (in the log & I/O layer) count.
    let layered = snapshot
        .syscalls
        .iter()
        .any(|r| r.pid == node.pid && r.layer.is_some());
    let renames: u64 = snapshot
        .syscalls
        .iter()
        .filter(|r| r.pid == node.pid && r.name.starts_with("rename"))
        .filter(|r| !layered || r.layer.as_deref() == Some("log_io"))
        .map(|r| r.stats.count)
        .sum();
    let mut truncating = 0u64;
    let mut described = Vec::new();
    for (path, _, trunc) in state_opens(snapshot, node.pid) {
        if trunc == 0 {
            continue;
        }
        let f = files.iter().find(|f| f.path == path);
        let writes = f.map_or(0, |f| f.writes().count);
        let flushes = f.map_or(0, |f| f.flushes().count);
        if writes == 0 || flushes >= trunc || renames >= trunc {
            continue;
        }
        truncating += trunc;
        described.push(format!(
            "{path}: {trunc} truncating opens, {writes} writes, {flushes} fsync/fdatasync"
        ));
    }
    let secs = node.lifetime_s.max(1e-9);
    Measured::Value(
        truncating as f64 / secs,
        if described.is_empty() {
            format!("no raft-state file truncated and rewritten in place ({renames} renames)")
        } else {
            format!("{} ({renames} renames by the node)", described.join("; "))
        },
    )
}
