//! "Where the time goes": the first section of the report and of `index.html`, one bar per
//! node (see [`crate::analyse::time_split`]): its on-CPU samples in each layer, in *no layer*
//! (with the threads and functions there) and in `[tracer]` (tracer's own work on the node's
//! threads, kept out of the node's shares).

use std::fmt::Write as _;

use crate::analyse::time_split::{self, NodeSplit, NO_LAYER, TRACER};
use crate::model::Snapshot;

/// Width of a text bar, in characters.
const BAR: usize = 50;

/// The letter a part is drawn with in a text bar: the layer's initial, `.` for no layer, `#`
/// for tracer.
fn glyph(name: &str) -> char {
    match name {
        NO_LAYER => '.',
        TRACER => '#',
        l => l.chars().next().map_or('?', |c| c.to_ascii_uppercase()),
    }
}

/// The parts of a node's bar over *all* its samples, tracer's included, in drawing order.
fn bar_parts(s: &NodeSplit) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = s
        .parts
        .iter()
        .map(|p| (p.name.as_str(), p.samples))
        .collect();
    v.push((TRACER, s.tracer_samples));
    v
}

/// `CCCCNN.........###`: each part gets characters in proportion to its samples (largest
/// remainders, so the bar is always [`BAR`] wide and a part with samples shows at least once
/// if any room is left).
fn text_bar(s: &NodeSplit) -> String {
    let parts = bar_parts(s);
    let total: u64 = parts.iter().map(|p| p.1).sum();
    if total == 0 {
        return String::new();
    }
    let exact: Vec<f64> = parts
        .iter()
        .map(|p| p.1 as f64 * BAR as f64 / total as f64)
        .collect();
    let mut widths: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut left = BAR - widths.iter().sum::<usize>();
    for i in order {
        if left == 0 {
            break;
        }
        if exact[i] > widths[i] as f64 {
            widths[i] += 1;
            left -= 1;
        }
    }
    parts
        .iter()
        .zip(widths)
        .map(|((name, _), w)| glyph(name).to_string().repeat(w))
        .collect()
}

/// The report's section.
pub fn markdown(snapshot: &Snapshot) -> String {
    let mut out = String::from("## Where the time goes\n\n");
    let Some(splits) = time_split::split(snapshot) else {
        out.push_str("Not measured: stack sampling was off (--no-sample).\n\n");
        return out;
    };
    out.push_str(
        "On-CPU samples of each node. Layer and *no layer* shares are of the node's own \
         samples; `[tracer]` is tracer's own work on the node's threads (its BPF programs on \
         syscalls, uprobe handling), as a share of all the node's samples, kept out of the other \
         shares and of the findings.\n\n",
    );
    let layers: Vec<&str> = snapshot.layers.iter().map(|l| l.name.as_str()).collect();
    let _ = write!(out, "| node | samples | bar |");
    for l in &layers {
        let _ = write!(out, " {l} |");
    }
    let _ = writeln!(out, " {NO_LAYER} | {TRACER} |");
    let _ = writeln!(
        out,
        "|---|---:|---|{}---:|---:|",
        "---:|".repeat(layers.len())
    );
    for s in &splits {
        let _ = write!(
            out,
            "| {} ({}) | {} | `{}` |",
            s.name,
            s.role,
            s.samples,
            text_bar(s)
        );
        for p in &s.parts {
            let _ = write!(out, " {:.1}% |", p.pct);
        }
        let _ = writeln!(out, " {:.1}% |", s.tracer.pct);
    }
    let legend: Vec<String> = layers
        .iter()
        .map(|l| format!("`{}` {l}", glyph(l)))
        .chain([format!("`.` {NO_LAYER}"), format!("`#` {TRACER}")])
        .collect();
    let _ = writeln!(out, "\nBar: {}.", legend.join(", "));
    out.push('\n');
    for s in splits.iter().filter(|s| !s.no_layer_threads.is_empty()) {
        let list = |v: &[(String, f64)]| {
            v.iter()
                .map(|(n, p)| format!("`{}` {p:.1}%", n.replace('`', "'")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "- {} ({}), in no layer: threads {}; functions (self) {}",
            s.name,
            s.role,
            list(&s.no_layer_threads),
            list(&s.no_layer_functions)
        );
    }
    if splits.iter().any(|s| !s.no_layer_threads.is_empty()) {
        out.push('\n');
    }
    out
}

/// Colours of the parts in `index.html`: layers in profile order, then no layer, then tracer.
const COLOURS: &[&str] = &[
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2",
];
const NO_LAYER_COLOUR: &str = "#c9c9c9";
const TRACER_COLOUR: &str = "#e15759";

fn colour(i: usize, name: &str) -> &'static str {
    match name {
        NO_LAYER => NO_LAYER_COLOUR,
        TRACER => TRACER_COLOUR,
        _ => COLOURS[i % COLOURS.len()],
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// CSS of the bars (added to the page's style sheet).
pub const STYLE: &str = ".tbar{display:flex;width:640px;height:22px;border:1px solid #999}\
.tbar div{height:100%}.tleg span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;\
vertical-align:middle}td.bar{padding:4px}";

/// The page's section: a stacked bar per node (`div`s sized in percent, each titled with its
/// part, samples and share) and a legend.
pub fn html(snapshot: &Snapshot) -> String {
    let mut out = String::from("<h2 id=\"time\">Where the time goes</h2>\n");
    let Some(splits) = time_split::split(snapshot) else {
        out.push_str("<p>Not measured: stack sampling was off (--no-sample).</p>\n");
        return out;
    };
    out.push_str(
        "<p>On-CPU samples of each node. Layer and <i>no layer</i> shares are of the node's own \
         samples; <b>[tracer]</b> is tracer's own work on the node's threads (BPF programs, \
         uprobe handling), as a share of all its samples, kept out of the other shares.</p>\n\
         <table><tr><th>node</th><th>samples</th><th>on-CPU time</th><th>no layer: threads, \
         functions</th></tr>\n",
    );
    for s in &splits {
        let parts = bar_parts(s);
        let total: u64 = parts.iter().map(|p| p.1).sum();
        let _ = write!(
            out,
            "<tr><td>{} ({})</td><td>{}</td><td class=\"bar\"><div class=\"tbar\" data-pid=\"{}\">",
            esc(&s.name),
            esc(&s.role),
            s.samples,
            s.pid
        );
        for (i, (name, n)) in parts.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let share = if *name == TRACER {
                s.tracer.pct
            } else {
                s.parts[i].pct
            };
            let _ = write!(
                out,
                "<div class=\"part\" data-part=\"{n_}\" style=\"width:{w:.3}%;background:{c}\" \
                 title=\"{n_}: {n} samples, {share:.1}%\"></div>",
                n_ = esc(name),
                w = 100.0 * *n as f64 / total.max(1) as f64,
                c = colour(i, name)
            );
        }
        let names = |v: &[(String, f64)]| {
            v.iter()
                .map(|(n, p)| format!("{} {p:.1}%", esc(n)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "</div></td><td><small>{}<br>{}</small></td></tr>",
            names(&s.no_layer_threads),
            names(&s.no_layer_functions)
        );
    }
    out.push_str("</table>\n<p class=\"tleg\">");
    let names: Vec<&str> = snapshot
        .layers
        .iter()
        .map(|l| l.name.as_str())
        .chain([NO_LAYER, TRACER])
        .collect();
    for (i, n) in names.iter().enumerate() {
        let _ = write!(
            out,
            "<span style=\"background:{}\"></span>{}",
            colour(i, n),
            esc(n)
        );
    }
    out.push_str("</p>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned::Canned;

    fn run() -> Snapshot {
        Canned::new(10.0)
            .node(1)
            .samples(1, "rpc", &["Raft::AppendEntries1()"], 30)
            .samples(1, "sched", &["Scheduler::run()"], 50)
            .samples(1, "sched", &["x", "bpf_prog_1_on_sys_enter_[k]"], 20)
            .build()
    }

    #[test]
    fn the_text_bar_is_proportional_and_full_width() {
        let s = &time_split::split(&run()).unwrap()[0];
        let bar = text_bar(s);
        assert_eq!(bar.chars().count(), BAR);
        assert_eq!(bar.matches('C').count(), 15, "{bar}");
        assert_eq!(bar.matches('.').count(), 25, "{bar}");
        assert_eq!(bar.matches('#').count(), 10, "{bar}");
        let md = markdown(&run());
        assert!(md.contains("| 20.0% |"), "{md}");
        assert!(md.contains("threads `sched` 62.5%"), "{md}");
    }

    #[test]
    fn the_html_bar_has_a_part_per_non_empty_share() {
        let h = html(&run());
        assert_eq!(h.matches("class=\"part\"").count(), 3, "{h}");
        assert!(
            h.contains("data-part=\"[tracer]\" style=\"width:20.000%"),
            "{h}"
        );
    }
}
