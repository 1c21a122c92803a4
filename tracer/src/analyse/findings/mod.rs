//! Findings: every key figure of the original script's four tests (network, log & I/O,
//! consensus, disk I/O; listed with their thresholds in the README's findings table), measured
//! on the session and judged against its threshold, with one line of meaning and one of advice.
//!
//! Each figure is evaluated per node where it is a per-node figure (per device / data dir for
//! the disk ones) and always yields a finding: `ok`, `warning`, `info` (a key figure the
//! original names without a threshold, e.g. bytes per flush) or `not_measured` with the reason.
//! Nothing is silently left out, so a reader can tell "fine" from "not looked at".
//!
//! In: a [`Snapshot`]. Out: [`Finding`]s in report order. Never: I/O. Three jobs, three files:
//!
//! - [`thresholds`]: the thresholds as data ([`THRESHOLDS`]), one row per figure;
//! - [`measure`]: the figures, computed from the snapshot (measured, or not with the reason),
//!   using the function patterns of [`functions`];
//! - [`messages`]: the verdict against the threshold and the text a report shows.

use serde::Serialize;

use crate::analyse::roles;
use crate::model::Snapshot;

pub mod functions;
pub mod lifecycle;
pub mod measure;
pub mod messages;
pub mod state_files;
#[cfg(test)]
mod tests;
pub mod thresholds;

pub use functions::{classify_futex, FutexWait};
pub use measure::{is_persister_file, MIN_SAMPLES};
pub use messages::{fmt_value, with_unit};
pub use thresholds::{threshold, Limit, Test, Threshold, THRESHOLDS};

/// Verdict of one finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warning,
    /// A key figure without a threshold: reported with its number, never judged.
    Info,
    NotMeasured,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Info => "info",
            Status::NotMeasured => "not measured",
        }
    }
}

/// One evaluated figure.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub test: Test,
    pub figure: &'static str,
    /// The node (pid) the figure is about; None for run-wide figures (devices).
    pub node: Option<u32>,
    /// What else it is about: a device or data dir.
    pub subject: Option<String>,
    pub status: Status,
    pub value: Option<f64>,
    pub unit: &'static str,
    /// `> 10%`, `< 5%`, or empty without a threshold.
    pub threshold: String,
    /// One line: figure, number, comparison, meaning and advice (or why not measured).
    pub message: String,
    pub meaning: String,
    pub advice: String,
    /// How the number was obtained (samples, counts, seconds).
    pub detail: String,
}

/// Evaluates every figure of [`THRESHOLDS`] on `snapshot`.
pub fn evaluate(snapshot: &Snapshot) -> Vec<Finding> {
    let nodes = roles::nodes(snapshot);
    THRESHOLDS
        .iter()
        .flat_map(|t| {
            measure::measure(snapshot, &nodes, t.id)
                .into_iter()
                .map(move |m| messages::finding(t, m))
        })
        .collect()
}

/// The warnings among `findings`.
pub fn warnings(findings: &[Finding]) -> impl Iterator<Item = &Finding> {
    findings.iter().filter(|f| f.status == Status::Warning)
}
