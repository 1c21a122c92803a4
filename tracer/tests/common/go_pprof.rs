//! Reading a pprof file with Go's own `go tool pprof`: the consumer users load it in.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// One sample as `go tool pprof -traces` prints it: labels, value, frames leaf first.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoTrace {
    pub labels: BTreeMap<String, String>,
    pub value: u64,
    pub frames: Vec<String>,
}

/// Parses `go tool pprof -sample_index=samples -traces` output: blocks separated by a
/// `-----------+----` rule, each `key:  value` label lines, then `VALUE   leaf` and one frame
/// per line.
pub fn parse_go_traces(text: &str) -> Vec<GoTrace> {
    let mut out = Vec::new();
    for block in text.split("-----------+").skip(1) {
        let mut t = GoTrace {
            labels: BTreeMap::new(),
            value: 0,
            frames: vec![],
        };
        for line in block.lines().skip(1) {
            let l = line.trim();
            if l.is_empty() || l.starts_with("---") {
                continue;
            }
            if t.frames.is_empty() {
                if let Some((k, v)) = l.split_once(":  ") {
                    t.labels.insert(k.trim().to_string(), v.trim().to_string());
                    continue;
                }
                let (v, leaf) = l.split_once(char::is_whitespace).expect("value and leaf");
                t.value = v.parse().expect("a count");
                t.frames.push(leaf.trim().to_string());
            } else {
                t.frames.push(l.to_string());
            }
        }
        if !t.frames.is_empty() {
            out.push(t);
        }
    }
    out.sort();
    out
}

/// Runs `go tool pprof -sample_index=samples -traces PATH`; its output and the parsed samples.
/// Panics when Go is missing: `cargo xtask setup` installs golang-go.
pub fn go_pprof_traces(path: &Path) -> (String, Vec<GoTrace>) {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("go")
        .args(["tool", "pprof", "-sample_index=samples", "-traces"])
        .arg(path)
        .env("HOME", tmp.path())
        .env("PPROF_TMPDIR", tmp.path())
        .output()
        .expect("`go` not found: install golang-go (`cargo xtask setup` does)");
    assert!(
        out.status.success(),
        "go tool pprof {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let traces = parse_go_traces(&text);
    (text, traces)
}
