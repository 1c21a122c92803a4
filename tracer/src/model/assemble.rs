//! Assembling a [`Snapshot`] from what the kernel aggregated ([`KernelData`]) and what user
//! space knows (processes, the probe plan): symbolising stacks, naming syscalls, functions and
//! layers. The last step before everything becomes plain data.

use std::collections::HashMap;

use crate::kernel::collect::{KernelData, RawOffCpu, RawSample};
use crate::model::{
    futex_op_name, syscall_name, CpuProfile, FileRecord, FunctionRecord, OffCpuRecord, ProcessInfo,
    Snapshot, StackRecord, SyscallRecord, SNAPSHOT_SCHEMA_VERSION,
};
use crate::profile::probe_plan::{Detached, ProbePlan};
use crate::symbols::symbolize::{self, StackSymbolizer};
use crate::target::procfs;

/// Symbolises the sampled stacks into a [`CpuProfile`] (frames root first, kernel on top).
pub fn build_profile(
    samples: &[RawSample],
    samples_taken: u64,
    freq_hz: u64,
    plan: &ProbePlan,
    symbolizer: &mut StackSymbolizer,
) -> CpuProfile {
    symbolizer.prefetch(
        samples
            .iter()
            .filter_map(|s| s.user_ips.as_deref().map(|ips| (s.tgid, ips))),
        samples.iter().filter_map(|s| s.kernel_ips.as_deref()),
    );
    let mut stacks: Vec<StackRecord> = Vec::with_capacity(samples.len());
    let mut index: HashMap<(u32, String, u32, Vec<String>), usize> = HashMap::new();
    for s in samples {
        let mut frames = Vec::new();
        let user_truncated = match &s.user_ips {
            Some(ips) => {
                let mut user = symbolizer.user_frames(s.tgid, ips);
                user.reverse();
                frames.extend(user);
                symbolizer.walk_end(s.tgid, ips) == symbolize::WalkEnd::Truncated
            }
            None => true,
        };
        if let Some(ips) = &s.kernel_ips {
            let mut kernel = symbolizer.kernel_frames(ips);
            kernel.reverse();
            frames.extend(kernel);
        }
        if frames.is_empty() {
            frames.push(symbolize::UNKNOWN.to_string());
        }
        // Different addresses can resolve to the same names: merge those stacks.
        let key = (s.tgid, s.thread.clone(), s.layer, frames);
        match index.get(&key) {
            Some(&i) => stacks[i].count += s.count,
            None => {
                index.insert(key.clone(), stacks.len());
                stacks.push(StackRecord {
                    pid: s.tgid,
                    thread: key.1,
                    frames: key.3,
                    count: s.count,
                    user_truncated,
                    layer: plan.layer_name(s.layer),
                });
            }
        }
    }
    stacks.sort_by(|a, b| b.count.cmp(&a.count).then(a.frames.cmp(&b.frames)));
    CpuProfile {
        freq_hz,
        samples: samples_taken,
        stacks,
    }
}

/// Symbolises blocked-time records (frames root first, kernel on top, like samples).
pub fn build_offcpu(
    raw: &[RawOffCpu],
    plan: &ProbePlan,
    symbolizer: &mut StackSymbolizer,
) -> Vec<OffCpuRecord> {
    symbolizer.prefetch(
        raw.iter()
            .filter_map(|s| s.user_ips.as_deref().map(|ips| (s.tgid, ips))),
        raw.iter().filter_map(|s| s.kernel_ips.as_deref()),
    );
    let mut out: Vec<OffCpuRecord> = Vec::new();
    type Key = (u32, String, u32, (u32, u32), Vec<String>);
    let mut index: HashMap<Key, usize> = HashMap::new();
    for r in raw {
        let mut frames = Vec::new();
        if let Some(ips) = &r.user_ips {
            let mut user = symbolizer.user_frames(r.tgid, ips);
            user.reverse();
            frames.extend(user);
        }
        if let Some(ips) = &r.kernel_ips {
            let mut kernel = symbolizer.kernel_frames(ips);
            kernel.reverse();
            frames.extend(kernel);
        }
        let key = (
            r.tgid,
            r.thread.clone(),
            r.layer,
            (r.reason, r.futex_op),
            frames,
        );
        match index.get(&key) {
            Some(&i) => {
                out[i].total_ns += r.total_ns;
                out[i].count += r.count;
            }
            None => {
                index.insert(key.clone(), out.len());
                out.push(OffCpuRecord {
                    pid: r.tgid,
                    thread: key.1,
                    frames: key.4,
                    layer: plan.layer_name(r.layer),
                    reason: if r.reason == tracer_common::OFFCPU_NO_SYSCALL {
                        "no syscall".to_string()
                    } else {
                        syscall_name(r.reason)
                    },
                    futex_op: (r.futex_op != u32::MAX).then(|| futex_op_name(r.futex_op)),
                    total_ns: r.total_ns,
                    count: r.count,
                });
            }
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.total_ns));
    out
}

/// Joins kernel aggregates with what user space knows about the processes.
#[allow(clippy::too_many_arguments)]
pub fn build_snapshot(
    kernel: KernelData,
    plan: &ProbePlan,
    detached: &[Detached],
    mut processes: Vec<ProcessInfo>,
    mut notes: Vec<String>,
    started_at: String,
    duration_s: f64,
    invocation: Vec<String>,
) -> Snapshot {
    // Processes that came and went between two polls still have kernel data: name them.
    for &(pid, ..) in &kernel.syscalls {
        if !processes.iter().any(|p| p.pid == pid) {
            processes.push(ProcessInfo {
                pid,
                comm: "(short-lived)".into(),
                cmdline: vec![],
                root_pid: 0,
                exited_at_s: Some(duration_s),
            });
        }
    }
    processes.sort_by_key(|p| p.pid);
    let mut unknown_fd_calls = 0;
    let syscalls: Vec<SyscallRecord> = kernel
        .syscalls
        .into_iter()
        .map(|(pid, nr, fd_kind, layer, stats)| {
            if fd_kind == crate::model::FdKind::Unknown {
                unknown_fd_calls += stats.count;
            }
            SyscallRecord {
                pid,
                nr,
                name: syscall_name(nr),
                fd_kind,
                layer: plan.layer_name(layer),
                stats,
            }
        })
        .collect();
    if unknown_fd_calls > 0 {
        notes.push(format!(
            "{unknown_fd_calls} calls used fds tracer never saw created (inherited by short-lived \
             children); they are counted, listed as `other`"
        ));
    }
    let files = kernel
        .files
        .into_iter()
        .map(|(pid, nr, path_id, stats)| FileRecord {
            pid,
            path: kernel
                .paths
                .get(&path_id)
                .map(|p| procfs::absolute_for(pid, p))
                .unwrap_or_else(|| "<unknown path>".into()),
            syscall: syscall_name(nr),
            stats,
        })
        .collect();
    notes.extend(plan.warnings.iter().cloned());
    for d in detached {
        if let Some(p) = plan.probes.get(d.func as usize) {
            notes.push(format!(
                "{} was probed until {:.1} s, then unprobed: {:.0} calls/s is over the probe \
                 budget (--probe-budget); its counts cover only that time",
                p.demangled, d.at_s, d.calls_per_s
            ));
        }
    }
    let functions = kernel
        .functions
        .into_iter()
        .filter_map(|f| {
            let probe = plan.probes.get(f.func as usize)?;
            Some(FunctionRecord {
                detached_at_s: detached.iter().find(|d| d.func == f.func).map(|d| d.at_s),
                pid: f.tgid,
                function: probe.demangled.clone(),
                pattern: probe.pattern.clone(),
                layer: probe.layer.clone(),
                entries: f.entries,
                returns: f.returns,
                unmatched_returns: f.unmatched_returns,
                latency: f.latency,
            })
        })
        .collect();
    Snapshot {
        roles: Vec::new(),
        offcpu: Vec::new(),
        disk: None,
        self_cost: None,
        layers: plan.layers.clone(),
        attribution: plan.attribution().to_string(),
        functions,
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        tracer_version: env!("CARGO_PKG_VERSION").into(),
        started_at,
        duration_s,
        invocation,
        processes,
        syscalls,
        files,
        drops: kernel.drops,
        profile: None,
        notes,
    }
}
