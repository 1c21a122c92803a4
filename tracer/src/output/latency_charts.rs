//! Latency histograms of the probed functions, drawn as small inline SVG bar charts for
//! `index.html` (the `<layer>_functions.txt` files hold the same distributions as text): one
//! chart per function (all nodes together), the most-called first, bars per power of two of
//! the call time, with p50 and p99 marked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{HistScale, Snapshot, Stats};

/// How many functions get a chart.
const CHARTS: usize = 16;
const W: f64 = 360.0;
const H: f64 = 80.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `850 ns`, `12 µs`, `3.1 ms`, `2.0 s`.
fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.3} µs", ns / 1e3)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.1} s", ns / 1e9)
    }
}

/// Calls per power of two of nanoseconds (`2^i ≤ t < 2^(i+1)`), from any bucket layout.
fn log2_counts(st: &Stats) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    for (i, &n) in st.hist.iter().enumerate() {
        // A log2 bucket past 2^62 ns cannot exist (only a malformed snapshot has one).
        if n > 0 && (st.scale != HistScale::Log2 || i < 62) {
            let lo = st.scale.bounds(i).0.max(1.0);
            *out.entry(lo.log2().floor() as u32).or_default() += n;
        }
    }
    out
}

/// One chart.
fn chart(name: &str, st: &Stats) -> String {
    let counts = log2_counts(st);
    let (Some(&first), Some(&last)) = (counts.keys().next(), counts.keys().next_back()) else {
        return String::new();
    };
    let bins = (last - first + 1) as f64;
    let max = counts.values().copied().max().unwrap_or(1).max(1) as f64;
    let bw = W / bins;
    let mut svg = format!(
        "<svg class=\"lat\" width=\"{W}\" height=\"{}\" viewBox=\"0 0 {W} {}\" \
         xmlns=\"http://www.w3.org/2000/svg\">",
        H + 16.0,
        H + 16.0
    );
    for (&b, &n) in &counts {
        let h = (H - 2.0) * n as f64 / max;
        let x = (b - first) as f64 * bw;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#4e79a7\">\
             <title>{} – {}: {n} calls</title></rect>",
            H - h,
            (bw - 1.0).max(1.0),
            time((1u64 << b) as f64),
            time((1u64 << (b + 1)) as f64)
        );
    }
    for (q, colour) in [(0.5, "#59a14f"), (0.99, "#e15759")] {
        let v = st.quantile_ns(q).max(1.0);
        let x = (v.log2() - first as f64) * bw;
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"0\" y2=\"{H}\" stroke=\"{colour}\" \
             stroke-dasharray=\"3,2\"><title>p{} {}</title></line>",
            (q * 100.0) as u32,
            time(v)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"{}\" font-size=\"10\">{}</text><text x=\"{W}\" y=\"{}\" \
         font-size=\"10\" text-anchor=\"end\">{}</text></svg>",
        H + 12.0,
        time((1u64 << first) as f64),
        H + 12.0,
        time((1u64 << (last + 1)) as f64)
    );
    format!(
        "<figure class=\"lat\" data-function=\"{}\"><figcaption><code>{}</code><br><small>{} calls, \
         p50 {}, p99 {}, max {}</small></figcaption>{svg}</figure>",
        esc(name),
        esc(name),
        st.count,
        time(st.quantile_ns(0.5)),
        time(st.quantile_ns(0.99)),
        time(st.max_ns as f64)
    )
}

/// CSS of the charts.
pub const STYLE: &str = "figure.lat{display:inline-block;margin:0 1em 1em 0;vertical-align:top}\
figure.lat figcaption{font-size:12px;max-width:360px;overflow-wrap:anywhere}";

/// The page's section: a chart per probed function with returns (None without any).
pub fn html(snapshot: &Snapshot) -> String {
    let mut by_fn: BTreeMap<&str, Stats> = BTreeMap::new();
    for f in snapshot.functions.iter().filter(|f| f.latency.count > 0) {
        by_fn.entry(&f.function).or_default().merge(&f.latency);
    }
    let mut out = String::from("<h2 id=\"latency\">Probed function latency</h2>\n");
    if by_fn.is_empty() {
        out.push_str(
            "<p>Not measured: no probed function returned during the run (uprobes off, or no \
             function of the profile was called).</p>\n",
        );
        return out;
    }
    let mut fns: Vec<(&str, Stats)> = by_fn.into_iter().collect();
    fns.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let _ = writeln!(
        out,
        "<p>Calls per power of two of their duration, all nodes together (p50 green, p99 red \
         dashed); {} of {} functions, most-called first.</p>",
        fns.len().min(CHARTS),
        fns.len()
    );
    for (name, st) in fns.iter().take(CHARTS) {
        out.push_str(&chart(name, st));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned::Canned;

    #[test]
    fn a_chart_per_function_with_a_bar_per_power_of_two() {
        let mut s = Canned::new(10.0)
            .node(1)
            .function(1, "Raft::doHeartBeat()", "consensus", 10)
            .build();
        // 6 calls of ~1.5 µs and 4 of ~3 ms: two bars.
        let st = &mut s.functions[0].latency;
        st.scale = crate::model::HistScale::Log2;
        st.hist = vec![0; 40];
        st.hist[10] = 6;
        st.hist[21] = 4;
        st.count = 10;
        st.max_ns = 3_000_000;
        let h = html(&s);
        assert_eq!(h.matches("<figure").count(), 1, "{h}");
        assert_eq!(h.matches("<rect").count(), 2, "{h}");
        assert!(h.contains("10 calls"), "{h}");
    }
}
