//! `index.html`: one page that shows the findings and every flamegraph of the session, with
//! no network access (inline CSS and JS only).
//!
//! Flamegraphs are embedded with `<object data="relative.svg">` rather than inlined: inferno's
//! SVGs carry their own script and element ids, which would clash if several were inlined in
//! one document, and an `<object>` keeps each one interactive (click to zoom, search) from
//! `file://`. A small inline script marks each `<object>` with `data-state="loaded"` (and the
//! number of frames when the browser lets it look inside), so a headless browser test can check
//! that every graph rendered.

use std::fmt::Write as _;
use std::path::Path;

use crate::analyse::findings::{with_unit, Finding, Status};
use crate::analyse::roles;
use crate::model::Snapshot;
use crate::output::layout::{self, REPORT_FILE, SUMMARY_FILE};
use crate::output::{latency_charts, time_split, timeline};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every `.svg` file of the session, relative paths in a stable order (layers, consensus per
/// node, per-node CPU, differential last).
pub fn flamegraphs(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    layout::collect_files(dir, dir, &mut files);
    files.retain(|f| f.ends_with(".svg") && layout::exists(dir, f));
    files.sort();
    files
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;font-size:13px;margin-bottom:1em}\
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}\
tr.warning td{background:#fde2e1}tr.ok td{background:#eaf7ea}tr.info td{background:#eef3fb}\
tr.not_measured td{color:#777}object.fg{width:100%;height:520px;border:1px solid #ccc}\
h2{border-bottom:1px solid #ddd;padding-bottom:3px}section.fg{margin-bottom:2em}";

const SCRIPT: &str = "function fgLoaded(o){o.setAttribute('data-state','loaded');\
try{var d=o.contentDocument;if(d){o.setAttribute('data-frames',String(d.querySelectorAll('g').length));}}\
catch(e){}var n=document.querySelectorAll('object.fg[data-state=loaded]').length;\
document.getElementById('fg-status').textContent=n+' of '+document.querySelectorAll('object.fg').length+' flamegraphs loaded';}\
function fgFailed(o){o.setAttribute('data-state','error');console.error('flamegraph failed to load: '+o.getAttribute('data'));}";

/// The page.
pub fn page(snapshot: &Snapshot, found: &[Finding], dir: &Path) -> String {
    let nodes = roles::nodes(snapshot);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>tracer session {}</title><style>{STYLE}{}{}</style><script>{SCRIPT}</script></head><body>\n",
        esc(&snapshot.started_at),
        time_split::STYLE,
        latency_charts::STYLE
    );
    let warnings = found.iter().filter(|f| f.status == Status::Warning).count();
    let _ = writeln!(
        out,
        "<h1>Targeted performance analysis</h1><p>{} node(s), {:.1} s from {}; \
         <b>{warnings} warning(s)</b>. Full report: <a href=\"{r}\">{r}</a>, \
         data: <a href=\"{s}\">{s}</a>.</p>",
        nodes.len(),
        snapshot.duration_s,
        esc(&snapshot.started_at),
        r = REPORT_FILE,
        s = SUMMARY_FILE
    );
    out.push_str(&time_split::html(snapshot));
    let _ = writeln!(
        out,
        "<h2>Nodes</h2><table><tr><th>node</th><th>pid</th><th>role</th><th>over time</th></tr>"
    );
    for n in &nodes {
        let timeline =
            roles::of(snapshot, n.pid).map_or("no role data".into(), roles::timeline_text);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td></tr>",
            n.name(),
            n.pid,
            esc(&n.role),
            esc(&timeline)
        );
    }
    out.push_str("</table>\n<h2>Findings</h2><table><tr><th>status</th><th>test</th><th>node</th><th>figure</th><th>value</th><th>threshold</th><th>message</th></tr>\n");
    for f in found {
        let node = f
            .node
            .and_then(|p| nodes.iter().find(|n| n.pid == p))
            .map_or("all".into(), |n| format!("{} ({})", n.name(), n.role));
        let subject = f
            .subject
            .as_deref()
            .map(|s| format!(" {s}"))
            .unwrap_or_default();
        let status = match f.status {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Info => "info",
            Status::NotMeasured => "not_measured",
        };
        let _ = writeln!(
            out,
            "<tr class=\"{status}\"><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td></tr>",
            f.status.as_str(),
            f.test.title(),
            esc(&node),
            esc(&subject),
            esc(f.figure),
            f.value.map_or("-".into(), |v| esc(&with_unit(v, f.unit))),
            esc(&f.threshold),
            esc(&f.message),
            esc(&f.detail)
        );
    }
    out.push_str("</table>\n");
    out.push_str(&latency_charts::html(snapshot));
    out.push_str(&timeline::html(snapshot, dir));
    out.push_str("<h2>Flamegraphs</h2><p id=\"fg-status\">flamegraphs loading…</p>\n<ul>");
    let graphs = flamegraphs(dir);
    for (i, g) in graphs.iter().enumerate() {
        let _ = write!(out, "<li><a href=\"#fg{i}\">{}</a></li>", esc(g));
    }
    out.push_str("</ul>\n");
    for (i, g) in graphs.iter().enumerate() {
        let _ = writeln!(
            out,
            "<section class=\"fg\" id=\"fg{i}\"><h3><a href=\"{0}\">{0}</a></h3>\
             <object class=\"fg\" type=\"image/svg+xml\" data=\"{0}\" onload=\"fgLoaded(this)\" \
             onerror=\"fgFailed(this)\">{0}</object></section>",
            esc(g)
        );
    }
    out.push_str("</body></html>\n");
    out
}
