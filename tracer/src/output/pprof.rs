//! The on-CPU profile as a gzip-compressed pprof `profile.proto` (`profile.pb.gz`), the format
//! `go tool pprof`, Grafana Pyroscope and most profiling UIs load.
//!
//! The message is written by hand with a tiny protobuf writer below: the schema is small and
//! stable (github.com/google/pprof/proto/profile.proto), and a hand writer keeps the field
//! numbers next to the code that fills them instead of behind a build-time code generator.
//!
//! Mapping from the model:
//! - sample types `samples/count` and `cpu/nanoseconds` (count × the sampling period), period
//!   type `cpu/nanoseconds` with `period = 1e9 / freq_hz`, like a Go CPU profile;
//! - a first Mapping naming the traced program (`go tool pprof` shows it as the profile's
//!   "File"), then `[kernel.kallsyms]`;
//! - one Location (with one Line and one Function) per distinct frame name; kernel frames lose
//!   their `_[k]` suffix and point at a `[kernel.kallsyms]` mapping (and carry that as their
//!   Function's file name) so they stay recognisable without the suffix;
//! - each sample's locations are leaf first, as pprof wants (`StackRecord::frames` is root
//!   first);
//! - string labels `node`, `pid`, `thread` and `layer` (when known) on every sample, so
//!   `go tool pprof -tagfocus layer=consensus` or a Pyroscope label filter works.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::model::{Snapshot, KERNEL_SUFFIX};

/// File name of a pprof export inside a session or window folder.
pub const FILE_NAME: &str = "profile.pb.gz";

/// Name of the mapping (and Function file name) of kernel frames.
pub const KERNEL_MAPPING: &str = "[kernel.kallsyms]";

/// The snapshot's CPU profile as gzip-compressed pprof bytes. Fails only when the snapshot has
/// no profile (sampling was off): an empty profile is a valid, empty pprof.
pub fn encode(snapshot: &Snapshot) -> Result<Vec<u8>> {
    let raw = encode_uncompressed(snapshot)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw)?;
    Ok(gz.finish()?)
}

/// Writes [`encode`]'s bytes to `path`.
pub fn write(snapshot: &Snapshot, path: &Path) -> Result<()> {
    let bytes = encode(snapshot)?;
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// The `Profile` message before compression (what [`encode`] gzips).
pub fn encode_uncompressed(snapshot: &Snapshot) -> Result<Vec<u8>> {
    let profile = snapshot
        .profile
        .as_ref()
        .context("this session has no CPU profile (it ran with --no-sample)")?;
    let period: i64 = if profile.freq_hz > 0 {
        (1e9 / profile.freq_hz as f64).round() as i64
    } else {
        0
    };

    let mut strings = Strings::default();
    let mut frames = Frames::default();
    let node_of: HashMap<u32, String> = snapshot
        .processes
        .iter()
        .map(|p| (p.pid, p.label()))
        .collect();

    let mut out = Vec::new();

    // sample_type = 1, period_type = 11
    let samples_count = value_type(&mut strings, "samples", "count");
    let cpu_ns = value_type(&mut strings, "cpu", "nanoseconds");
    put_bytes(&mut out, 1, &samples_count);
    put_bytes(&mut out, 1, &cpu_ns);

    // sample = 2
    let (k_node, k_pid, k_thread, k_layer) = (
        strings.id("node"),
        strings.id("pid"),
        strings.id("thread"),
        strings.id("layer"),
    );
    for st in &profile.stacks {
        let mut msg = Vec::new();
        // Leaf first.
        let ids: Vec<u64> = st
            .frames
            .iter()
            .rev()
            .map(|f| frames.location(f, &mut strings))
            .collect();
        put_packed(&mut msg, 1, ids.iter().copied());
        let count = st.count as i64;
        put_packed(
            &mut msg,
            2,
            [count, count.saturating_mul(period)].map(|v| v as u64),
        );
        let node = node_of
            .get(&st.pid)
            .cloned()
            .unwrap_or_else(|| st.pid.to_string());
        let mut labels = vec![
            (k_node, strings.id(&node)),
            (k_pid, strings.id(&st.pid.to_string())),
            (k_thread, strings.id(&st.thread)),
        ];
        if let Some(layer) = &st.layer {
            labels.push((k_layer, strings.id(layer)));
        }
        for (k, v) in labels {
            let mut label = Vec::new();
            put_varint_field(&mut label, 1, k as u64);
            put_varint_field(&mut label, 2, v as u64);
            put_bytes(&mut msg, 3, &label);
        }
        put_bytes(&mut out, 2, &msg);
    }

    // mapping = 3. The first mapping is what `go tool pprof` shows as the profile's "File":
    // the traced program (the first node's executable), with no locations of its own as user
    // frames are already symbolised. Then the kernel's, for kernel frames.
    if let Some(main) = main_binary(snapshot) {
        let mut m = Vec::new();
        put_varint_field(&mut m, 1, MAIN_MAPPING_ID);
        put_varint_field(&mut m, 5, strings.id(&main) as u64);
        put_varint_field(&mut m, 7, 1); // has_functions
        put_bytes(&mut out, 3, &m);
    }
    if frames.any_kernel {
        let mut m = Vec::new();
        put_varint_field(&mut m, 1, KERNEL_MAPPING_ID);
        put_varint_field(&mut m, 5, strings.id(KERNEL_MAPPING) as u64);
        put_varint_field(&mut m, 7, 1); // has_functions
        put_bytes(&mut out, 3, &m);
    }

    // location = 4, function = 5 (location i and function i share id i).
    for (i, f) in frames.list.iter().enumerate() {
        let id = i as u64 + 1;
        let mut line = Vec::new();
        put_varint_field(&mut line, 1, id); // function_id
        let mut loc = Vec::new();
        put_varint_field(&mut loc, 1, id);
        if f.kernel {
            put_varint_field(&mut loc, 2, KERNEL_MAPPING_ID);
        }
        put_bytes(&mut loc, 4, &line);
        put_bytes(&mut out, 4, &loc);

        let mut func = Vec::new();
        put_varint_field(&mut func, 1, id);
        put_varint_field(&mut func, 2, f.name as u64);
        put_varint_field(&mut func, 3, f.name as u64); // system_name
        if f.kernel {
            put_varint_field(&mut func, 4, strings.id(KERNEL_MAPPING) as u64);
        }
        put_bytes(&mut out, 5, &func);
    }

    // Scalars (before the string table so their strings are interned).
    let started = chrono::DateTime::parse_from_rfc3339(&snapshot.started_at)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt());
    let lost = profile
        .samples
        .saturating_sub(profile.stacks.iter().map(|s| s.count).sum());
    let mut comments = vec![format!("tracer {}", snapshot.tracer_version)];
    if lost > 0 {
        comments.push(format!(
            "{lost} of {} samples lost their stack and are not in this profile",
            profile.samples
        ));
    }
    let comment_ids: Vec<i64> = comments.iter().map(|c| strings.id(c)).collect();
    let period_type = value_type(&mut strings, "cpu", "nanoseconds");
    let default_type = strings.id("cpu");

    // string_table = 6 (index 0 is "", written explicitly).
    for s in &strings.list {
        put_bytes(&mut out, 6, s.as_bytes());
    }
    if let Some(t) = started {
        put_varint_field(&mut out, 9, t as u64);
    }
    put_varint_field(&mut out, 10, (snapshot.duration_s * 1e9).round() as u64);
    put_bytes(&mut out, 11, &period_type);
    put_varint_field(&mut out, 12, period as u64);
    for c in comment_ids {
        put_varint_field(&mut out, 13, c as u64);
    }
    put_varint_field(&mut out, 14, default_type as u64);
    Ok(out)
}

const MAIN_MAPPING_ID: u64 = 1;
const KERNEL_MAPPING_ID: u64 = 2;

/// The traced program's path as its first process was started (`argv[0]`, else its comm).
fn main_binary(snapshot: &Snapshot) -> Option<String> {
    let p = snapshot.processes.first()?;
    Some(
        p.cmdline
            .first()
            .filter(|a| !a.is_empty())
            .cloned()
            .unwrap_or_else(|| p.comm.clone()),
    )
}

/// The string table: index 0 is "" as the format requires.
struct Strings {
    list: Vec<String>,
    index: HashMap<String, i64>,
}

impl Default for Strings {
    fn default() -> Self {
        Strings {
            list: vec![String::new()],
            index: HashMap::from([(String::new(), 0)]),
        }
    }
}

impl Strings {
    fn id(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as i64;
        self.list.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

struct Frame {
    name: i64,
    kernel: bool,
}

/// Distinct frames, each becoming one Location and one Function (ids from 1).
#[derive(Default)]
struct Frames {
    list: Vec<Frame>,
    index: HashMap<String, u64>,
    any_kernel: bool,
}

impl Frames {
    fn location(&mut self, frame: &str, strings: &mut Strings) -> u64 {
        if let Some(&id) = self.index.get(frame) {
            return id;
        }
        let (name, kernel) = match frame.strip_suffix(KERNEL_SUFFIX) {
            Some(n) => (n, true),
            None => (frame, false),
        };
        self.any_kernel |= kernel;
        self.list.push(Frame {
            name: strings.id(name),
            kernel,
        });
        let id = self.list.len() as u64;
        self.index.insert(frame.to_string(), id);
        id
    }
}

fn value_type(strings: &mut Strings, ty: &str, unit: &str) -> Vec<u8> {
    let mut v = Vec::new();
    put_varint_field(&mut v, 1, strings.id(ty) as u64);
    put_varint_field(&mut v, 2, strings.id(unit) as u64);
    v
}

// --- protobuf wire format: varints (wire type 0) and length-delimited fields (wire type 2).

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint field; zero is the default and is left out, as proto3 encoders do.
fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_varint(out, (field as u64) << 3);
        put_varint(out, v);
    }
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, ((field as u64) << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A packed repeated varint field (left out when empty).
fn put_packed(out: &mut Vec<u8>, field: u32, values: impl IntoIterator<Item = u64>) {
    let mut body = Vec::new();
    for v in values {
        put_varint(&mut body, v);
    }
    if !body.is_empty() {
        put_bytes(out, field, &body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_examples() {
        let mut v = Vec::new();
        put_varint(&mut v, 150);
        assert_eq!(v, [0x96, 0x01]);
        v.clear();
        put_varint(&mut v, u64::MAX);
        assert_eq!(v.len(), 10);
        v.clear();
        put_varint_field(&mut v, 1, 150);
        assert_eq!(v, [0x08, 0x96, 0x01]);
    }

    #[test]
    fn no_profile_is_an_error_that_says_why() {
        let s = crate::analyse::findings::canned::Canned::new(1.0)
            .no_profile()
            .build();
        let e = encode(&s).unwrap_err().to_string();
        assert!(e.contains("no CPU profile"), "{e}");
    }
}
