//! Assembling a [`Snapshot`] from what the kernel aggregated ([`KernelData`]) and what user
//! space knows (processes, the probe plan): symbolising stacks, naming syscalls, functions and
//! layers. The last step before everything becomes plain data.

use std::collections::HashMap;

use crate::kernel::collect::{thread_name, KernelData, RawOffCpu, RawSample, RawThreadSite};
use crate::model::{
    futex_op_name, signal_name, syscall_name, CpuProfile, FileRecord, FunctionRecord, OffCpuRecord,
    ProcessExit, ProcessInfo, Snapshot, StackRecord, SyscallRecord, ThreadCreation,
    SNAPSHOT_SCHEMA_VERSION,
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
    prefetch(
        symbolizer,
        samples.iter().map(|s| (s.tgid, &s.user_ips, &s.kernel_ips)),
    );
    let mut stacks = merge_same(
        samples.iter().map(|s| {
            let user_truncated = match &s.user_ips {
                Some(ips) => symbolizer.walk_end(s.tgid, ips) == symbolize::WalkEnd::Truncated,
                None => true,
            };
            let walk_broke_in = match &s.user_ips {
                Some(ips) if user_truncated => symbolizer.walk_broke_in(s.tgid, ips),
                _ => None,
            };
            let mut frames = frames_of(symbolizer, s.tgid, &s.user_ips, &s.kernel_ips);
            if frames.is_empty() {
                frames.push(symbolize::UNKNOWN.to_string());
            }
            let key = (s.tgid, s.thread.clone(), s.layer, frames.clone());
            let record = StackRecord {
                pid: s.tgid,
                thread: s.thread.clone(),
                frames,
                count: s.count,
                user_truncated,
                walk_broke_in,
                layer: plan.layer_name(s.layer),
            };
            (key, record)
        }),
        |into, more| into.count += more.count,
    );
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
    prefetch(
        symbolizer,
        raw.iter().map(|r| (r.tgid, &r.user_ips, &r.kernel_ips)),
    );
    let mut out = merge_same(
        raw.iter().map(|r| {
            let frames = frames_of(symbolizer, r.tgid, &r.user_ips, &r.kernel_ips);
            let key = (
                r.tgid,
                r.thread.clone(),
                r.layer,
                (r.reason, r.futex_op),
                frames.clone(),
            );
            let record = OffCpuRecord {
                pid: r.tgid,
                thread: r.thread.clone(),
                frames,
                layer: plan.layer_name(r.layer),
                reason: if r.reason == tracer_common::OFFCPU_NO_SYSCALL {
                    "no syscall".to_string()
                } else {
                    syscall_name(r.reason)
                },
                futex_op: (r.futex_op != u32::MAX).then(|| futex_op_name(r.futex_op)),
                total_ns: r.total_ns,
                count: r.count,
            };
            (key, record)
        }),
        |into, more| {
            into.total_ns += more.total_ns;
            into.count += more.count;
        },
    );
    out.sort_by_key(|r| std::cmp::Reverse(r.total_ns));
    out
}

/// Symbolises thread creations (the creating user stack, root first), merging call sites
/// that resolve to the same names.
pub fn build_thread_creations(
    raw: &[RawThreadSite],
    symbolizer: &mut StackSymbolizer,
) -> Vec<ThreadCreation> {
    let none = None;
    prefetch(symbolizer, raw.iter().map(|r| (r.tgid, &r.user_ips, &none)));
    merge_same(
        raw.iter().map(|r| {
            let frames = frames_of(symbolizer, r.tgid, &r.user_ips, &None);
            let key = (r.tgid, r.thread.clone(), frames.clone());
            let record = ThreadCreation {
                pid: r.tgid,
                thread: r.thread.clone(),
                frames,
                count: r.count,
            };
            (key, record)
        }),
        |into, more| into.count += more.count,
    )
}

/// Adds `more` thread creations into the running `into`.
pub fn merge_thread_creations(into: &mut Vec<ThreadCreation>, more: &[ThreadCreation]) {
    for m in more {
        match into
            .iter_mut()
            .find(|t| t.pid == m.pid && t.thread == m.thread && t.frames == m.frames)
        {
            Some(t) => t.count += m.count,
            None => into.push(m.clone()),
        }
    }
}

/// How the processes ended, from `EXITS`, timed against the run: the kernel's clock read
/// `now_ns` (CLOCK_MONOTONIC) is `now_s` seconds into the run. Entries that saw only the main
/// thread's exit (no exit call, no signal: SIGKILL, or an exit before tracing) give no record;
/// their names still serve [`exit_names`].
pub fn build_exits(
    raw: &[(u32, tracer_common::ExitRecord)],
    now_ns: u64,
    now_s: f64,
    symbolizer: &mut StackSymbolizer,
) -> Vec<ProcessExit> {
    let mut out: Vec<ProcessExit> = raw
        .iter()
        .filter(|(_, e)| e.kind != tracer_common::EXIT_SEEN)
        .map(|(pid, e)| {
            let ips: Vec<u64> = e.stack[..(e.stack_bytes as usize / 8).min(e.stack.len())]
                .iter()
                .copied()
                .filter(|&ip| ip != 0)
                .collect();
            let frames = if ips.is_empty() {
                Vec::new()
            } else {
                frames_of(symbolizer, *pid, &Some(ips), &None)
            };
            let signal = e.kind == tracer_common::EXIT_SIGNAL;
            ProcessExit {
                pid: *pid,
                at_s: (now_s - now_ns.saturating_sub(e.at_ns) as f64 / 1e9).max(0.0),
                thread: thread_name(&e.thread),
                tid: e.tid,
                exit_code: (!signal).then_some(e.code),
                signal: signal.then(|| signal_name(e.code)),
                frames,
            }
        })
        .collect();
    out.sort_by(|a, b| a.at_s.total_cmp(&b.at_s).then(a.pid.cmp(&b.pid)));
    out
}

/// The names processes had when their main thread exited (pid → comm), from `EXITS`.
pub fn exit_names(raw: &[(u32, tracer_common::ExitRecord)]) -> HashMap<u32, String> {
    raw.iter()
        .filter(|(_, e)| e.comm[0] != 0)
        .map(|(pid, e)| (*pid, thread_name(&e.comm)))
        .collect()
}

/// The raw stacks of a batch of records: the process, its user and kernel stacks (leaf first,
/// as the kernel records them).
type RawStack<'a> = (u32, &'a Option<Vec<u64>>, &'a Option<Vec<u64>>);

/// Resolves every address of a batch at once (one lookup per distinct address and process),
/// so naming each stack afterwards only reads caches.
fn prefetch<'a>(symbolizer: &mut StackSymbolizer, stacks: impl Iterator<Item = RawStack<'a>>) {
    let stacks: Vec<RawStack> = stacks.collect();
    symbolizer.prefetch(
        stacks
            .iter()
            .filter_map(|(tgid, user, _)| user.as_deref().map(|ips| (*tgid, ips))),
        stacks.iter().filter_map(|(_, _, kernel)| kernel.as_deref()),
    );
}

/// The frames of one stack, root first: user frames, then kernel frames on top.
fn frames_of(
    symbolizer: &mut StackSymbolizer,
    tgid: u32,
    user: &Option<Vec<u64>>,
    kernel: &Option<Vec<u64>>,
) -> Vec<String> {
    let mut frames = Vec::new();
    if let Some(ips) = user {
        let mut names = symbolizer.user_frames(tgid, ips);
        names.reverse();
        frames.extend(names);
    }
    if let Some(ips) = kernel {
        let mut names = symbolizer.kernel_frames(ips);
        names.reverse();
        frames.extend(names);
    }
    frames
}

/// Records in first-seen order, those with the same key summed with `add`: different
/// addresses can resolve to the same names, and such stacks are one stack to a reader.
fn merge_same<K: std::hash::Hash + Eq, R>(
    records: impl Iterator<Item = (K, R)>,
    add: impl Fn(&mut R, R),
) -> Vec<R> {
    let mut out: Vec<R> = Vec::new();
    let mut index: HashMap<K, usize> = HashMap::new();
    for (key, record) in records {
        match index.get(&key) {
            Some(&i) => add(&mut out[i], record),
            None => {
                index.insert(key, out.len());
                out.push(record);
            }
        }
    }
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
                host: String::new(),
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
        .map(|f| FileRecord {
            pid: f.tgid,
            path: kernel
                .paths
                .get(&f.path_id)
                .map(|p| procfs::absolute_for(f.tgid, p))
                .unwrap_or_else(|| "<unknown path>".into()),
            syscall: syscall_name(f.nr),
            stats: f.stats,
            layer: plan.layer_name(f.layer),
            truncating: f.flags & tracer_common::FILE_OPEN_TRUNC != 0,
        })
        .collect();
    notes.extend(plan.warnings.iter().cloned());
    // One note for all of them, each function by its short name (the full signature is in
    // the function files): a busy node can send a dozen functions over the budget.
    let unprobed: Vec<String> = detached
        .iter()
        .filter_map(|d| {
            let p = plan.probes.get(d.func as usize)?;
            Some(format!(
                "{} (at {:.1} s, {:.0} calls/s)",
                crate::cpp_names::qualified_name(&p.demangled),
                d.at_s,
                d.calls_per_s
            ))
        })
        .collect();
    match unprobed.len() {
        0 => {}
        1 => notes.push(format!(
            "1 function over the probe budget (--probe-budget) was unprobed mid-run, its counts \
             cover only the time before: {}",
            unprobed[0]
        )),
        n => notes.push(format!(
            "{n} functions over the probe budget (--probe-budget) were unprobed mid-run, their \
             counts cover only the time before: {}",
            unprobed.join(", ")
        )),
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
                object: probe.object.display().to_string(),
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
        accounting: None,
        threads_created: None,
        exits: None,
        memory: None,
        layers: plan.layers.clone(),
        attribution: plan.attribution().to_string(),
        functions,
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        tracer_version: env!("CARGO_PKG_VERSION").into(),
        host: String::new(),
        started_at,
        duration_s,
        invocation,
        processes,
        syscalls,
        files,
        drops: kernel.drops,
        profile: None,
        notes,
        collected: None,
    }
}
