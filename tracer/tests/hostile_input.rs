//! Files tracer reads but did not write, truncated, empty, of the wrong type, random or
//! hostile, through the real commands: `tracer report`, `tracer diff`, `tracer profile
//! --check` and `tracer probes --binary`. Each must end with a message that names the file and
//! a non-zero exit, never a panic (exit code 101). No BPF, no root needed.
//!
//! The files that once crashed a fuzz target (`cargo xtask fuzz`) are kept under
//! `tests/data/hostile/<target>/` and go through the same commands here.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn canned(name: &str) -> Vec<u8> {
    std::fs::read(data().join("sessions").join(name).join("snapshot.json")).unwrap()
}

/// A deterministic pseudo-random byte string (xorshift64*): the same corpus every run.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// Truncations of `bytes` at the start, the middle and just before the end.
fn truncations(name: &str, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    [
        1,
        7,
        bytes.len() / 10,
        bytes.len() / 2,
        bytes.len() - 2,
        bytes.len() - 1,
    ]
    .into_iter()
    .map(|at| (format!("{name} cut at {at}"), bytes[..at].to_vec()))
    .collect()
}

/// The JSON of a canned session with `field` replaced by `value`.
fn with_field(base: &[u8], pointer: &str, value: serde_json::Value) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(base).unwrap();
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = value;
    serde_json::to_vec(&v).unwrap()
}

/// Snapshots that are not valid tracer snapshots.
fn bad_snapshots() -> Vec<(String, Vec<u8>)> {
    let good = canned("two_nodes_kernel_frames");
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("whitespace".into(), b"  \n\t ".to_vec()),
        ("array".into(), b"[]".to_vec()),
        ("number".into(), b"42".to_vec()),
        ("string".into(), b"\"snapshot\"".to_vec()),
        ("null".into(), b"null".to_vec()),
        ("empty object".into(), b"{}".to_vec()),
        ("nested 100000 deep".into(), {
            let mut v = vec![b'['; 100_000];
            v.extend(vec![b']'; 100_000]);
            v
        }),
        ("invalid UTF-8".into(), {
            let mut v = good.clone();
            let at = v.iter().position(|&b| b == b'"').unwrap() + 1;
            v[at] = 0xff;
            v
        }),
        ("gzip".into(), {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&good).unwrap();
            gz.finish().unwrap()
        }),
        ("an ELF file".into(), std::fs::read("/bin/true").unwrap()),
        (
            "wrong type: processes".into(),
            with_field(&good, "/processes", serde_json::json!({})),
        ),
        (
            "wrong type: duration".into(),
            with_field(&good, "/duration_s", serde_json::json!("long")),
        ),
        (
            "wrong type: a count".into(),
            with_field(&good, "/syscalls/0/stats/count", serde_json::json!(-1)),
        ),
        (
            "wrong type: a count too large".into(),
            with_field(&good, "/syscalls/0/stats/count", serde_json::json!(1e30)),
        ),
        (
            "wrong type: a frame".into(),
            with_field(&good, "/profile/stacks/0/frames/0", serde_json::json!(7)),
        ),
    ];
    out.extend(truncations("snapshot", &good));
    for (seed, len) in [(1, 1), (2, 64), (3, 4096), (4, 100_000)] {
        out.push((format!("random {len} bytes"), random_bytes(seed, len)));
    }
    out
}

/// Profiles that are not valid layer profiles.
fn bad_profiles() -> Vec<(String, Vec<u8>)> {
    let good = tracer::profile::default_toml().as_bytes().to_vec();
    let layer =
        |body: &str| format!("[[layer]]\nname = \"a\"\nfolder = \"f\"\n{body}\n").into_bytes();
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("only comments".into(), b"# nothing\n".to_vec()),
        ("layer is a number".into(), b"layer = 5\n".to_vec()),
        (
            "name is a number".into(),
            b"[[layer]]\nname = 3\nfolder = \"f\"\n".to_vec(),
        ),
        (
            "functions is a string".into(),
            layer("functions = \"Raft::x\""),
        ),
        (
            "functions holds a table".into(),
            layer("functions = [{ a = 1 }]"),
        ),
        (
            "unclosed brace".into(),
            layer("functions = [\"Raft::{a,b\"]"),
        ),
        ("only braces".into(), layer("functions = [\"{{{{}}}}\"]")),
        ("empty pattern".into(), layer("functions = [\"\"]")),
        ("unknown syscall".into(), layer("syscalls = [\"fsnyc\"]")),
        (
            "unknown fd kind".into(),
            layer("syscalls = [\"write@pipe\"]"),
        ),
        (
            "folder with ..".into(),
            b"[[layer]]\nname = \"a\"\nfolder = \"..\"\nsyscalls = [\"fsync\"]\n".to_vec(),
        ),
        (
            "folder with a slash".into(),
            b"[[layer]]\nname = \"a\"\nfolder = \"../x\"\nsyscalls = [\"fsync\"]\n".to_vec(),
        ),
        ("invalid UTF-8".into(), {
            let mut v = good.clone();
            v[10] = 0xff;
            v
        }),
        (
            "multibyte at an error".into(),
            "[[layer]]\nname = \"é🦀\"\nfolder = \"f\"\n"
                .as_bytes()
                .to_vec(),
        ),
        ("JSON".into(), b"{\"layer\": []}".to_vec()),
        ("an ELF file".into(), std::fs::read("/bin/true").unwrap()),
    ];
    // Cuts inside the first layer (past the file's comments).
    let first = good.windows(9).position(|w| w == b"[[layer]]").unwrap();
    for at in [first + 4, first + 20, first + 60] {
        out.push((format!("default cut at {at}"), good[..at].to_vec()));
    }
    for (seed, len) in [(5, 1), (6, 200), (7, 20_000)] {
        out.push((format!("random {len} bytes"), random_bytes(seed, len)));
    }
    out
}

/// ELF files that are not valid: truncated and corrupted copies of a real binary.
fn bad_elfs() -> Vec<(String, Vec<u8>)> {
    let good = std::fs::read("/bin/true").unwrap();
    let mut out = vec![("empty".to_string(), vec![])];
    for at in [4, 16, 52, 64, 100, 1000, good.len() / 2, good.len() - 1] {
        out.push((format!("cut at {at}"), good[..at].to_vec()));
    }
    // Header fields pointing nowhere: section header offset, count and string table index,
    // program header offset; and random bytes after a valid ELF magic.
    for (what, at, value) in [
        ("e_shoff", 0x28usize, 0xffff_ff00u64),
        ("e_phoff", 0x20, 0xffff_ff00),
        ("e_shnum", 0x3c, 0xffff),
        ("e_shstrndx", 0x3e, 0xfffe),
    ] {
        let mut v = good.clone();
        let width = if at >= 0x3c { 2 } else { 8 };
        v[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
        out.push((format!("bad {what}"), v));
    }
    let mut v = b"\x7fELF\x02\x01\x01".to_vec();
    v.extend(random_bytes(8, 4096));
    out.push(("ELF magic then random".into(), v));
    out
}

fn tracer(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(tracer_bin())
        .args(args)
        .output()
        .expect("start tracer")
}

/// The command failed cleanly: exit 1 and `tracer: error: ...` naming `names`, no panic.
fn assert_clean_failure(what: &str, out: &Output, names: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{what}: panicked:\n{err}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: {:?}\n{err}",
        out.status
    );
    assert!(
        err.contains("tracer: error:") && err.contains(names),
        "{what}: the message must name {names}:\n{err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}

/// The regression files of fuzz target `target`.
fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = data().join("hostile").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| {
            let p = e.unwrap().path();
            (
                format!("fuzz regression {}", p.display()),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn report_and_diff_fail_cleanly_on_bad_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    std::fs::create_dir(&good).unwrap();
    std::fs::write(
        good.join("snapshot.json"),
        canned("two_nodes_kernel_frames"),
    )
    .unwrap();
    let mut corpus = bad_snapshots();
    // Fuzz findings that parse are checked by `fuzz_regressions_render_without_panicking`.
    corpus.extend(
        regressions("snapshot")
            .into_iter()
            .filter(|(_, b)| tracer::output::session_folder::parse_snapshot(b).is_err()),
    );
    for (i, (what, bytes)) in corpus.iter().enumerate() {
        let dir = tmp.path().join(format!("bad{i}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("snapshot.json"), bytes).unwrap();
        let (d, g) = (dir.as_os_str(), good.as_os_str());
        assert_clean_failure(what, &tracer(&["report".as_ref(), d]), "snapshot.json");
        assert_clean_failure(what, &tracer(&["diff".as_ref(), d, g]), "snapshot.json");
        assert_clean_failure(what, &tracer(&["diff".as_ref(), g, d]), "snapshot.json");
        // Nothing was rendered from it.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "{what}");
    }
}

#[test]
fn report_fails_cleanly_when_snapshot_json_is_not_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    /// How the case puts something at the snapshot's path.
    type Make = fn(&Path);
    let cases: [(&str, Make); 4] = [
        ("missing", |_| {}),
        ("a folder", |p| std::fs::create_dir(p).unwrap()),
        ("a symlink", |p| {
            std::os::unix::fs::symlink("/etc/hostname", p).unwrap()
        }),
        ("a FIFO", |p| {
            let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        }),
    ];
    for (i, (what, make)) in cases.into_iter().enumerate() {
        let dir = tmp.path().join(format!("s{i}"));
        std::fs::create_dir(&dir).unwrap();
        make(&dir.join("snapshot.json"));
        assert_clean_failure(
            what,
            &tracer(&["report".as_ref(), dir.as_os_str()]),
            "snapshot.json",
        );
    }
    assert_clean_failure(
        "no such folder",
        &tracer(&["report".as_ref(), tmp.path().join("nope").as_os_str()]),
        "nope",
    );
}

#[test]
fn profile_check_fails_cleanly_on_bad_profiles() {
    let tmp = tempfile::tempdir().unwrap();
    let mut corpus = bad_profiles();
    corpus.extend(regressions("profile").into_iter().filter(|(_, b)| {
        std::str::from_utf8(b).map_or(true, |t| tracer::profile::parse(t, "f").is_err())
    }));
    for (i, (what, bytes)) in corpus.iter().enumerate() {
        let path = tmp.path().join(format!("p{i}.toml"));
        std::fs::write(&path, bytes).unwrap();
        let out = tracer(&["profile".as_ref(), "--check".as_ref(), path.as_os_str()]);
        assert_clean_failure(what, &out, &format!("p{i}.toml"));
    }
    // Not a file at all.
    let fifo = tmp.path().join("fifo.toml");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    for (what, path) in [
        ("a folder", tmp.path().to_path_buf()),
        ("missing", tmp.path().join("nope.toml")),
        ("a FIFO", fifo),
    ] {
        let out = tracer(&["profile".as_ref(), "--check".as_ref(), path.as_os_str()]);
        assert_clean_failure(what, &out, &path.file_name().unwrap().to_string_lossy());
    }
}

#[test]
fn probes_fails_cleanly_on_bad_binaries() {
    let tmp = tempfile::tempdir().unwrap();
    let mut corpus = bad_elfs();
    corpus.extend(regressions("elf"));
    for (i, (what, bytes)) in corpus.iter().enumerate() {
        let path = tmp.path().join(format!("bin{i}"));
        std::fs::write(&path, bytes).unwrap();
        let out = tracer(&["probes".as_ref(), "--binary".as_ref(), path.as_os_str()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{what}: panicked:\n{err}");
        // A corrupt file that still parses (a cut after the symbol tables) may list what it
        // has; anything else is an error naming the file.
        if !out.status.success() {
            assert_clean_failure(what, &out, &format!("bin{i}"));
        }
    }
    // A FIFO would block a reader forever.
    let fifo = tmp.path().join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let out = tracer(&["probes".as_ref(), "--binary".as_ref(), fifo.as_os_str()]);
    assert_clean_failure("a FIFO", &out, "fifo");
}

/// A hand-edited snapshot whose layer folder names a place outside the session: `tracer
/// report` refuses to write there, says so, and nothing appears outside.
#[test]
fn a_snapshot_cannot_make_report_write_outside_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let good = canned("two_nodes_kernel_frames");
    let escaped = tmp.path().join("escaped");
    for (i, folder) in [
        "../escaped".to_string(),
        escaped.display().to_string(),
        "a/../../escaped".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let dir = tmp.path().join(format!("s{i}"));
        std::fs::create_dir(&dir).unwrap();
        let bytes = with_field(&good, "/layers/0/folder", serde_json::json!(folder));
        std::fs::write(dir.join("snapshot.json"), bytes).unwrap();
        let out = tracer(&["report".as_ref(), dir.as_os_str()]);
        assert_clean_failure(folder, &out, "not written");
        assert!(!escaped.exists(), "{folder}: written outside the session");
    }
}

/// Fuzz findings that parse: rendered, with metrics, pprof and diff, as the fuzz targets do,
/// through `tracer report` and `tracer diff`.
#[test]
fn fuzz_regressions_render_without_panicking() {
    let tmp = tempfile::tempdir().unwrap();
    let found = regressions("snapshot");
    for (i, (what, bytes)) in found.iter().enumerate() {
        let Ok(s) = tracer::output::session_folder::parse_snapshot(bytes) else {
            continue;
        };
        let dir = tmp.path().join(format!("r{i}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("snapshot.json"), bytes).unwrap();
        let out = tracer(&["report".as_ref(), dir.as_os_str()]);
        assert_ne!(
            out.status.code(),
            Some(101),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = tracer(&["diff".as_ref(), dir.as_os_str(), dir.as_os_str()]);
        assert_ne!(
            out.status.code(),
            Some(101),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = tracer::output::metrics::render(&s, s.self_cost.as_ref());
        let _ = tracer::output::pprof::encode(&s);
    }
}
