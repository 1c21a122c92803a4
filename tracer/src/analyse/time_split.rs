//! Where the time goes, per node: the node's on-CPU samples split into the profile's layers,
//! *no layer* (with the threads and functions that are there) and *tracer itself* — samples
//! taken while the node's thread ran tracer's BPF programs or the uprobe machinery (a
//! syscall tracepoint's program, a uprobe's breakpoint handling). Those are tracer's cost,
//! paid on the node's threads: they are labelled `[tracer]` and kept out of the node's shares,
//! so a layer's share is of the node's own work.
//!
//! In: a [`Snapshot`] with stack samples. Out: one [`NodeSplit`] per node. Never: I/O.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analyse::{cpu, layers, roles};
use crate::model::{Snapshot, StackRecord, KERNEL_SUFFIX};

/// The label of tracer's own samples.
pub const TRACER: &str = "[tracer]";
/// The label of samples in no layer.
pub const NO_LAYER: &str = "no layer";

/// Kernel functions that run only because tracer attached something: BPF programs and their
/// dispatch and helpers (`bpf_prog_<tag>_<name>`, `__bpf_prog_run`, `trace_call_bpf`,
/// `bpf_task_storage_get_recur`, trampolines), the perf side of syscall tracepoints, and uprobe/uretprobe handling.
const TRACER_KERNEL_PREFIXES: &[&str] = &[
    // Programs, their dispatch and the helpers they call (`bpf_task_storage_get_recur`,
    // `bpf_get_stackid`, ...).
    "bpf_",
    "__bpf_",
    "trace_call_bpf",
    "perf_syscall_enter",
    "perf_syscall_exit",
    "perf_trace_run_bpf",
    "uprobe_",
    "__uprobe_",
    "uretprobe_",
    "handle_swbp",
    "handler_chain",
    "handle_trampoline",
    "arch_uprobe_",
    "prepare_uretprobe",
];

/// Whether `frame` is tracer's own work: a kernel frame of [`TRACER_KERNEL_PREFIXES`], or the
/// uprobe trampoline page a uretprobe returns through (`[uprobes]` in the process's maps).
pub fn is_tracer_frame(frame: &str) -> bool {
    match frame.strip_suffix(KERNEL_SUFFIX) {
        Some(k) => TRACER_KERNEL_PREFIXES.iter().any(|p| k.starts_with(p)),
        None => frame.starts_with("[uprobes]") || frame.starts_with("[[uprobes]"),
    }
}

/// Whether a sample was taken inside tracer's own work.
pub fn is_tracer_stack(stack: &StackRecord) -> bool {
    stack.frames.iter().any(|f| is_tracer_frame(f))
}

/// One part of a node's bar.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Part {
    /// A layer's name, [`NO_LAYER`] or [`TRACER`].
    pub name: String,
    pub samples: u64,
    /// Share of the node's own samples (tracer's left out); for [`TRACER`], of all samples.
    pub pct: f64,
}

/// The split of one node's samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeSplit {
    pub pid: u32,
    pub name: String,
    pub role: String,
    /// Every sample of the node, tracer's included.
    pub samples: u64,
    /// Samples inside tracer's work.
    pub tracer_samples: u64,
    /// The layers (profile order, empty ones too), then [`NO_LAYER`]; shares of the node's own
    /// samples (`samples - tracer_samples`).
    pub parts: Vec<Part>,
    /// [`TRACER`], as a share of all the node's samples.
    pub tracer: Part,
    /// Threads with the most samples in no layer (name, share of the node's own samples).
    pub no_layer_threads: Vec<(String, f64)>,
    /// Functions with the most self samples in no layer (name, share of the node's own samples).
    pub no_layer_functions: Vec<(String, f64)>,
}

/// How many threads and functions of *no layer* are named.
pub const TOP: usize = 5;

/// The split of every node (None without stack sampling).
pub fn split(snapshot: &Snapshot) -> Option<Vec<NodeSplit>> {
    let profile = snapshot.profile.as_ref()?;
    Some(
        roles::nodes(snapshot)
            .iter()
            .map(|n| {
                let stacks: Vec<&StackRecord> =
                    profile.stacks.iter().filter(|s| s.pid == n.pid).collect();
                node_split(snapshot, n, &stacks)
            })
            .collect(),
    )
}

fn node_split(snapshot: &Snapshot, node: &roles::Node, stacks: &[&StackRecord]) -> NodeSplit {
    let samples: u64 = stacks.iter().map(|s| s.count).sum();
    let (tracer, own): (Vec<&StackRecord>, Vec<&StackRecord>) =
        stacks.iter().partition(|s| is_tracer_stack(s));
    let tracer_samples: u64 = tracer.iter().map(|s| s.count).sum();
    let own_samples = samples - tracer_samples;
    let pct = |n: u64, of: u64| 100.0 * n as f64 / of.max(1) as f64;
    let mut by_layer: BTreeMap<&str, u64> = BTreeMap::new();
    let mut no_layer: Vec<&StackRecord> = Vec::new();
    for s in &own {
        match layers::layer_of(s, &snapshot.layers) {
            Some((l, _)) => *by_layer.entry(l).or_default() += s.count,
            None => no_layer.push(s),
        }
    }
    let mut parts: Vec<Part> = snapshot
        .layers
        .iter()
        .map(|l| {
            let n = by_layer.get(l.name.as_str()).copied().unwrap_or(0);
            Part {
                name: l.name.clone(),
                samples: n,
                pct: pct(n, own_samples),
            }
        })
        .collect();
    let none: u64 = no_layer.iter().map(|s| s.count).sum();
    parts.push(Part {
        name: NO_LAYER.into(),
        samples: none,
        pct: pct(none, own_samples),
    });
    let mut threads: BTreeMap<String, u64> = BTreeMap::new();
    for s in &no_layer {
        *threads.entry(cpu::group_digits(&s.thread)).or_default() += s.count;
    }
    let mut threads: Vec<(String, u64)> = threads.into_iter().collect();
    threads.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let costs = cpu::symbol_costs(no_layer.iter().copied());
    NodeSplit {
        pid: node.pid,
        name: node.name(),
        role: node.role.clone(),
        samples,
        tracer_samples,
        parts,
        tracer: Part {
            name: TRACER.into(),
            samples: tracer_samples,
            pct: pct(tracer_samples, samples),
        },
        no_layer_threads: threads
            .into_iter()
            .take(TOP)
            .map(|(t, n)| (t, pct(n, own_samples)))
            .collect(),
        no_layer_functions: cpu::top_by_self(&costs, TOP)
            .into_iter()
            .map(|c| (c.symbol.clone(), pct(c.self_samples, own_samples)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned::Canned;

    #[test]
    fn tracer_samples_are_kept_out_of_the_node_shares() {
        let s = Canned::new(10.0)
            .node(1)
            .samples(1, "rpc", &["Raft::AppendEntries1()"], 30)
            .samples(1, "sched", &["Scheduler::run()", "epoll_wait"], 50)
            .samples(
                1,
                "sched",
                &[
                    "Scheduler::run()",
                    "epoll_wait",
                    "do_syscall_64_[k]",
                    "trace_call_bpf_[k]",
                    "bpf_prog_6deef7357e7b4530_on_sys_enter_[k]",
                ],
                20,
            )
            .build();
        let sp = &split(&s).unwrap()[0];
        assert_eq!((sp.samples, sp.tracer_samples), (100, 20));
        assert_eq!(sp.tracer.pct, 20.0);
        let consensus = sp.parts.iter().find(|p| p.name == "consensus").unwrap();
        // 30 of the node's own 80 samples.
        assert_eq!(consensus.pct, 37.5);
        let none = sp.parts.iter().find(|p| p.name == NO_LAYER).unwrap();
        assert_eq!((none.samples, none.pct), (50, 62.5));
        assert_eq!(sp.no_layer_threads[0], ("sched".to_string(), 62.5));
        assert_eq!(sp.no_layer_functions[0].0, "epoll_wait");
        let total: f64 = sp.parts.iter().map(|p| p.pct).sum();
        assert!((total - 100.0).abs() < 1e-9);
    }

    #[test]
    fn tracer_frames() {
        assert!(is_tracer_frame("bpf_prog_6deef7357e7b4530_on_sys_exit_[k]"));
        assert!(is_tracer_frame("uprobe_notify_resume_[k]"));
        assert!(is_tracer_frame("[uprobes]"));
        assert!(is_tracer_frame("bpf_task_storage_get_recur_[k]"));
        assert!(!is_tracer_frame("bpf_prog_like_user_function"));
        assert!(!is_tracer_frame("do_syscall_64_[k]"));
    }
}
