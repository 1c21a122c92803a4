//! Layer attribution: which layer each CPU sample and syscall belongs to, each layer's share
//! of on-CPU time, and the latency of its probed functions.
//!
//! A sample's layer is the one the kernel recorded (the thread's innermost active probed
//! call) when uprobes were on; otherwise — or for samples taken outside any probed call —
//! the layer of the innermost frame that matches one of the layer's function patterns
//! (stack membership). Both follow the same rule: the innermost layer wins.

use crate::model::{FunctionRecord, LayerInfo, Snapshot, StackRecord, Stats};
use crate::profile::Pattern;

/// The layer of the innermost frame of `stack` that belongs to a layer's functions.
pub fn layer_by_membership<'a>(stack: &StackRecord, layers: &'a [LayerInfo]) -> Option<&'a str> {
    stack
        .frames
        .iter()
        .rev()
        .find_map(|frame| frame_layer(frame, layers))
        .and_then(|i| layers.get(i))
        .map(|l| l.name.as_str())
}

/// Index of the first layer one of whose patterns matches `frame`. Pattern matching parses
/// demangled names, and a report asks about the same few thousand frames for every stack and
/// every layer, so answers are cached per (set of layers, frame).
fn frame_layer(frame: &str, layers: &[LayerInfo]) -> Option<usize> {
    type Cache = std::collections::HashMap<(u64, String), Option<usize>>;
    thread_local! {
        static ANSWERS: std::cell::RefCell<Cache> = Default::default();
    }
    let key = (layers_fingerprint(layers), frame.to_string());
    if let Some(hit) = ANSWERS.with(|c| c.borrow().get(&key).copied()) {
        return hit;
    }
    let answer = layers.iter().position(|l| {
        l.functions
            .iter()
            .any(|text| Pattern::parse(text).is_ok_and(|p| p.matches(frame)))
    });
    ANSWERS.with(|c| c.borrow_mut().insert(key, answer));
    answer
}

/// A hash of the layers' names and patterns: cached answers of one profile never serve another.
fn layers_fingerprint(layers: &[LayerInfo]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for l in layers {
        l.name.hash(&mut h);
        l.functions.hash(&mut h);
    }
    h.finish()
}

/// How a sample got its layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribution {
    /// From the kernel's per-thread slot (uprobes).
    Probe,
    /// From stack membership.
    Stack,
}

/// The layer of one sample and how it was decided.
pub fn layer_of<'a>(
    stack: &'a StackRecord,
    layers: &'a [LayerInfo],
) -> Option<(&'a str, Attribution)> {
    if let Some(l) = &stack.layer {
        return Some((l.as_str(), Attribution::Probe));
    }
    layer_by_membership(stack, layers).map(|l| (l, Attribution::Stack))
}

/// One layer's share of a set of samples.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LayerShare {
    pub samples: u64,
    pub by_probe: u64,
    pub by_stack: u64,
    pub total: u64,
    pub pct: f64,
}

/// Share of the samples of `pids` (all when empty) that belong to `layer`.
pub fn cpu_share(snapshot: &Snapshot, layer: &str, pids: &[u32]) -> LayerShare {
    let mut s = LayerShare::default();
    let Some(profile) = &snapshot.profile else {
        return s;
    };
    for st in profile
        .stacks
        .iter()
        .filter(|st| pids.is_empty() || pids.contains(&st.pid))
    {
        s.total += st.count;
        match layer_of(st, &snapshot.layers) {
            Some((l, how)) if l == layer => {
                s.samples += st.count;
                match how {
                    Attribution::Probe => s.by_probe += st.count,
                    Attribution::Stack => s.by_stack += st.count,
                }
            }
            _ => {}
        }
    }
    s.pct = 100.0 * s.samples as f64 / s.total.max(1) as f64;
    s
}

/// The samples that belong to `layer`.
pub fn stacks_in_layer<'a>(
    snapshot: &'a Snapshot,
    layer: &'a str,
) -> impl Iterator<Item = &'a StackRecord> {
    snapshot
        .profile
        .iter()
        .flat_map(|p| p.stacks.iter())
        .filter(move |st| layer_of(st, &snapshot.layers).map(|(l, _)| l) == Some(layer))
}

/// Syscalls made inside `layer`, by name (summed over processes in `pids`, all when empty).
pub fn syscalls_in_layer(snapshot: &Snapshot, layer: &str, pids: &[u32]) -> Vec<(String, Stats)> {
    let mut map: std::collections::BTreeMap<String, Stats> = Default::default();
    for r in snapshot
        .syscalls
        .iter()
        .filter(|r| r.layer.as_deref() == Some(layer))
        .filter(|r| pids.is_empty() || pids.contains(&r.pid))
    {
        map.entry(r.name.clone()).or_default().merge(&r.stats);
    }
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.total_ns.cmp(&a.1.total_ns).then(a.0.cmp(&b.0)));
    v
}

/// Share of all calls of syscall `name` (in `pids`) that were made inside `layer`.
pub fn syscall_share(snapshot: &Snapshot, name: &str, layer: &str, pids: &[u32]) -> (u64, u64) {
    let mut inside = 0;
    let mut all = 0;
    for r in snapshot
        .syscalls
        .iter()
        .filter(|r| r.name == name && (pids.is_empty() || pids.contains(&r.pid)))
    {
        all += r.stats.count;
        if r.layer.as_deref() == Some(layer) {
            inside += r.stats.count;
        }
    }
    (inside, all)
}

/// Probed functions of `layer`, per process.
pub fn functions_in_layer<'a>(
    snapshot: &'a Snapshot,
    layer: &'a str,
) -> impl Iterator<Item = &'a FunctionRecord> {
    snapshot.functions.iter().filter(move |f| f.layer == layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(id: u32, name: &str, functions: &[&str]) -> LayerInfo {
        LayerInfo {
            id,
            name: name.into(),
            title: name.into(),
            folder: format!("0{id}_{name}"),
            functions: functions.iter().map(|s| s.to_string()).collect(),
            syscalls: vec![],
        }
    }

    fn stack(frames: &[&str], layer: Option<&str>) -> StackRecord {
        StackRecord {
            pid: 1,
            thread: "t".into(),
            frames: frames.iter().map(|s| s.to_string()).collect(),
            count: 1,
            user_truncated: false,
            walk_broke_in: None,
            layer: layer.map(String::from),
        }
    }

    #[test]
    fn braces_expand_to_alternatives() {
        let pattern = Pattern::parse("Persister::{saveRaftState,SaveRaftState}").unwrap();
        assert!(pattern.matches("Persister::SaveRaftState(std::string const&)"));
        assert!(pattern.matches("Persister::saveRaftState() [clone .isra.0]"));
        assert!(!pattern.matches("Persister::save()"));
    }

    /// The built-in profile's layers, as a session records them, attribute frames by stack.
    #[test]
    fn frames_are_attributed_to_layers() {
        let layers = crate::profile::probe_plan::layer_infos(&crate::profile::default_profile());
        let layer = |f: &str| layer_by_membership(&stack(&[f], None), &layers);
        assert_eq!(layer("send"), Some("network"));
        assert_eq!(
            layer("Persister::readRaftState[abi:cxx11]() [clone .cold]"),
            Some("log_io")
        );
        assert_eq!(
            layer("std::basic_ostream<char, std::char_traits<char> >::write(char const*, long)"),
            Some("log_io")
        );
        assert_eq!(layer("Raft::applier()"), Some("consensus"));
        assert_eq!(layer("Raft::kvCommand(unsigned int)"), None);
    }

    #[test]
    fn innermost_layer_wins_and_the_kernel_slot_comes_first() {
        let layers = vec![
            layer(1, "network", &["MprpcChannel::CallMethod"]),
            layer(3, "consensus", &["Raft::sendAppendEntries"]),
        ];
        let s = stack(
            &[
                "start_thread",
                "Raft::sendAppendEntries(int)",
                "MprpcChannel::CallMethod()",
                "syscall",
            ],
            None,
        );
        assert_eq!(layer_of(&s, &layers), Some(("network", Attribution::Stack)));
        let s = stack(&["Raft::sendAppendEntries(int)"], Some("network"));
        assert_eq!(layer_of(&s, &layers), Some(("network", Attribution::Probe)));
        assert_eq!(layer_of(&stack(&["main"], None), &layers), None);
    }
}
