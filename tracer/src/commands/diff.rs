//! `tracer diff A B`: what changed between two sessions' CPU profiles, as a differential
//! flamegraph (inferno's `difffolded` + flamegraph: red grew, blue shrank) and the functions
//! whose share moved most.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analyse::cpu::{self, FoldOptions};
use crate::model::Snapshot;
use crate::output::owner::Owner;
use crate::output::session_dir::{self, SessionDir};
use crate::output::{flamegraph, session_folder};

/// The differential flamegraph's name in the AFTER session without `-o`.
pub const DIFF_FILE: &str = "diff_flamegraph.svg";

/// Folded lines of every node of a session. Node pids differ between sessions, so nodes are
/// merged under their thread names, which stay the same.
fn folded_all(s: &Snapshot) -> Result<Vec<String>> {
    let Some(p) = &s.profile else {
        bail!("the session has no CPU profile (it was recorded with --no-sample)");
    };
    Ok(cpu::folded(
        &p.stacks,
        &FoldOptions {
            node_label: None,
            group_thread_digits: true,
        },
    ))
}

/// Total % per function of a session.
fn shares(s: &Snapshot) -> BTreeMap<String, f64> {
    s.profile
        .as_ref()
        .map(|p| {
            cpu::symbol_costs(&p.stacks)
                .symbols
                .into_iter()
                .map(|c| (c.symbol, c.total_pct))
                .collect()
        })
        .unwrap_or_default()
}

/// Writes the differential flamegraph of `before` → `after` and returns its path and a text
/// summary of the largest changes.
pub fn diff(before: &Path, after: &Path, output: Option<PathBuf>) -> Result<(PathBuf, String)> {
    let owner = Owner::invoking();
    let a = session_folder::load_snapshot(before)?;
    let after_dir = SessionDir::open(after, owner)?;
    let b = session_folder::load_snapshot_from(&after_dir)?;
    let title = format!("{} → {}", before.display(), after.display());
    let (svg, text) = compare(&a, &b, &title)
        .with_context(|| format!("comparing {} with {}", before.display(), after.display()))?;
    // Written like a session's files: never through a symlink, handed to the sudo user.
    let out = match output {
        Some(path) => {
            session_dir::write_file(&path, svg.as_bytes(), owner)?;
            path
        }
        None => after_dir.write(DIFF_FILE, svg.as_bytes())?,
    };
    Ok((out, text))
}

/// The differential flamegraph (SVG) of `a` → `b` and the text of the largest changes.
pub fn compare(a: &Snapshot, b: &Snapshot, title: &str) -> Result<(String, String)> {
    let fa = folded_all(a).context("the session before")?;
    let fb = folded_all(b).context("the session after")?;
    let svg = flamegraph::diff_svg(&fa, &fb, title)?;
    let (sa, sb) = (shares(a), shares(b));
    let mut changes: Vec<(String, f64, f64)> = sa
        .keys()
        .chain(sb.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|k| {
            let x = sa.get(k).copied().unwrap_or(0.0);
            let y = sb.get(k).copied().unwrap_or(0.0);
            (k.clone(), x, y)
        })
        .collect();
    changes.sort_by(|l, r| (r.2 - r.1).abs().total_cmp(&(l.2 - l.1).abs()));
    let mut text = String::from("largest changes in total % of samples (before → after):\n");
    for (name, x, y) in changes.iter().take(10) {
        let _ = writeln!(text, "  {x:6.1}% → {y:6.1}%  ({:+.1})  {name}", y - x);
    }
    Ok((svg, text))
}
