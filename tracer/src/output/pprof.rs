//! The on-CPU profile as a gzip-compressed pprof `profile.proto` (`profile.pb.gz`), the format
//! `go tool pprof`, Grafana Pyroscope and most profiling UIs load.
//!
//! The message is built from `prost` derive structs of `profile.proto` ([`proto`]) and encoded
//! by prost; this module only maps the model onto them.
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
//! - string labels `host` (`--host-label`, when recorded), `node`, `pid`, `thread` and `layer`
//!   (when known) on every sample, so `go tool pprof -tagfocus layer=consensus` or a
//!   Pyroscope label filter works, and profiles of several machines stay apart.

pub mod proto;

use std::collections::HashMap;
use std::io::Write;

use anyhow::{Context, Result};
use prost::Message as _;

use crate::model::{Snapshot, KERNEL_SUFFIX};
use proto::{Function, Label, Line, Location, Mapping, Profile, Sample, ValueType};

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

/// The `Profile` message before compression (what [`encode`] gzips).
pub fn encode_uncompressed(snapshot: &Snapshot) -> Result<Vec<u8>> {
    Ok(profile(snapshot)?.encode_to_vec())
}

/// The snapshot's CPU profile as a pprof [`Profile`] message.
pub fn profile(snapshot: &Snapshot) -> Result<Profile> {
    let cpu = snapshot
        .profile
        .as_ref()
        .context("this session has no CPU profile (it ran with --no-sample)")?;
    let period: i64 = if cpu.freq_hz > 0 {
        (1e9 / cpu.freq_hz as f64).round() as i64
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
    let mut out = Profile {
        sample_type: vec![
            value_type(&mut strings, "samples", "count"),
            value_type(&mut strings, "cpu", "nanoseconds"),
        ],
        ..Profile::default()
    };

    let host =
        (!snapshot.host.is_empty()).then(|| (strings.id("host"), strings.id(&snapshot.host)));
    let (k_node, k_pid, k_thread, k_layer) = (
        strings.id("node"),
        strings.id("pid"),
        strings.id("thread"),
        strings.id("layer"),
    );
    for st in &cpu.stacks {
        // Leaf first.
        let location_id = st
            .frames
            .iter()
            .rev()
            .map(|f| frames.location(f, &mut strings))
            .collect();
        let count = st.count as i64;
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
        labels.extend(host);
        out.sample.push(Sample {
            location_id,
            value: vec![count, count.saturating_mul(period)],
            label: labels
                .into_iter()
                .map(|(key, str)| Label {
                    key,
                    str,
                    ..Label::default()
                })
                .collect(),
        });
    }

    // The first mapping is what `go tool pprof` shows as the profile's "File": the traced
    // program (the first node's executable), with no locations of its own as user frames are
    // already symbolised. Then the kernel's, for kernel frames.
    if let Some(main) = main_binary(snapshot) {
        out.mapping.push(Mapping {
            id: MAIN_MAPPING_ID,
            filename: strings.id(&main),
            has_functions: true,
            ..Mapping::default()
        });
    }
    if frames.any_kernel {
        out.mapping.push(Mapping {
            id: KERNEL_MAPPING_ID,
            filename: strings.id(KERNEL_MAPPING),
            has_functions: true,
            ..Mapping::default()
        });
    }

    // Location i and function i share id i.
    for (i, f) in frames.list.iter().enumerate() {
        let id = i as u64 + 1;
        out.location.push(Location {
            id,
            mapping_id: if f.kernel { KERNEL_MAPPING_ID } else { 0 },
            line: vec![Line {
                function_id: id,
                ..Line::default()
            }],
            ..Location::default()
        });
        out.function.push(Function {
            id,
            name: f.name,
            system_name: f.name,
            filename: if f.kernel {
                strings.id(KERNEL_MAPPING)
            } else {
                0
            },
            ..Function::default()
        });
    }

    let lost = cpu
        .samples
        .saturating_sub(cpu.stacks.iter().map(|s| s.count).sum());
    let mut comments = vec![format!("tracer {}", snapshot.tracer_version)];
    if lost > 0 {
        comments.push(format!(
            "{lost} of {} samples lost their stack and are not in this profile",
            cpu.samples
        ));
    }
    out.comment = comments.iter().map(|c| strings.id(c)).collect();
    out.period_type = Some(value_type(&mut strings, "cpu", "nanoseconds"));
    out.default_sample_type = strings.id("cpu");
    out.time_nanos = chrono::DateTime::parse_from_rfc3339(&snapshot.started_at)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0);
    out.duration_nanos = (snapshot.duration_s * 1e9).round() as i64;
    out.period = period;
    out.string_table = strings.list;
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

fn value_type(strings: &mut Strings, ty: &str, unit: &str) -> ValueType {
    ValueType {
        r#type: strings.id(ty),
        unit: strings.id(unit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_profile_is_an_error_that_says_why() {
        let s = crate::canned::Canned::new(1.0).no_profile().build();
        let e = encode(&s).unwrap_err().to_string();
        assert!(e.contains("no CPU profile"), "{e}");
    }
}
