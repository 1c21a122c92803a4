//! The standalone fixture programs report what they really did: `--churn` counts match
//! strace's, the CPU burner's own thread clocks match the kernel's accounting of it, and
//! chain-burn's stack really runs main → run → qsort → compare_items → deep_leaf, without
//! frame pointers in the nofp build.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use tracer_test_support::workload::{self, ChurnReport};
use tracer_test_support::{fixture_bins, Variant};

#[test]
fn churn_counts_match_strace() {
    let bins = fixture_bins(Variant::Fp).unwrap();
    let out = tempfile::tempdir().unwrap();
    let trace = out.path().join("strace");
    let run = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&trace)
        .args(["-e", "trace=openat,close,unlinkat,clone,clone3,fork,vfork"])
        .arg(&bins.workload)
        .args(["--churn", "3000", "--forks", "40", "--failed-opens", "2000"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let stdout = String::from_utf8(run.stdout).unwrap();
    let r: ChurnReport = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        (
            r.files_opened,
            r.files_closed,
            r.files_unlinked,
            r.failed_opens
        ),
        (3000, 3000, 3000, 2000)
    );
    assert_eq!((r.forks, r.child_files, r.child_failures), (40, 40, 0));
    let text = std::fs::read_to_string(&trace).unwrap();
    let under = format!("\"{}/", r.dir);
    let (mut created, mut failed, mut unlinked, mut clones) = (0, 0, 0, 0);
    let mut paths = BTreeSet::new();
    for l in text.lines() {
        let rest = l.split_once(' ').map_or(l, |x| x.1).trim_start();
        if rest.starts_with("clone") || rest.starts_with("fork") || rest.starts_with("vfork") {
            clones += 1;
        }
        let Some(at) = rest.find(&under) else {
            continue;
        };
        let path: String = rest[at + 1..].chars().take_while(|&c| c != '"').collect();
        if rest.starts_with("openat(") {
            paths.insert(path);
            if rest.contains("O_CREAT") && !rest.contains("= -1") {
                created += 1;
            } else if rest.contains("= -1 ENOENT") {
                failed += 1;
            }
        } else if rest.starts_with("unlinkat(") && !rest.contains("AT_REMOVEDIR") {
            unlinked += 1;
        }
    }
    let closes = text
        .lines()
        .filter(|l| l.contains("close(") && l.contains(&format!("<{}/", r.dir)))
        .count();
    eprintln!("{r:?}: strace created {created}, failed {failed}, unlinked {unlinked}, closes {closes}, clones {clones}");
    assert_eq!(created, 3000 + 40);
    assert_eq!(failed, 2000);
    assert_eq!(unlinked, 3000 + 40);
    assert_eq!(closes, 3000 + 40);
    assert_eq!(clones, 40);
    assert_eq!(paths.len(), 3000 + 2000 + 40, "every path distinct");
}

/// Two burner threads, each timing itself with CLOCK_THREAD_CPUTIME_ID: their sum is the
/// process's CPU time but for start-up and the idle main thread (< 20 ms), and the kernel's
/// rusage of the reaped child agrees with the process's own clock (it is the same
/// sum_exec_runtime, read a moment later at exit: < 10 ms apart).
#[test]
fn burn_threads_report_their_own_cpu_time() {
    let bins = fixture_bins(Variant::Fp).unwrap();
    let m = workload::burn(&bins, 2, 800).unwrap();
    let r = &m.report;
    eprintln!("{r:?}; rusage {} ns", m.rusage_cpu_ns);
    assert_eq!((r.threads, r.thread_cpu_ns.len()), (2, 2));
    assert!(r.wall_ns >= 800_000_000);
    for &c in &r.thread_cpu_ns {
        assert!(
            c > 0 && c <= r.wall_ns + 5_000_000,
            "thread CPU {c} vs wall {}",
            r.wall_ns
        );
    }
    assert_eq!(r.threads_cpu_ns, r.thread_cpu_ns.iter().sum::<u64>());
    assert!(r.process_cpu_ns >= r.threads_cpu_ns);
    assert!(r.process_cpu_ns - r.threads_cpu_ns < 20_000_000, "{r:?}");
    assert!(m.rusage_cpu_ns >= r.process_cpu_ns - 1_000_000);
    assert!(
        m.rusage_cpu_ns - r.process_cpu_ns < 10_000_000,
        "rusage {}",
        m.rusage_cpu_ns
    );
}

/// The functions of the chain, and whether each sets up a frame pointer (`mov %rsp,%rbp`).
fn frame_pointer_setup(bin: &std::path::Path) -> Vec<(String, bool)> {
    let dis = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(bin)
        .output()
        .unwrap();
    let text = String::from_utf8(dis.stdout).unwrap();
    ["deep_leaf", "compare_items", "run"]
        .iter()
        .map(|f| {
            let start = text
                .find(&format!("<{f}>:\n"))
                .unwrap_or_else(|| panic!("no {f}"));
            let body = &text[start..];
            let body = &body[..body.find("\n\n").unwrap_or(body.len())];
            (f.to_string(), body.contains("mov    %rsp,%rbp"))
        })
        .collect()
}

#[test]
fn chain_burn_runs_its_chain_through_qsort_without_frame_pointers() {
    for variant in [Variant::NoFp, Variant::Fp] {
        let bins = fixture_bins(variant).unwrap();
        for (f, fp) in frame_pointer_setup(bins.chain.as_ref().unwrap()) {
            assert_eq!(
                fp,
                variant == Variant::Fp,
                "{variant:?} {f}: frame pointer set up: {fp}"
            );
        }
        let m = workload::chain(&bins, 400).unwrap();
        let r = &m.report;
        let names = r.names();
        eprintln!(
            "{variant:?}: {} sorts, {} compares, chain {names:?}",
            r.sorts, r.compare_calls
        );
        assert_eq!(
            r.leaf_calls, r.compare_calls,
            "one leaf call per comparison"
        );
        assert!(r.sorts >= 1 && r.compare_calls >= r.sorts * (r.items - 1));
        assert!(r.cpu_ns <= m.rusage_cpu_ns + 1_000_000);
        // deep_leaf, compare_items, glibc's sort internals (>= 1 unnamed frame), qsort_r (what
        // qsort tail-calls), run, main.
        assert_eq!(&names[..2], ["deep_leaf", "compare_items"]);
        let q = names
            .iter()
            .position(|n| n == "libc:qsort_r")
            .expect("qsort_r frame");
        assert!(
            q >= 3 && names[2..q].iter().all(|n| n == "libc"),
            "{names:?}"
        );
        assert_eq!(&names[q + 1..q + 3], ["run", "main"]);
    }
}
