//! Hand-built snapshots for tests of the findings and of every renderer: a few lines say what
//! a run measured (samples, syscalls, files, off-CPU time, roles, disk) and the rest is filled
//! with the defaults a real session would have (the built-in layer profile, no drops).
//!
//! Test code, never in the library: the integration tests reach it as `common::canned`, and
//! the library's unit tests compile this same file under `#[cfg(test)]` as `tracer::canned`
//! (lib.rs mounts it with `#[path]`). It names tracer's types as `tracer::...`, which works in
//! both (the library aliases itself as `tracer` in test builds). A crate of its own cannot
//! serve the unit tests: it would link a second copy of `tracer` whose `Snapshot` is a
//! different type from the one under test.

use std::collections::BTreeMap;

use tracer::model::{
    CpuProfile, DataDir, DeviceStats, DiskReport, FdKind, FileRecord, FunctionRecord, NodeRoles,
    OffCpuRecord, ProcessInfo, ProcessIo, RoleSpan, Snapshot, StackRecord, Stats, SyscallRecord,
    SNAPSHOT_SCHEMA_VERSION,
};

/// Builder of a [`Snapshot`].
pub struct Canned {
    s: Snapshot,
}

/// Stats of `count` calls of `each_ns` each, `bytes` in total.
pub fn stats(count: u64, each_ns: u64, bytes: u64) -> Stats {
    let mut hist = vec![0u64; 40];
    if count > 0 {
        let b = (63 - each_ns.max(1).leading_zeros()) as usize;
        hist[b.min(39)] = count;
    }
    Stats {
        count,
        errors: 0,
        total_ns: count * each_ns,
        max_ns: if count > 0 { each_ns } else { 0 },
        bytes,
        hist,
        scale: Default::default(),
    }
}

impl Canned {
    /// An empty run of `duration_s` seconds with the default layers and sampling at 99 Hz.
    pub fn new(duration_s: f64) -> Canned {
        let profile = tracer::profile::default_profile();
        Canned {
            s: Snapshot {
                schema_version: SNAPSHOT_SCHEMA_VERSION,
                tracer_version: "test".into(),
                host: "host-a".into(),
                started_at: "2026-01-01T00:00:00+00:00".into(),
                duration_s,
                invocation: vec!["tracer".into(), "run".into()],
                processes: vec![],
                syscalls: vec![],
                files: vec![],
                drops: BTreeMap::from([("stack_collision".to_string(), 0u64)]),
                profile: Some(CpuProfile {
                    freq_hz: 99,
                    samples: 0,
                    stacks: vec![],
                }),
                layers: tracer::profile::probe_plan::layer_infos(&profile),
                attribution: "uprobes".into(),
                functions: vec![],
                roles: vec![],
                offcpu: vec![],
                disk: None,
                self_cost: None,
                accounting: None,
                threads_created: None,
                exits: None,
                memory: None,
                notes: vec![],
                collected: None,
            },
        }
    }

    /// A process `raftkv-node` with this pid.
    pub fn node(mut self, pid: u32) -> Self {
        self.s.processes.push(ProcessInfo {
            pid,
            comm: "raftkv-node".into(),
            cmdline: vec!["raftkv-node".into(), "--id".into(), pid.to_string()],
            root_pid: pid,
            exited_at_s: None,
            host: String::new(),
        });
        self
    }

    /// `count` samples of `thread` in `pid` with these user frames (root first).
    pub fn samples(mut self, pid: u32, thread: &str, frames: &[&str], count: u64) -> Self {
        let p = self.s.profile.get_or_insert_with(CpuProfile::default);
        p.samples += count;
        p.stacks.push(StackRecord::of(pid, thread, frames, count));
        self
    }

    /// No stack sampling in this run.
    pub fn no_profile(mut self) -> Self {
        self.s.profile = None;
        self
    }

    /// A syscall row.
    pub fn syscall(mut self, pid: u32, name: &str, kind: FdKind, st: Stats) -> Self {
        let nr = name.parse::<syscalls::Sysno>().map_or(0, |s| s.id() as u32);
        self.s.syscalls.push(SyscallRecord {
            pid,
            nr,
            name: name.into(),
            fd_kind: kind,
            layer: None,
            stats: st,
        });
        self
    }

    /// A syscall on a file, recorded both as a syscall row and a file row (as collect does).
    pub fn file_io(self, pid: u32, path: &str, name: &str, st: Stats) -> Self {
        let mut me = self.syscall(pid, name, FdKind::File, st.clone());
        me.s.files.push(FileRecord {
            pid,
            path: path.into(),
            syscall: name.into(),
            stats: st,
            layer: None,
            truncating: false,
        });
        me
    }

    pub fn offcpu(
        mut self,
        pid: u32,
        thread: &str,
        frames: &[&str],
        layer: Option<&str>,
        reason: &str,
        total_ns: u64,
    ) -> Self {
        self.s.offcpu.push(OffCpuRecord {
            pid,
            thread: thread.into(),
            frames: frames.iter().map(|f| f.to_string()).collect(),
            layer: layer.map(String::from),
            reason: reason.into(),
            futex_op: None,
            total_ns,
            count: 1,
        });
        self
    }

    /// Role spans `(role, from_s, to_s)` and the heartbeat rate of a node.
    pub fn roles(mut self, pid: u32, spans: &[(&str, f64, f64)], hb: Option<f64>) -> Self {
        self.s.roles.push(NodeRoles {
            pid,
            spans: spans
                .iter()
                .map(|(r, a, b)| RoleSpan {
                    role: r.to_string(),
                    from_s: *a,
                    to_s: *b,
                })
                .collect(),
            heartbeat_per_s: hb,
            inferred: None,
        });
        self
    }

    /// A probed function's entries (and returns, each `each_ns`).
    pub fn function(mut self, pid: u32, function: &str, layer: &str, calls: u64) -> Self {
        self.s.functions.push(FunctionRecord {
            pid,
            function: function.into(),
            pattern: function.into(),
            object: "/opt/kv/bin/raftkv-node".into(),
            layer: layer.into(),
            entries: calls,
            returns: calls,
            unmatched_returns: 0,
            latency: stats(calls, 50_000, 0),
            detached_at_s: None,
        });
        self
    }

    fn disk(&mut self) -> &mut DiskReport {
        self.s.disk.get_or_insert_with(DiskReport::default)
    }

    pub fn device(mut self, name: &str, writes: u64, write_ms: u64) -> Self {
        let d = self.s.duration_s;
        self.disk().devices.push(DeviceStats {
            name: name.into(),
            duration_s: d,
            reads: 0,
            writes,
            read_bytes: 0,
            write_bytes: writes * 4096,
            read_ms: 0,
            write_ms,
            io_ms: write_ms / 2,
            flushes: 0,
            request_latency: None,
        });
        self
    }

    pub fn data_dir(mut self, pid: u32, path: &str, before: Option<u64>, after: u64) -> Self {
        self.disk().data_dirs.push(DataDir {
            pid,
            path: path.into(),
            bytes_before: before,
            bytes_after: after,
        });
        self
    }

    pub fn process_io(mut self, pid: u32, write_bytes: u64) -> Self {
        self.disk().processes.push(ProcessIo {
            pid,
            read_bytes: 0,
            write_bytes,
            rchar: 0,
            wchar: write_bytes,
        });
        self
    }

    /// Records what the run collected: `syscalls`, `uprobes`, `offcpu` (sampling as the
    /// profile says), as `tracer run` does.
    pub fn collected(mut self, syscalls: bool, uprobes: bool, offcpu: bool) -> Self {
        self.s.collected = Some(tracer::model::Collection {
            syscalls,
            uprobes,
            offcpu,
            sampling: self.s.profile.is_some(),
        });
        if !uprobes {
            self.s.attribution = "stacks".into();
        }
        self
    }

    pub fn note(mut self, n: &str) -> Self {
        self.s.notes.push(n.into());
        self
    }

    pub fn build(self) -> Snapshot {
        self.s
    }
}
