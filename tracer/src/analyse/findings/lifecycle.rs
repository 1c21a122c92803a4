//! Figures about the node as a process: memory growth (RSS sampled over the run), thread
//! churn (threads created per second, with where) and crashes (fatal signals, with the
//! crashing thread's last user stack). Measured, or not with the reason; judged elsewhere.

use super::measure::Measured;
use crate::analyse::roles;
use crate::model::{ProcessExit, Snapshot};

/// Fewest RSS samples, and shortest span, a growth rate is computed from.
const MIN_RSS_SAMPLES: usize = 5;
const MIN_RSS_SPAN_S: f64 = 4.0;

/// Signals whose default action dumps core (`man 7 signal`, "Core"): crashes. Others that
/// end a process (SIGTERM, SIGINT, SIGHUP, SIGKILL...) are someone stopping it.
pub const CRASH_SIGNALS: &[&str] = &[
    "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGSEGV", "SIGSYS", "SIGXCPU",
    "SIGXFSZ",
];

/// Least-squares slope of y over x and the fit's R² (None with < 2 distinct x).
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let r2 = if syy > 0.0 {
        sxy * sxy / (sxx * syy)
    } else {
        1.0
    };
    Some((sxy / sxx, r2))
}

const MIB: f64 = 1024.0 * 1024.0;

/// Resident memory growth of a node in MiB per minute: the least-squares slope of its RSS
/// samples, with how steady it is (R²) and when, at that rate, its headroom runs out.
pub fn memory_growth(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    let Some(all) = &snapshot.memory else {
        return Measured::NotMeasured("RSS was not sampled (a session of an older tracer)".into());
    };
    let Some(series) = all.iter().find(|m| m.pid == node.pid) else {
        return Measured::NotMeasured("no RSS sample of this process (gone at once?)".into());
    };
    let s = &series.samples;
    let span = s.last().map_or(0.0, |l| l.0) - s.first().map_or(0.0, |f| f.0);
    if s.len() < MIN_RSS_SAMPLES || span < MIN_RSS_SPAN_S {
        return Measured::NotMeasured(format!(
            "{} RSS samples over {span:.1} s (need ≥ {MIN_RSS_SAMPLES} over ≥ {MIN_RSS_SPAN_S:.0} s)",
            s.len()
        ));
    }
    let points: Vec<(f64, f64)> = s.iter().map(|(t, b)| (*t, *b as f64)).collect();
    let Some((bytes_per_s, r2)) = fit(&points) else {
        return Measured::NotMeasured("RSS samples all at one instant".into());
    };
    let per_min = bytes_per_s * 60.0 / MIB;
    let (first, last) = (s[0].1 as f64 / MIB, s[s.len() - 1].1 as f64 / MIB);
    let projection = match (&series.headroom_bytes, bytes_per_s > 0.0) {
        (Some(room), true) => format!(
            "; at this rate {} ({:.0} MiB left) is used up in {}",
            series.headroom_source,
            *room as f64 / MIB,
            fmt_minutes(*room as f64 / bytes_per_s / 60.0)
        ),
        _ => String::new(),
    };
    Measured::Value(
        per_min,
        format!(
            "RSS {first:.1} → {last:.1} MiB over {span:.1} s, {} samples, fit R² {r2:.2} \
             ({}){projection}",
            s.len(),
            if r2 >= 0.8 { "steady" } else { "not steady" }
        ),
    )
}

fn fmt_minutes(m: f64) -> String {
    if m >= 120.0 {
        format!("{:.1} h", m / 60.0)
    } else if m >= 1.0 {
        format!("{m:.0} min")
    } else {
        format!("{:.0} s", m * 60.0)
    }
}

/// Threads a node created per second of its lifetime, with the busiest creating sites.
pub fn thread_churn(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    let Some(all) = &snapshot.threads_created else {
        return Measured::NotMeasured(
            "thread creation was not recorded (a session of an older tracer)".into(),
        );
    };
    let mut sites: Vec<_> = all.iter().filter(|t| t.pid == node.pid).collect();
    sites.sort_by_key(|t| std::cmp::Reverse(t.count));
    let total: u64 = sites.iter().map(|t| t.count).sum();
    let secs = node.lifetime_s.max(1e-9);
    let top: Vec<String> = sites
        .iter()
        .take(3)
        .map(|t| {
            format!(
                "{} by `{}` at {}",
                t.count,
                t.thread,
                call_site(&t.frames).unwrap_or_else(|| "an unknown stack".into())
            )
        })
        .collect();
    Measured::Value(
        total as f64 / secs,
        if total == 0 {
            format!("no thread created in {secs:.1} s")
        } else {
            format!("{total} threads created in {secs:.1} s: {}", top.join("; "))
        },
    )
}

/// The caller that asked for a thread: the innermost frames above the thread library
/// (`std::thread`, `pthread_create`, `clone`), as `f ← caller`.
pub fn call_site(frames: &[String]) -> Option<String> {
    let is_plumbing = |f: &str| {
        let f = f.to_ascii_lowercase();
        f.contains("clone")
            || f.contains("pthread_create")
            || f.starts_with("std::thread")
            || f.starts_with("[unknown")
            || f.contains("libc.so")
            || f.contains("__gthread")
            || f.contains("std::__invoke")
    };
    let own: Vec<&String> = frames
        .iter()
        .rev()
        .filter(|f| !is_plumbing(f))
        .take(2)
        .collect();
    match own.as_slice() {
        [] => None,
        [f] => Some(format!("`{f}`")),
        [f, caller, ..] => Some(format!("`{f}` ← `{caller}`")),
    }
}

/// The node's crashes: fatal signals that dump core, with when, which thread and where.
pub fn crashes(snapshot: &Snapshot, node: &roles::Node) -> Measured {
    let Some(all) = &snapshot.exits else {
        return Measured::NotMeasured(
            "how processes ended was not recorded (a session of an older tracer)".into(),
        );
    };
    let exits: Vec<&ProcessExit> = all.iter().filter(|e| e.pid == node.pid).collect();
    let crashes: Vec<&&ProcessExit> = exits
        .iter()
        .filter(|e| {
            e.signal
                .as_deref()
                .is_some_and(|s| CRASH_SIGNALS.contains(&s))
        })
        .collect();
    let detail = if exits.is_empty() {
        match node.process.exited_at_s {
            Some(t) => {
                format!("exited at {t:.1} s without exit call or fatal signal seen (SIGKILL?)")
            }
            None => "ran until the end of tracing".into(),
        }
    } else {
        exits
            .iter()
            .map(|e| describe_exit(e))
            .collect::<Vec<_>>()
            .join("; ")
    };
    Measured::Value(crashes.len() as f64, detail)
}

/// `killed by SIGSEGV at 2.31 s in thread applier (tid 123), last user frames:
/// Raft::debugPrint ← Raft::applier ← …` or `exit code 1 at 4.00 s (thread main)`.
pub fn describe_exit(e: &ProcessExit) -> String {
    let mut s = format!(
        "{} at {:.2} s in thread {} (tid {})",
        e.how(),
        e.at_s,
        e.thread,
        e.tid
    );
    if e.signal.is_some() {
        if e.frames.is_empty() {
            s.push_str(", no user stack");
        } else {
            let leaf_first: Vec<&str> = e.frames.iter().rev().take(6).map(|f| f.as_str()).collect();
            s.push_str(&format!(", last user frames: {}", leaf_first.join(" ← ")));
        }
    }
    s
}
