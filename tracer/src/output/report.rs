//! `TARGETED_PERF_ANALYSIS_REPORT.md`: the consolidated report of the original script, in the
//! same order a reader of it expects — run, where each node's CPU time goes, nodes and roles,
//! the findings table, then one section per original test (network, log & I/O, consensus, disk
//! I/O), the per-thread view, and how complete the data is.
//!
//! Every artefact is a relative link, and a link is only written when its file exists and is
//! not empty in the session folder (the report is rendered after everything it links), so the
//! report never points at nothing.

use std::fmt::Write as _;
use std::path::Path;

use crate::analyse::findings::{Finding, Status, Test};
use crate::analyse::roles::{self, Node};
use crate::analyse::{cpu, layers, syscalls, threads};
use crate::model::Snapshot;
use crate::output::layout::{
    self, collect_files, exists, CPU_DIR, DISK_DIR, INDEX_FILE, OFFCPU_SVG, REPORT_FILE,
    SNAPSHOT_FILE, SUMMARY_FILE, WRITTEN_LATER,
};
use crate::output::{
    consensus_files, cpu_profile, disk_files, log_io_files, strace_table, time_split,
};

/// `[text](rel)` when the file exists, else the plain text.
fn link(dir: &Path, rel: &str, text: &str) -> String {
    if exists(dir, rel) {
        format!("[{text}]({rel})")
    } else {
        text.to_string()
    }
}

/// Markdown table cell: pipes escaped, newlines flattened.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn node_cell(nodes: &[Node], pid: Option<u32>) -> String {
    match pid {
        None => "all".into(),
        Some(pid) => nodes.iter().find(|n| n.pid == pid).map_or_else(
            || format!("pid {pid}"),
            |n| format!("{} ({})", n.name(), n.role),
        ),
    }
}

/// The whole report.
pub fn markdown(snapshot: &Snapshot, found: &[Finding], dir: &Path) -> String {
    let nodes = roles::nodes(snapshot);
    let mut out = String::new();
    run_section(&mut out, snapshot, found, dir);
    out.push_str(&time_split::markdown(snapshot));
    nodes_section(&mut out, snapshot, &nodes, dir);
    findings_section(&mut out, found, &nodes);
    network_section(&mut out, snapshot, found, &nodes, dir);
    log_io_section(&mut out, snapshot, found, &nodes, dir);
    consensus_section(&mut out, snapshot, found, &nodes, dir);
    disk_section(&mut out, snapshot, found, &nodes, dir);
    threads_section(&mut out, snapshot, &nodes, dir);
    completeness_section(&mut out, snapshot, dir);
    files_section(&mut out, dir);
    out
}

fn run_section(out: &mut String, s: &Snapshot, found: &[Finding], dir: &Path) {
    let warnings = found.iter().filter(|f| f.status == Status::Warning).count();
    let lost: u64 = s.drops.values().sum();
    let _ = writeln!(out, "# Targeted performance analysis report\n");
    let _ = writeln!(
        out,
        "Traced {} process(es) for {:.1} s from {} with `{}` (tracer {}).\n",
        s.processes.len(),
        s.duration_s,
        s.started_at,
        s.invocation.join(" "),
        s.tracer_version
    );
    let sampling = match &s.profile {
        Some(p) => format!("{} on-CPU samples at {} Hz", p.samples, p.freq_hz),
        None => "no stack sampling".into(),
    };
    let _ = writeln!(
        out,
        "- {warnings} warning(s) among {} findings; {sampling}; layer attribution: {}; lost events: {lost}",
        found.len(),
        if s.attribution.is_empty() { "-" } else { &s.attribution }
    );
    let _ = writeln!(
        out,
        "- Machine-readable: {}; interactive page: {}; raw data: {}\n",
        link(dir, SUMMARY_FILE, SUMMARY_FILE),
        link(dir, INDEX_FILE, INDEX_FILE),
        link(dir, SNAPSHOT_FILE, SNAPSHOT_FILE)
    );
}

fn nodes_section(out: &mut String, s: &Snapshot, nodes: &[Node], dir: &Path) {
    let _ = writeln!(out, "## Nodes and roles\n");
    let _ = writeln!(
        out,
        "| node | pid | role | role over time | heartbeat/s | exited | syscalls | CPU flamegraph |"
    );
    let _ = writeln!(out, "|---|---:|---|---|---:|---|---|---|");
    for n in nodes {
        let r = roles::of(s, n.pid);
        let timeline = r.map_or("no role data".into(), roles::timeline_text);
        let hb = r
            .and_then(|r| r.heartbeat_per_s)
            .map_or("-".into(), |h| format!("{h:.1}"));
        let exited = n
            .process
            .exited_at_s
            .map_or("no".into(), |t| format!("at {t:.1} s"));
        let strace = format!("{}/{}", DISK_DIR, layout::strace_file(n.process));
        let fg = layout::node_files(n.process).svg;
        let _ = writeln!(
            out,
            "| {} | {} | **{}** | {} | {hb} | {exited} | {} | {} |",
            n.name(),
            n.pid,
            n.role,
            timeline,
            link(dir, &strace, "strace -c"),
            link(dir, &fg, "flamegraph")
        );
    }
    let inferred: Vec<String> = nodes
        .iter()
        .filter_map(|n| {
            let why = roles::of(s, n.pid)?.inferred.as_deref()?;
            Some(format!("- {} ({}): {why}", n.name(), n.role))
        })
        .collect();
    if !inferred.is_empty() {
        let _ = writeln!(
            out,
            "\nRoles inferred without probes (no role function was probed):\n\n{}",
            inferred.join("\n")
        );
    }
    let changes = roles::all_changes(s);
    if changes.is_empty() {
        let _ = writeln!(out, "\nRole changes: none seen.\n");
    } else {
        let _ = writeln!(out, "\nRole changes:\n");
        for c in changes {
            let _ = writeln!(
                out,
                "- at {:.1} s: {} {} → {}",
                c.at_s,
                node_cell(nodes, Some(c.pid)),
                c.from,
                c.to
            );
        }
        out.push('\n');
    }
}

fn findings_section(out: &mut String, found: &[Finding], nodes: &[Node]) {
    let _ = writeln!(out, "## Findings\n");
    let warnings: Vec<&Finding> = found
        .iter()
        .filter(|f| f.status == Status::Warning)
        .collect();
    if warnings.is_empty() {
        let _ = writeln!(out, "No warnings.\n");
    } else {
        for f in &warnings {
            let _ = writeln!(out, "- **{}**: {}", node_cell(nodes, f.node), f.message);
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "| status | test | node | figure | value | threshold | meaning / advice | measured from |"
    );
    let _ = writeln!(out, "|---|---|---|---|---:|---|---|---|");
    for f in found {
        let value = f.value.map_or("-".into(), |v| {
            crate::analyse::findings::with_unit(v, f.unit)
        });
        let subject = f
            .subject
            .as_deref()
            .map(|s| format!(" `{s}`"))
            .unwrap_or_default();
        let meaning = if f.advice.is_empty() {
            f.meaning.clone()
        } else {
            format!("{} — {}", f.meaning, f.advice)
        };
        let status = match f.status {
            Status::Warning => "**warning**",
            other => other.as_str(),
        };
        let _ = writeln!(
            out,
            "| {status} | {} | {}{subject} | {} | {value} | {} | {} | {} |",
            f.test.title(),
            node_cell(nodes, f.node),
            f.figure,
            cell(&f.threshold),
            cell(&meaning),
            cell(&f.detail)
        );
    }
    let _ = writeln!(
        out,
        "\n`m_mtx` lock wait = thread-seconds the node's threads spent blocked in futex waits on a \
         mutex (innermost lock frame `pthread_mutex_lock`/`__lll_lock_wait`, not a \
         condition-variable wait) under Raft code (a `Raft::` frame or inside the consensus \
         layer), per second of the node's lifetime, in percent. Shares of on-CPU time are the \
         share of the node's samples whose stack contains the function. `info` rows are key \
         figures the original names without a threshold.\n"
    );
}

fn findings_of(found: &[Finding], test: Test) -> impl Iterator<Item = &Finding> {
    found.iter().filter(move |f| f.test == test)
}

fn short_list(out: &mut String, found: &[Finding], test: Test, nodes: &[Node]) {
    for f in findings_of(found, test) {
        let _ = writeln!(
            out,
            "- {} — {}: {}",
            f.status.as_str(),
            node_cell(nodes, f.node),
            f.message
        );
    }
    out.push('\n');
}

fn layer_links(dir: &Path, folder: &str, files: &[(&str, &str)]) -> String {
    files
        .iter()
        .filter(|(f, _)| exists(dir, &format!("{folder}/{f}")))
        .map(|(f, text)| link(dir, &format!("{folder}/{f}"), text))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn network_section(out: &mut String, s: &Snapshot, found: &[Finding], nodes: &[Node], dir: &Path) {
    let _ = writeln!(out, "## 1. Network layer\n");
    let Some(folder) = layout::layer_folder(s, "network") else {
        let _ = writeln!(out, "The layer profile has no `network` layer.\n");
        return;
    };
    let _ = writeln!(
        out,
        "{}\n",
        layer_links(
            dir,
            &folder,
            &[
                ("network_flamegraph.svg", "flamegraph"),
                ("network_perf_report.txt", "perf report"),
                ("network_hotspots.txt", "hotspots (top 30)"),
                ("network_functions.txt", "RPC function latency"),
                ("network_shares.txt", "send/recv share"),
                ("network_syscalls.txt", "syscalls in the layer"),
            ]
        )
    );
    short_list(out, found, Test::Network, nodes);
    rpc_latency(out, s, "network");
    if s.profile.is_some() {
        let costs = cpu::symbol_costs(layers::stacks_in_layer(s, "network"));
        let _ = writeln!(out, "Top network-layer functions (all nodes):\n");
        top_table(out, &costs, 10);
    }
}

fn rpc_latency(out: &mut String, s: &Snapshot, layer: &str) {
    let mut rows: Vec<_> = layers::functions_in_layer(s, layer).collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| a.pid.cmp(&b.pid).then(b.entries.cmp(&a.entries)));
    let _ = writeln!(out, "| pid | function | object | calls | p50 µs | p99 µs |");
    let _ = writeln!(out, "|---:|---|---|---:|---:|---:|");
    for f in rows.iter().take(20) {
        let (p50, p99) = if f.returns == 0 {
            ("-".to_string(), "-".to_string())
        } else {
            (
                format!("{:.1}", f.latency.quantile_ns(0.5) / 1e3),
                format!("{:.1}", f.latency.quantile_ns(0.99) / 1e3),
            )
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {p50} | {p99} |",
            f.pid,
            cell(&short_name(&f.function)),
            cell(f.object_name()),
            f.entries
        );
    }
    out.push('\n');
}

/// `Persister::saveRaftState(std::string const&)` → `Persister::saveRaftState(…)`.
fn short_name(f: &str) -> String {
    match f.find('(') {
        Some(i) if f.len() > 60 => format!("{}(…)", &f[..i]),
        _ => f.to_string(),
    }
}

fn top_table(out: &mut String, costs: &cpu::SymbolCosts, n: usize) {
    let _ = writeln!(out, "| function | self % | total % |");
    let _ = writeln!(out, "|---|---:|---:|");
    for c in cpu::top_by_self(costs, n) {
        let _ = writeln!(
            out,
            "| `{}` | {:.1} | {:.1} |",
            cell(&short_name(&c.symbol)),
            c.self_pct,
            c.total_pct
        );
    }
    out.push('\n');
}

fn log_io_section(out: &mut String, s: &Snapshot, found: &[Finding], nodes: &[Node], dir: &Path) {
    let _ = writeln!(out, "## 2. Log & I/O layer\n");
    if let Some(folder) = layout::layer_folder(s, "log_io") {
        let _ = writeln!(
            out,
            "{}\n",
            layer_links(
                dir,
                &folder,
                &[
                    ("log_io_flamegraph.svg", "flamegraph"),
                    ("log_io_perf_report.txt", "perf report"),
                    ("log_io_functions.txt", "Persister save/read latency"),
                    ("write_fsync_files.txt", "write/fsync per file"),
                    ("iostat_during_test.txt", "iostat"),
                    ("persister_analysis.txt", "persister analysis"),
                    ("log_io_syscalls.txt", "syscalls in the layer"),
                ]
            )
        );
    }
    short_list(out, found, Test::LogIo, nodes);
    short_list(out, found, Test::Durability, nodes);
    rpc_latency(out, s, "log_io");
    let _ = writeln!(out, "| node | file | writes | bytes | flushes |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for n in nodes {
        for f in syscalls::files(s, &[n.pid]).iter().take(5) {
            let w = f.writes();
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} |",
                n.name(),
                cell(&f.path),
                w.count,
                w.bytes,
                f.flushes().count
            );
        }
    }
    out.push('\n');
    if s.disk.as_ref().is_some_and(|d| !d.devices.is_empty()) {
        let _ = writeln!(out, "```\n{}```\n", log_io_files::iostat_text(s));
    }
}

fn consensus_section(
    out: &mut String,
    s: &Snapshot,
    found: &[Finding],
    nodes: &[Node],
    dir: &Path,
) {
    let _ = writeln!(out, "## 3. Consensus layer\n");
    if let Some(folder) = layout::layer_folder(s, "consensus") {
        for n in nodes {
            let (svg, report) = layout::consensus_node_files(&folder, n);
            let _ = writeln!(
                out,
                "- {}: {} · {}",
                n.title(),
                link(dir, &svg, "flamegraph"),
                link(dir, &report, "report")
            );
        }
        let _ = writeln!(
            out,
            "- all nodes: {} · {} · {}\n",
            link(
                dir,
                &format!("{folder}/consensus_flamegraph.svg"),
                "flamegraph"
            ),
            link(
                dir,
                &format!("{folder}/consensus_hotspots.txt"),
                "hotspots and leader/follower differences"
            ),
            link(
                dir,
                &format!("{folder}/consensus_functions.txt"),
                "function latency"
            )
        );
    }
    short_list(out, found, Test::Consensus, nodes);
    let _ = writeln!(
        out,
        "Leader vs follower (share of all samples of the nodes in each role, biggest differences):\n\n```\n{}```\n",
        consensus_files::leader_follower_diff(s, nodes, 10)
    );
}

fn disk_section(out: &mut String, s: &Snapshot, found: &[Finding], nodes: &[Node], dir: &Path) {
    let _ = writeln!(out, "## 4. Disk I/O\n");
    let disk = layout::layer_folder(s, "disk").unwrap_or_else(|| DISK_DIR.into());
    let mut links: Vec<String> = nodes
        .iter()
        .map(|n| {
            link(
                dir,
                &format!("{}/{}", DISK_DIR, layout::strace_file(n.process)),
                &format!("strace -c {}", n.name()),
            )
        })
        .collect();
    for (f, t) in [
        ("syscall_analysis.txt", "syscall analysis"),
        ("strace_all.txt", "all nodes"),
        ("iotop_nodes.txt", "iotop"),
        ("disk_before.txt", "disk before"),
        ("disk_after.txt", "disk after"),
    ] {
        let d = if f.starts_with("strace") || f.starts_with("syscall") {
            DISK_DIR.to_string()
        } else {
            disk.clone()
        };
        let rel = format!("{d}/{f}");
        if exists(dir, &rel) {
            links.push(link(dir, &rel, t));
        }
    }
    let _ = writeln!(out, "{}\n", links.join(" · "));
    short_list(out, found, Test::Disk, nodes);
    let _ = writeln!(
        out,
        "| node | fsync+fdatasync | per s | mean | p99 | writes/flush | flush share of syscall time |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for n in nodes {
        let d = syscalls::disk_figures(s, &[n.pid]);
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} µs | {:.1} µs | {} | {:.1}% |",
            n.name(),
            d.flushes,
            d.flushes_per_s,
            d.mean_flush_us,
            d.p99_flush_us,
            d.writes_per_flush
                .map_or("n/a".into(), |x| format!("{x:.1}")),
            d.flush_time_share_pct
        );
    }
    out.push('\n');
    if s.disk.as_ref().is_some_and(|d| !d.processes.is_empty()) {
        let _ = writeln!(out, "```\n{}```\n", disk_files::iotop_text(s, nodes));
    }
}

fn threads_section(out: &mut String, s: &Snapshot, nodes: &[Node], dir: &Path) {
    let _ = writeln!(out, "## Threads\n");
    let _ = writeln!(
        out,
        "CPU samples and blocked (off-CPU) time per thread name; numbered short-lived threads \
         are grouped (`hb-send-*`, with the number of names in brackets). Blocked time is \
         time asleep (S or D state); a thread preempted while runnable is not counted as \
         blocked, and that wait for a CPU is not measured.\n"
    );
    let _ = writeln!(
        out,
        "| node | thread | CPU samples | CPU % of node | CPU s | blocked s | futex s | other blocked s |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    let offcpu_missing = s.offcpu_missing();
    // Blocked seconds not collected are "not measured", never 0.
    let secs = |v: f64| match offcpu_missing {
        Some(_) => "not measured".to_string(),
        None => format!("{v:.2}"),
    };
    for n in nodes {
        for r in threads::rows(s, n.pid) {
            let name = if r.names > 1 {
                format!("{} [{}]", r.thread, r.names)
            } else {
                r.thread.clone()
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {:.1} | {:.2} | {} | {} | {} |",
                n.name(),
                cell(&name),
                r.cpu_samples,
                r.cpu_pct,
                r.cpu_s,
                secs(r.offcpu_s),
                secs(r.futex_s),
                secs(r.other_blocked_s)
            );
        }
    }
    if let Some(why) = offcpu_missing {
        let _ = writeln!(out, "\nBlocked times not measured: {why}.");
    } else {
        let _ = writeln!(
            out,
            "\nWhere and why threads blocked: {} (futex `wait` = mutex, `wait_bitset` = condition \
             variable; stacks usually stop in libc, built without frame pointers).",
            link(
                dir,
                &format!("{}/{}", CPU_DIR, OFFCPU_SVG),
                "off-CPU flamegraph"
            )
        );
    }
    out.push('\n');
}

fn completeness_section(out: &mut String, s: &Snapshot, dir: &Path) {
    let _ = writeln!(out, "## Completeness\n");
    let _ = writeln!(out, "{}", strace_table::drops_text(s).trim_end());
    let _ = writeln!(out, "\n| reason | lost |\n|---|---:|");
    for (k, v) in &s.drops {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    if let Some(p) = &s.profile {
        let _ = writeln!(
            out,
            "\nStack quality ({}):\n",
            link(dir, &format!("{}/stack_quality.txt", CPU_DIR), "details")
        );
        for line in cpu_profile::stack_quality(s, p).lines() {
            let _ = writeln!(out, "- {}", line.trim());
        }
    }
    if !s.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:\n");
        for n in &s.notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out.push('\n');
}

/// Every non-empty file of the session folder, linked.
fn files_section(out: &mut String, dir: &Path) {
    let _ = writeln!(out, "## All files\n");
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files);
    for f in WRITTEN_LATER {
        if !files.iter().any(|x| x == f) {
            files.push(f.to_string());
        }
    }
    files.retain(|f| f != REPORT_FILE);
    files.sort();
    for f in files {
        if exists(dir, &f) {
            let _ = writeln!(out, "- {}", link(dir, &f, &f));
        }
    }
}
