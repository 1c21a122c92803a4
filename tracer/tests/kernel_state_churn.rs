//! Kernel state stays bounded under churn (issue 11 item 2): a process that tries 100,000
//! paths that do not exist, creates and closes files, and forks short-lived children ends
//! with every kernel map under half full, nothing lost to a full map, and the files opened
//! last still named.
//!
//! What it exercises: a path enters `PATHS` only when its open succeeded (failed opens used to
//! fill the table, and later files showed as `<unknown path>`), user space moves `PATHS` out
//! every window, and an exited process's `SYSCALL_STATS`, `FILE_STATS`, `FUNC_STATS` and
//! `FDS` entries move to user space: at the end `SYSCALL_STATS` holds no more entries than
//! the parent's own rows in the report (every child's are gone from the kernel). The children's
//! counts are checked against what the fixture says it issued, so moving them loses nothing.
//!
//! 30 children, not thousands: with hundreds of traced processes tracer's report rendering
//! (`consensus_files` runs the role analysis per process over every stack) takes minutes, a
//! limit of its own, apart from kernel state.
//!
//! The parent's own files are kept to 3,000: the per-file counters of a process that is
//! still running stay in `FILE_STATS` (8,192 entries) until it exits.

mod common;

use common::*;
use std::process::{Command, Stdio};
use tracer_test_support::{fixture_bins, workload::ChurnReport, Variant};

const FILES: u64 = 3_000;
const FORKS: u64 = 30;
const FAILED_OPENS: u64 = 100_000;

#[test]
fn churn_leaves_every_kernel_map_under_half_full_and_names_the_last_files() {
    require_root();
    let bins = fixture_bins(Variant::Fp).unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(tracer_bin())
        // cargo test sets LD_LIBRARY_PATH to its target folders: the workload's dynamic loader
        // would then try each of them for libstdc++ and libc first, 52 failed openat calls of
        // its own on top of the FAILED_OPENS the test counts (seen under `cargo test`, not
        // when the test binary runs directly).
        .env_remove("LD_LIBRARY_PATH")
        .args(["run", "--interval", "1s", "-o"])
        .arg(out.path())
        .arg("--")
        .arg(&bins.workload)
        .args(["--churn", &FILES.to_string()])
        .args(["--forks", &FORKS.to_string()])
        .args(["--failed-opens", &FAILED_OPENS.to_string()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
    assert!(run.status.success(), "tracer run failed:\n{tail:#?}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("{\"dir\""))
        .unwrap_or_else(|| panic!("the fixture's report on stdout:\n{stdout}"));
    let churn: ChurnReport = serde_json::from_str(line).unwrap();
    assert_eq!(
        (churn.files_opened, churn.failed_opens, churn.child_files),
        (FILES, FAILED_OPENS, FORKS),
        "the fixture did what it was asked: {churn:?}"
    );

    let s = load_snapshot(out.path());
    assert_eq!(
        count_drops(&s),
        Default::default(),
        "nothing lost to a full map"
    );
    let cost = s.self_cost.as_ref().expect("tracer's own cost");
    assert!(
        cost.kernel_maps.len() >= 8,
        "every growing map measured: {:?}",
        cost.kernel_maps
    );
    for m in &cost.kernel_maps {
        eprintln!("{}: {} of {}", m.map, m.entries, m.capacity);
        assert!(
            m.entries * 2 < m.capacity,
            "{} is {} of {} full at the end",
            m.map,
            m.entries,
            m.capacity
        );
    }

    let parent = s
        .processes
        .iter()
        .find(|p| p.pid == p.root_pid)
        .expect("the traced command")
        .pid;
    let syscall_keys = cost
        .kernel_maps
        .iter()
        .find(|m| m.map == "SYSCALL_STATS")
        .expect("SYSCALL_STATS measured")
        .entries;
    let parent_rows = s.syscalls.iter().filter(|r| r.pid == parent).count() as u64;
    assert!(
        syscall_keys <= parent_rows,
        "exited children's syscall counters left the kernel: {syscall_keys} entries remain, \
         the parent has {parent_rows} rows"
    );
    // The parent's failed opens are counted as errors of openat, though no path was kept.
    let parent_openat_errors: u64 = s
        .syscalls
        .iter()
        .filter(|r| r.pid == parent && r.name == "openat")
        .map(|r| r.stats.errors)
        .sum();
    assert_eq!(parent_openat_errors, FAILED_OPENS);
    assert!(
        !s.files.iter().any(|f| f.path.contains("/missing")),
        "a failed open leaves no path behind"
    );
    // Every child's openat and close, though each child's kernel entries were moved out when
    // it exited (and the children opened their files after the 100,000 failed opens).
    let child_openats: u64 = s
        .syscalls
        .iter()
        .filter(|r| r.pid != parent && r.name == "openat")
        .map(|r| r.stats.count - r.stats.errors)
        .sum();
    assert_eq!(child_openats, churn.child_files);
    let named_child_closes = s
        .files
        .iter()
        .filter(|f| f.pid != parent && f.syscall == "close")
        .filter(|f| f.path.starts_with(&format!("{}/child", churn.dir)))
        .map(|f| f.stats.count)
        .sum::<u64>();
    assert_eq!(
        named_child_closes, churn.child_files,
        "every child's file is named"
    );
    let last = format!("{}/f{}", churn.dir, FILES - 1);
    assert!(
        s.files
            .iter()
            .any(|f| f.pid == parent && f.path == last && f.syscall == "close"),
        "the parent's last file {last} is named"
    );
    assert!(
        !s.files.iter().any(|f| f.path.starts_with('<')),
        "no file without its path: {:?}",
        s.files
            .iter()
            .filter(|f| f.path.starts_with('<'))
            .take(5)
            .collect::<Vec<_>>()
    );
}
