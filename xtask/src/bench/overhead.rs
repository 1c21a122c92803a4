//! `cargo xtask bench --suite overhead`: one run, the same fixture cluster and client load
//! under nothing, tracer (default and `--no-uprobes`), `perf record -F 999 -g`, `strace -f -c`
//! and a bpftrace script collecting what tracer's default collects; throughput, p99 client
//! latency and their ratio to untraced (see `cluster.rs`), in `target/bench/overhead.{md,json}`.
//! The bpftrace script is printed and written to `target/bench/overhead.bt`.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::cluster::{self, Mode, Spec};
use crate::cmd::workspace_root;

pub fn run(runs: &super::ClusterRuns) -> Result<()> {
    cluster::run(runs, |cluster, tracer| {
        let node = &cluster.bins().node;
        let script = bpftrace_script(&probed_functions(tracer, node)?, node, &cluster.pids());
        let path = workspace_root().join("target/bench/overhead.bt");
        std::fs::write(&path, &script)?;
        println!("bench: bpftrace script ({}):\n{script}", path.display());
        Ok(Spec {
            title: "Observer overhead",
            stem: "overhead",
            modes: vec![
                Mode::Untraced,
                Mode::Tracer(&[]),
                Mode::Tracer(&["--no-uprobes"]),
                Mode::Tracer(&["--no-syscalls", "--no-offcpu"]),
                Mode::Perf(999),
                Mode::Strace,
                Mode::Bpftrace {
                    label: "syscalls, stacks, off-CPU, uprobes",
                    script,
                },
                Mode::Bpftrace {
                    label: "empty probes on sys_enter, sys_exit, sched_switch: the floor",
                    script: floor_script(&cluster.pids()),
                },
            ],
            footer: "The floor row is bpftrace with empty probes on the hooks every syscall and \
                     context switch pass through (filtered to the cluster): the price of \
                     hooking them at all on this machine, before any work. \
                     The bpftrace script (per-process syscall latency histograms, user+kernel \
                     stacks at 99 Hz, off-CPU time by stack, uprobe+uretprobe latency on the \
                     functions tracer's default profile probes) is `target/bench/overhead.bt`; \
                     the last round's strace and bpftrace output is kept as \
                     `target/bench/overhead_{strace,bpftrace}.txt`."
                .into(),
        })
    })
}

/// Probes that do nothing on the hooks every syscall and context switch go through, filtered
/// to the cluster's processes: what merely hooking those events costs on this machine (the
/// kernel's slow syscall path, tracepoint dispatch, a BPF program run that returns at once),
/// before any tool does any work. tracer's syscall and off-CPU accounting sit on the same
/// hooks (as BTF tracepoints, which skip the record bpftrace's classic tracepoints format).
fn floor_script(pids: &[u32]) -> String {
    let only = pids
        .iter()
        .map(|p| format!("pid == {p}"))
        .collect::<Vec<_>>()
        .join(" || ");
    format!(
        "tracepoint:raw_syscalls:sys_enter /{only}/ {{ }}\n\
         tracepoint:raw_syscalls:sys_exit /{only}/ {{ }}\n\
         tracepoint:sched:sched_switch /{only}/ {{ }}\n"
    )
}

/// A function tracer's default profile probes in the node binary.
struct Probed {
    /// `Raft::doHeartBeat`
    name: String,
    mangled: String,
    /// Entry probe only (a loop that never returns, or a function that switches stacks).
    entry_only: bool,
}

/// The functions `tracer run` would probe in `node`, as its dry run (`tracer probes`) resolves
/// them: the same list bpftrace gets, by mangled name.
fn probed_functions(tracer: &Path, node: &Path) -> Result<Vec<Probed>> {
    let out = Command::new(tracer)
        .args(["probes", "--json", "--binary"])
        .arg(node)
        .output()
        .context("tracer probes")?;
    if !out.status.success() {
        bail!(
            "tracer probes failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("tracer probes --json")?;
    let mut probed: Vec<Probed> = Vec::new();
    let functions = v["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["resolution"]["functions"].as_array())
        .flatten();
    for f in functions {
        let (Some(mangled), Some(demangled)) = (f["mangled"].as_str(), f["demangled"].as_str())
        else {
            continue;
        };
        if probed.iter().any(|p| p.mangled == mangled) {
            continue;
        }
        let name = demangled.split('(').next().unwrap_or(demangled);
        probed.push(Probed {
            name: name.replace("[abi:cxx11]", ""),
            mangled: mangled.to_string(),
            entry_only: f["entry_only"].as_bool().unwrap_or(false),
        });
    }
    if probed.is_empty() {
        bail!("tracer probes resolved no function in {}", node.display());
    }
    Ok(probed)
}

/// The bpftrace side of the comparison: what `tracer run --pid ...` collects by default, with
/// the same kernel hooks, filtered to the cluster's processes like tracer's target map:
/// - per process and syscall, a latency histogram (whose total is the call count):
///   raw_syscalls sys_enter/sys_exit, as tracer's syscall tables;
/// - user + kernel stacks with the thread name at 99 Hz on every CPU (`profile:hz:99`, a
///   perf CPU-clock event like tracer's sampler), counted in the kernel;
/// - off-CPU time by user stack: sched_switch, counting sleeps only (prev_state S or D), as
///   tracer does;
/// - uprobe + uretprobe latency histograms on every function tracer's default profile
///   probes in this binary, and entry counts on its entry-only ones (same mangled symbols).
///
/// Not done here, so bpftrace does a little less work than tracer: fd kinds, block-device
/// I/O, attributing samples and syscalls to layers, and tracer's probe budget (it removes a
/// function's uprobes above 500 calls/s; bpftrace keeps every probe for the whole run).
fn bpftrace_script(probed: &[Probed], node: &Path, pids: &[u32]) -> String {
    let only = pids
        .iter()
        .map(|p| format!("pid == {p}"))
        .collect::<Vec<_>>()
        .join(" || ");
    let bin = node.display();
    let mut s = format!(
        r#"// Written by `cargo xtask bench --suite overhead` (xtask/src/bench/overhead.rs).
tracepoint:raw_syscalls:sys_enter /{only}/ {{ @sys_start[tid] = nsecs; }}
tracepoint:raw_syscalls:sys_exit /{only}/ {{
  $s = @sys_start[tid];
  if ($s) {{ @syscall_ns[pid, args->id] = hist(nsecs - $s); delete(@sys_start[tid]); }}
}}
tracepoint:sched:sched_process_exit /{only}/ {{ delete(@sys_start[tid]); }}
profile:hz:99 /{only}/ {{ @on_cpu[pid, comm, ustack, kstack] = count(); }}
tracepoint:sched:sched_switch {{
  $s = @off_start[args->next_pid];
  if ($s) {{
    @off_cpu_ns[@off_pid[args->next_pid], @off_stack[args->next_pid]] = sum(nsecs - $s);
    delete(@off_start[args->next_pid]);
    delete(@off_pid[args->next_pid]);
    delete(@off_stack[args->next_pid]);
  }}
  if (({only}) && (args->prev_state & 3)) {{
    @off_start[tid] = nsecs; @off_pid[tid] = pid; @off_stack[tid] = ustack;
  }}
}}
"#
    );
    // One map per function (`@ns_Raft__doHeartBeat[pid]`): bpftrace 0.17 builds a program
    // the verifier rejects (misaligned stack access) for a [pid, "string"] key.
    for (i, f) in probed.iter().enumerate() {
        let map: String = f
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let sym = &f.mangled;
        if f.entry_only {
            let _ = writeln!(
                s,
                "uprobe:{bin}:{sym} /{only}/ {{ @calls_{map}[pid] = count(); }}"
            );
        } else {
            let _ = writeln!(
                s,
                "uprobe:{bin}:{sym} /{only}/ {{ @call_start[tid, {i}] = nsecs; }}\n\
                 uretprobe:{bin}:{sym} /{only}/ {{\n  $s = @call_start[tid, {i}];\n  \
                 if ($s) {{ @ns_{map}[pid] = hist(nsecs - $s); delete(@call_start[tid, {i}]); }}\n}}"
            );
        }
    }
    s
}
