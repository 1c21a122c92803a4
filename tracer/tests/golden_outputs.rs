//! Golden session files, as inferno's tests compare against flamegraph.pl's own output: every
//! canned session under `tests/data/sessions/<name>/snapshot.json` is re-rendered the way
//! `tracer report DIR` does it, and every text file of the session folder (strace tables,
//! syscall_analysis, the layer files, hotspots and perf reports, folded stacks, the report,
//! summary.json, index.html), plus the Prometheus text of the snapshot, must equal the file
//! checked in under `tests/data/expected/<name>/` byte for byte.
//!
//! A format change shows here as a diff of checked-in files, without root or BPF. When the
//! change is intended, rewrite the expected files and review them with `git diff`:
//!
//! ```text
//! TRACER_BLESS=1 cargo test -p tracer --test golden_outputs
//! ```
//!
//! Not compared here: the SVGs (inferno's drawing; `flamegraph_render.rs` checks them) and
//! `profile.pb.gz` (binary; `pprof_metrics.rs` decodes it and has `go tool pprof` read it).
//! Both are covered by the determinism test below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tracer::model::SelfCost;
use tracer::output::metrics;
use tracer::output::session_folder;

const BLESS_VAR: &str = "TRACER_BLESS";
const BLESS_HINT: &str = "if the change is intended: TRACER_BLESS=1 cargo test -p tracer \
                          --test golden_outputs, then review the expected files with git diff";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn blessing() -> bool {
    std::env::var_os(BLESS_VAR).is_some_and(|v| v == "1")
}

/// The canned sessions, by name.
fn sessions() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(data().join("sessions"))
        .expect("tests/data/sessions")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join(session_folder::SNAPSHOT_FILE).is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    assert!(out.len() >= 3, "the canned sessions are missing: {out:?}");
    out
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.is_dir() {
        walk(dir, dir, &mut out);
    }
    out
}

/// Renders session `src` into a fresh folder, as `tracer report` does (load `snapshot.json`,
/// render everything beside it).
fn render(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let name = session_folder::SNAPSHOT_FILE;
    std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    tracer::commands::report::rerender(dir.path()).expect("tracer report renders the session");
    dir
}

/// The tracer's own cost, fixed, so the metrics text has every family.
fn overhead() -> SelfCost {
    SelfCost {
        tracer_cpu_seconds: 1.25,
        tracer_rss_bytes: 48 << 20,
        bpf_programs: vec![
            ("sys_enter".into(), 1_000_000, 250_000_000),
            ("sample_cpu".into(), 1485, 3_000_000),
        ],
        bpf_sampled_seconds: 2.0,
        kernel_maps: vec![],
    }
}

/// What is compared for one session: `session/<rel>` for each text file of the folder, and
/// `metrics.txt`.
fn outputs(src: &Path) -> BTreeMap<String, Vec<u8>> {
    let dir = render(src);
    let mut out: BTreeMap<String, Vec<u8>> = files(dir.path())
        .into_iter()
        .filter(|(rel, _)| {
            rel != session_folder::SNAPSHOT_FILE
                && !rel.ends_with(".svg")
                && !rel.ends_with(".pb.gz")
        })
        .map(|(rel, bytes)| (format!("session/{rel}"), bytes))
        .collect();
    let snapshot = session_folder::load_snapshot(dir.path()).unwrap();
    out.insert(
        "metrics.txt".into(),
        metrics::render(&snapshot, Some(&overhead())).into_bytes(),
    );
    out
}

/// Where two texts first differ, for the failure message.
fn first_difference(want: &[u8], got: &[u8]) -> String {
    let (want, got) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    let mut w = want.lines();
    let mut g = got.lines();
    for n in 1.. {
        match (w.next(), g.next()) {
            (None, None) => return "only line endings differ".into(),
            (a, b) if a == b => continue,
            (a, b) => {
                return format!(
                    "line {n}:\n    expected: {}\n    rendered: {}",
                    a.unwrap_or("<end of file>"),
                    b.unwrap_or("<end of file>")
                )
            }
        }
    }
    unreachable!()
}

#[test]
fn every_session_file_matches_its_expected_file() {
    let mut problems = Vec::new();
    for (name, src) in sessions() {
        let got = outputs(&src);
        let expected_dir = data().join("expected").join(&name);
        if blessing() {
            let _ = std::fs::remove_dir_all(&expected_dir);
            for (rel, bytes) in &got {
                let path = expected_dir.join(rel);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
            }
            eprintln!("blessed {} files of {name}", got.len());
            continue;
        }
        let want = files(&expected_dir);
        for (rel, bytes) in &got {
            match want.get(rel) {
                None => problems.push(format!("{name}/{rel}: rendered, but no expected file")),
                Some(w) if w != bytes => problems.push(format!(
                    "{name}/{rel} differs from the expected file, {}",
                    first_difference(w, bytes)
                )),
                Some(_) => {}
            }
        }
        for rel in want.keys().filter(|r| !got.contains_key(*r)) {
            problems.push(format!("{name}/{rel}: expected, but not rendered"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} golden file problem(s):\n{}\n{BLESS_HINT}",
        problems.len(),
        problems.join("\n")
    );
}

/// Rendering the same snapshot twice gives the same bytes in every file, SVGs and pprof
/// included: no clock, no hash-map order, no temporary path leaks into an output.
#[test]
fn rendering_is_deterministic() {
    for (name, src) in sessions() {
        let (a, b) = (render(&src), render(&src));
        let (fa, fb) = (files(a.path()), files(b.path()));
        assert_eq!(
            fa.keys().collect::<Vec<_>>(),
            fb.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (rel, bytes) in &fa {
            assert!(
                bytes == &fb[rel],
                "{name}/{rel} differs between two renders"
            );
            let text = String::from_utf8_lossy(bytes);
            for dir in [a.path(), b.path()] {
                assert!(
                    !text.contains(&*dir.to_string_lossy()),
                    "{name}/{rel} names the folder it was rendered in"
                );
            }
        }
    }
}
