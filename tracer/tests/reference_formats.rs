//! tracer's `strace -c`-style and `perf report`-style tables against the real tools' output,
//! recorded from fixture runs under `tests/data/reference/` (how: `tests/data/README.md`).
//! Users and scripts that read strace's or perf's text read tracer's the same way; these tests
//! keep the column layout tracer claims to share with them, without root or BPF.

mod common;

use std::path::{Path, PathBuf};

use tracer::output::session_folder;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn reference(name: &str) -> String {
    std::fs::read_to_string(data().join("reference").join(name)).unwrap()
}

/// Renders the canned three-node session and returns the folder.
fn rendered() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let name = session_folder::SNAPSHOT_FILE;
    std::fs::copy(
        data().join("sessions/three_nodes_pathological").join(name),
        dir.path().join(name),
    )
    .unwrap();
    tracer::commands::report::rerender(dir.path()).unwrap();
    dir
}

/// The rows of an `strace -c` table (between the rules, and the total after the second).
fn table_rows(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| !l.starts_with("% time"))
        .skip(1)
        .filter(|l| !l.starts_with("------") && !l.trim().is_empty())
        .take_while(|l| !l.starts_with('#'))
        .collect()
}

/// Where each column of a row ends (`% time`, seconds, usecs/call, calls) and where the
/// syscall name starts: strace right-aligns the numbers in fixed widths.
fn layout(row: &str) -> (Vec<usize>, usize) {
    let mut ends = Vec::new();
    let mut in_token = false;
    for (i, c) in row.char_indices() {
        if c != ' ' && !in_token {
            in_token = true;
        } else if c == ' ' && in_token {
            in_token = false;
            ends.push(i);
        }
    }
    let name_start = row.rfind(' ').unwrap() + 1;
    ends.truncate(4);
    (ends, name_start)
}

#[test]
fn recorded_strace_c_is_the_workloads_known_mix() {
    // The recorded run was `syscall-workload --iters 2000`; its mix is defined in
    // fixture/workload_main.cpp (and checked live in strace_agreement.rs).
    let counts = common::parse_strace_summary(&reference("strace_c_syscall_workload.txt"));
    for (name, n) in [
        ("getppid", 2000),
        ("write", 2000),
        ("fsync", 200),
        ("fdatasync", 200),
        ("pwrite64", 200),
    ] {
        assert_eq!(counts.get(name), Some(&n), "{name}: {counts:?}");
    }
}

#[test]
fn strace_tables_have_strace_c_columns() {
    let strace = reference("strace_c_syscall_workload.txt");
    let dir = rendered();
    let ours = std::fs::read_to_string(
        dir.path()
            .join(session_folder::DISK_DIR)
            .join("strace_raftkv-node_101.txt"),
    )
    .unwrap();
    // The same header and rule lines.
    let head = |t: &str| -> Vec<String> {
        t.lines()
            .skip_while(|l| !l.starts_with("% time"))
            .take(2)
            .map(str::to_string)
            .collect()
    };
    assert_eq!(head(&ours), head(&strace));
    // Every row (and the total) has its columns where strace has them.
    let want = layout(table_rows(&strace)[0]);
    for row in table_rows(&strace).into_iter().chain(table_rows(&ours)) {
        assert_eq!(layout(row), want, "{row:?}");
    }
    // And the tests' own strace -c reader reads tracer's classic table (the file's first
    // section) as it reads strace's.
    let classic = ours.split("\n## ").next().unwrap();
    let counts = common::parse_strace_summary(classic);
    assert_eq!(counts.get("fsync"), Some(&14_500), "{counts:?}");
    assert_eq!(counts.get("epoll_wait"), Some(&100), "{counts:?}");
}

#[test]
fn perf_reports_lead_with_perfs_children_and_self_columns() {
    let perf = reference("perf_report_chain_burn.txt");
    let dir = rendered();
    let ours = std::fs::read_to_string(
        dir.path()
            .join("cpu_profile/raftkv-node_101_perf_report.txt"),
    )
    .unwrap();
    let header = |t: &str| -> String {
        t.lines()
            .find(|l| l.starts_with("# Children ") && l.trim_end().ends_with("Symbol"))
            .unwrap()
            .to_string()
    };
    // Children then Self, in perf's widths; tracer adds sample counts after them.
    assert!(header(&ours).starts_with("# Children      Self"));
    assert!(header(&perf).starts_with("# Children      Self"));
    // Data lines: two percentages right-aligned in the same 10-character columns.
    let pcts = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#') && l.contains('%'))
            .map(|l| l[..20].to_string())
            .collect()
    };
    for line in pcts(&perf).iter().chain(&pcts(&ours)) {
        for col in [&line[..10], &line[10..20]] {
            assert!(
                col.ends_with('%') && col.trim().trim_end_matches('%').parse::<f64>().is_ok(),
                "{line:?}"
            );
        }
    }
}
