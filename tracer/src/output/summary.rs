//! `summary.json`: the findings and key figures of a session for scripts and CI, with a
//! versioned schema (`docs/summary-schema.json`). `snapshot.json` holds every measured fact;
//! this file holds the verdicts, so a pipeline can fail on `warnings > 0` without parsing
//! Markdown.

use std::path::Path;

use serde::Serialize;

use crate::analyse::findings::{Finding, Status};
use crate::analyse::roles;
use crate::analyse::{layers, syscalls};
use crate::model::Snapshot;
use crate::output::layout::{self, REPORT_FILE, SNAPSHOT_FILE, SUMMARY_FILE};

/// Version of the summary.json layout; bump it when a field changes meaning.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
pub struct Summary {
    pub schema_version: u32,
    pub run: Run,
    pub nodes: Vec<NodeSummary>,
    pub findings: Vec<FindingSummary>,
    pub warnings: usize,
    pub layers: Vec<LayerFigures>,
    pub lost_events: LostEvents,
    /// Relative paths of the session's files.
    pub links: Vec<String>,
}

#[derive(Serialize)]
pub struct Run {
    pub tracer_version: String,
    /// The host the run traced (`--host-label`); empty for sessions saved before it was kept.
    pub host: String,
    pub started_at: String,
    pub duration_s: f64,
    pub invocation: Vec<String>,
    pub attribution: String,
    pub freq_hz: Option<u64>,
    pub samples: Option<u64>,
    pub notes: Vec<String>,
}

#[derive(Serialize)]
pub struct NodeSummary {
    pub name: String,
    /// The node's host, in a cluster session merged from several hosts (`tracer merge`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub pid: u32,
    pub comm: String,
    pub role: String,
    pub spans: Vec<crate::model::RoleSpan>,
    pub heartbeat_per_s: Option<f64>,
    /// The evidence, when the role was inferred from stacks (no role function probed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_inferred: Option<String>,
    pub exited_at_s: Option<f64>,
    pub flushes: u64,
    pub flushes_per_s: f64,
    pub file_writes: u64,
}

#[derive(Serialize)]
pub struct FindingSummary {
    pub id: String,
    pub test: crate::analyse::findings::Test,
    pub node: Option<u32>,
    pub subject: Option<String>,
    pub status: Status,
    pub value: Option<f64>,
    pub unit: String,
    pub threshold: String,
    pub message: String,
    pub detail: String,
}

#[derive(Serialize)]
pub struct LayerFigures {
    pub name: String,
    pub title: String,
    pub folder: String,
    /// Share of all on-CPU samples attributed to the layer, percent.
    pub cpu_share_pct: f64,
    pub cpu_samples: u64,
    /// Syscalls made inside the layer: calls and seconds.
    pub syscalls: u64,
    pub syscall_s: f64,
    /// Key figures of the layer: finding id → value, for every measured finding of that test
    /// (per node: `id@pid`).
    pub figures: std::collections::BTreeMap<String, f64>,
}

#[derive(Serialize)]
pub struct LostEvents {
    pub total: u64,
    pub by_reason: std::collections::BTreeMap<String, u64>,
}

fn test_of_layer(name: &str) -> Option<crate::analyse::findings::Test> {
    use crate::analyse::findings::Test;
    match name {
        "network" => Some(Test::Network),
        "log_io" => Some(Test::LogIo),
        "consensus" => Some(Test::Consensus),
        "disk" => Some(Test::Disk),
        _ => None,
    }
}

/// Builds the summary; `dir` is the session folder (links are the files found there plus the
/// report, index.html and snapshot.json).
pub fn build(snapshot: &Snapshot, found: &[Finding], dir: &Path) -> Summary {
    let nodes = roles::nodes(snapshot);
    let mut links = Vec::new();
    layout::collect_files(dir, dir, &mut links);
    for f in [REPORT_FILE, layout::INDEX_FILE, SNAPSHOT_FILE] {
        if !links.iter().any(|l| l == f) {
            links.push(f.to_string());
        }
    }
    // Empty files (a layer without samples has an empty .folded) are not worth a link.
    links.retain(|l| l != SUMMARY_FILE && (l == REPORT_FILE || layout::exists(dir, l)));
    links.sort();
    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        run: Run {
            tracer_version: snapshot.tracer_version.clone(),
            host: snapshot.host.clone(),
            started_at: snapshot.started_at.clone(),
            duration_s: snapshot.duration_s,
            invocation: snapshot.invocation.clone(),
            attribution: snapshot.attribution.clone(),
            freq_hz: snapshot.profile.as_ref().map(|p| p.freq_hz),
            samples: snapshot.profile.as_ref().map(|p| p.samples),
            notes: snapshot.notes.clone(),
        },
        nodes: nodes
            .iter()
            .map(|n| {
                let r = roles::of(snapshot, n.pid);
                let d = syscalls::disk_figures(snapshot, &[n.pid]);
                NodeSummary {
                    name: n.name(),
                    host: n.process.host.clone(),
                    pid: n.pid,
                    comm: n.process.comm.clone(),
                    role: n.role.clone(),
                    spans: r.map(|r| r.spans.clone()).unwrap_or_default(),
                    heartbeat_per_s: r.and_then(|r| r.heartbeat_per_s),
                    role_inferred: r.and_then(|r| r.inferred.clone()),
                    exited_at_s: n.process.exited_at_s,
                    flushes: d.flushes,
                    flushes_per_s: d.flushes_per_s,
                    file_writes: d.file_writes,
                }
            })
            .collect(),
        warnings: found.iter().filter(|f| f.status == Status::Warning).count(),
        findings: found
            .iter()
            .map(|f| FindingSummary {
                id: f.id.to_string(),
                test: f.test,
                node: f.node,
                subject: f.subject.clone(),
                status: f.status,
                value: f.value.filter(|v| v.is_finite()),
                unit: f.unit.to_string(),
                threshold: f.threshold.clone(),
                message: f.message.clone(),
                detail: f.detail.clone(),
            })
            .collect(),
        layers: snapshot
            .layers
            .iter()
            .map(|l| {
                let share = layers::cpu_share(snapshot, &l.name, &[]);
                let sys = layers::syscalls_in_layer(snapshot, &l.name, &[]);
                let mut figures = std::collections::BTreeMap::new();
                if let Some(t) = test_of_layer(&l.name) {
                    for f in found.iter().filter(|f| f.test == t) {
                        if let Some(v) = f.value.filter(|v| v.is_finite()) {
                            let key = match (f.node, &f.subject) {
                                (_, Some(s)) => format!("{}@{s}", f.id),
                                (Some(p), None) => format!("{}@{p}", f.id),
                                (None, None) => f.id.to_string(),
                            };
                            figures.insert(key, v);
                        }
                    }
                }
                LayerFigures {
                    name: l.name.clone(),
                    title: l.title.clone(),
                    folder: l.folder.clone(),
                    cpu_share_pct: share.pct,
                    cpu_samples: share.samples,
                    syscalls: sys.iter().map(|(_, s)| s.count).sum(),
                    syscall_s: sys.iter().map(|(_, s)| s.total_ns as f64 / 1e9).sum(),
                    figures,
                }
            })
            .collect(),
        lost_events: LostEvents {
            total: snapshot.drops.values().sum(),
            by_reason: snapshot.drops.clone(),
        },
        links,
    }
}

/// The JSON text of [`build`].
pub fn json(snapshot: &Snapshot, found: &[Finding], dir: &Path) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&build(snapshot, found, dir))?)
}
