//! Loading tracer's eBPF object into the kernel, attaching its programs, and telling it what to
//! trace. Owns the `aya::Ebpf` handle; dropping [`Attached`] detaches everything.

use anyhow::{anyhow, Context, Result};
use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeLinkId, UProbeScope};
use aya::programs::{BtfTracePoint, PerfEvent, TracePoint, UProbe};
use aya::{Btf, Ebpf, EbpfLoader};
use std::path::Path;
use tracer_common::{
    maps as names, path_hash, FdInfo, FdKey, FdKind, PathBuf as BpfPath, TargetInfo,
};

use super::maps;
use crate::target::procfs::{self, OpenFd};

/// The eBPF object built by build.rs from `tracer-ebpf` (never stale: cargo rebuilds it when
/// the eBPF sources change).
pub(super) static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer"));

/// Tracepoint programs of syscall accounting (`--no-syscalls` leaves them out).
pub const SYSCALL_PROGRAMS: &[&str] = &["sys_enter", "sys_exit"];
/// Tracepoint programs of off-CPU accounting (`--no-offcpu` leaves them out).
pub const OFFCPU_PROGRAMS: &[&str] = &["sched_switch"];

/// The tracepoints we attach, as (program name, category, event).
const TRACEPOINTS: &[(&str, &str, &str)] = &[
    ("task_newtask", "task", "task_newtask"),
    ("signal_deliver", "signal", "signal_deliver"),
    ("sched_process_exit", "sched", "sched_process_exit"),
    ("block_rq_issue", "block", "block_rq_issue"),
    ("block_rq_complete", "block", "block_rq_complete"),
];

/// The BTF tracepoints we attach (`tp_btf`), as (program name, tracepoint): the hottest
/// programs, which get the kernel's typed arguments instead of a formatted record.
const BTF_TRACEPOINTS: &[(&str, &str)] = &[
    ("sys_enter", "sys_enter"),
    ("sys_exit", "sys_exit"),
    ("sched_switch", "sched_switch"),
];

/// tracer's programs, loaded and attached.
pub struct Attached {
    /// Maps are reached only through [`super::maps`].
    pub(super) ebpf: Ebpf,
    /// Per probed function (by id): its entry link and (unless entry-only) return link.
    probe_links: Vec<Option<(UProbeLinkId, Option<UProbeLinkId>)>>,
    /// Processes traced for a while, then judged not what was asked for (discovery: the same
    /// executable as the nodes, but no Raft code ran): their records are left out of every
    /// read ([`super::collect::read`]).
    forgotten: std::collections::HashSet<u32>,
}

impl Attached {
    /// Loads the object and attaches every program but the tracepoint programs named in
    /// `skip`. Needs root and a mounted tracefs (see `target::preflight`). With `uprobes` false
    /// the kernel side never looks up per-thread layers, so `--no-uprobes` costs nothing for
    /// them.
    pub fn load(uprobes: bool, skip: &[&str]) -> Result<Attached> {
        bump_memlock_rlimit();
        let flag: u32 = uprobes as u32;
        let mut ebpf = EbpfLoader::new()
            .override_global(names::UPROBES_ON, &flag, true)
            // THREADS is task-local storage, which aya has no user-space type for; only the
            // kernel side uses it.
            .allow_unsupported_maps()
            .load(EBPF_OBJECT)
            .context(
                "loading tracer's eBPF object into the kernel failed (is this kernel built with \
             CONFIG_BPF_SYSCALL and are you root?)",
            )?;
        for (prog, category, event) in TRACEPOINTS.iter().filter(|t| !skip.contains(&t.0)) {
            let program: &mut TracePoint = ebpf
                .program_mut(prog)
                .ok_or_else(|| anyhow!("eBPF object has no program {prog}"))?
                .try_into()?;
            program
                .load()
                .with_context(|| format!("the kernel's verifier rejected program {prog}"))?;
            program
                .attach(category, event)
                .with_context(|| format!("attaching to tracepoint {category}:{event} failed"))?;
        }
        let mut btf = None;
        for (prog, tracepoint) in BTF_TRACEPOINTS.iter().filter(|t| !skip.contains(&t.0)) {
            let btf = match &mut btf {
                Some(btf) => btf,
                None => btf.insert(Btf::from_sys_fs().context(
                    "reading the kernel's BTF (/sys/kernel/btf/vmlinux) failed: tracer needs a \
                     kernel built with CONFIG_DEBUG_INFO_BTF",
                )?),
            };
            let program: &mut BtfTracePoint = ebpf
                .program_mut(prog)
                .ok_or_else(|| anyhow!("eBPF object has no program {prog}"))?
                .try_into()?;
            program
                .load(tracepoint, btf)
                .with_context(|| format!("the kernel's verifier rejected program {prog}"))?;
            program
                .attach()
                .with_context(|| format!("attaching to BTF tracepoint {tracepoint} failed"))?;
        }
        if uprobes {
            for prog in ["func_entry", "func_return"] {
                let program: &mut UProbe = ebpf
                    .program_mut(prog)
                    .ok_or_else(|| anyhow!("eBPF object has no program {prog}"))?
                    .try_into()?;
                program
                    .load()
                    .with_context(|| format!("the kernel's verifier rejected program {prog}"))?;
            }
        }
        Ok(Attached {
            ebpf,
            probe_links: Vec::new(),
            forgotten: Default::default(),
        })
    }

    /// Probes a function's entry and return in every process running `binary` (the kernel
    /// side keeps only traced processes). `func` and `layer` travel in the attach cookie.
    /// With `entry_only` no uretprobe is attached (see `profile::Layer::entry_only`).
    pub fn probe_function(
        &mut self,
        binary: &Path,
        file_offset: u64,
        func: u32,
        layer: u32,
        entry_only: bool,
    ) -> Result<()> {
        let cookie = (u64::from(layer) << 32) | u64::from(func);
        let entry = self.attach_uprobe("func_entry", binary, file_offset, cookie)?;
        let ret = if entry_only {
            None
        } else {
            Some(self.attach_uprobe("func_return", binary, file_offset, cookie)?)
        };
        let idx = func as usize;
        if self.probe_links.len() <= idx {
            self.probe_links.resize_with(idx + 1, || None);
        }
        self.probe_links[idx] = Some((entry, ret));
        Ok(())
    }

    fn attach_uprobe(
        &mut self,
        prog: &str,
        binary: &Path,
        file_offset: u64,
        cookie: u64,
    ) -> Result<UProbeLinkId> {
        let program: &mut UProbe = self
            .ebpf
            .program_mut(prog)
            .ok_or_else(|| anyhow!("eBPF object has no program {prog}"))?
            .try_into()?;
        program
            .attach(
                UProbeAttachPoint {
                    location: UProbeAttachLocation::AbsoluteOffset(file_offset),
                    cookie: Some(cookie),
                },
                binary,
                UProbeScope::AllProcesses,
            )
            .with_context(|| {
                format!(
                    "attaching a uprobe at offset {file_offset:#x} of {}",
                    binary.display()
                )
            })
    }

    /// Removes the probes of function `func` (too hot to keep): from now on it costs nothing.
    /// The kernel waits for a grace period to remove each uprobe (~0.1 s here), so the links
    /// are taken now and dropped (detached) on a thread of their own: several hot functions
    /// are removed at once instead of one after another, while the run loop goes on.
    pub fn unprobe_function(&mut self, func: u32) -> Result<()> {
        let Some(Some((entry, ret))) = self.probe_links.get_mut(func as usize).map(Option::take)
        else {
            return Ok(());
        };
        let mut owned = Vec::new();
        let links = std::iter::once(("func_entry", entry)).chain(ret.map(|r| ("func_return", r)));
        for (prog, link) in links {
            let program: &mut UProbe = self
                .ebpf
                .program_mut(prog)
                .ok_or_else(|| anyhow!("eBPF object has no program {prog}"))?
                .try_into()?;
            owned.push(program.take_link(link)?);
        }
        std::thread::spawn(move || drop(owned));
        Ok(())
    }

    /// Starts CPU-clock sampling at `freq_hz` on every online CPU (perf's `-F`); the program
    /// keeps only samples of traced processes.
    pub fn start_sampling(&mut self, freq_hz: u64) -> Result<()> {
        let cpus =
            aya::util::online_cpus().map_err(|(path, err)| anyhow!("reading {path}: {err}"))?;
        let program: &mut PerfEvent = self
            .ebpf
            .program_mut("cpu_sample")
            .ok_or_else(|| anyhow!("eBPF object has no program cpu_sample"))?
            .try_into()?;
        program
            .load()
            .context("the kernel's verifier rejected program cpu_sample")?;
        for cpu in cpus {
            program
                .attach(
                    PerfEventConfig::Software(SoftwareEvent::CpuClock),
                    PerfEventScope::AllProcessesOneCpu { cpu },
                    SamplePolicy::Frequency(freq_hz),
                    false,
                )
                .with_context(|| super::explain::explain_sampling_error(freq_hz, cpu))?;
        }
        Ok(())
    }

    /// Starts tracing `pid`. With `follow_children`, processes it forks are traced too.
    /// Seeds the fd table from /proc so fds opened before we attached are classified.
    pub fn add_target(&mut self, pid: u32, root_pid: u32, follow_children: bool) -> Result<()> {
        // A pid reused by a new process is that process.
        self.forgotten.remove(&pid);
        let info = TargetInfo {
            root_tgid: root_pid,
            follow_children: follow_children as u32,
        };
        maps::insert_target(self, pid, info)?;
        self.seed_fds(pid)
    }

    /// Stops tracing `pid` (it exited: its pid may be reused by an unrelated process).
    pub fn remove_target(&mut self, pid: u32) -> Result<()> {
        maps::remove_target(self, pid)
    }

    /// Stops tracing `pid` and leaves what it recorded so far out of every later read: it was
    /// traced only to find out whether it is a target (discovery), and it is not.
    pub fn forget_target(&mut self, pid: u32) -> Result<()> {
        self.forgotten.insert(pid);
        maps::remove_target(self, pid)
    }

    /// Processes whose records every read leaves out (see [`Self::forget_target`]).
    pub fn forgotten(&self) -> &std::collections::HashSet<u32> {
        &self.forgotten
    }

    /// Stops tracing every process (the programs stay attached but record nothing more).
    pub fn clear_targets(&mut self) -> Result<()> {
        for (pid, _) in maps::targets(self)? {
            maps::remove_target(self, pid)?;
        }
        Ok(())
    }

    /// Classifies the fds `pid` has open now. Entries the kernel already has (the process
    /// opened them after we attached) are left alone: they carry the path as it was opened.
    pub fn seed_fds(&mut self, pid: u32) -> Result<()> {
        let mut fds = Vec::new();
        let mut paths = Vec::new();
        for (fd, kind) in procfs::open_fds(pid) {
            let (kind, path_id) = match kind {
                OpenFd::File(p) => {
                    let (buf, len) = BpfPath::new(p.as_os_str().as_encoded_bytes());
                    let id = path_hash(&buf.bytes, len);
                    paths.push((id, buf));
                    (FdKind::File, id)
                }
                OpenFd::Socket => (FdKind::Socket, 0),
                OpenFd::Other => (FdKind::Other, 0),
            };
            let info = FdInfo {
                kind: kind as u32,
                _pad: 0,
                path_id,
            };
            fds.push((FdKey { tgid: pid, fd }, info));
        }
        maps::seed_fds(self, &fds)?;
        maps::seed_paths(self, &paths)
    }
}

impl Attached {
    /// Run count and run time (ns) of each loaded program (kernel BPF statistics, which
    /// `enable_bpf_stats` turns on): the kernel-side cost of tracing.
    pub fn program_stats(&self) -> Vec<(String, u64, u64)> {
        self.ebpf
            .programs()
            .filter_map(|(name, p)| {
                let info = p.info().ok()?;
                Some((
                    name.to_string(),
                    info.run_count(),
                    info.run_time().as_nanos() as u64,
                ))
            })
            .filter(|(_, runs, _)| *runs > 0)
            .collect()
    }
}

/// Turns on the kernel's BPF run-time statistics while the returned fd lives (they cost a
/// clock read pair per program run, so the kernel keeps them off by default and
/// `session::overhead::BpfCostMeter` only keeps them on in short slices).
pub fn enable_bpf_stats() -> Option<std::os::fd::OwnedFd> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime).ok()
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; raising it is harmless on newer ones.
fn bump_memlock_rlimit() {
    let rlim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: valid pointer to a local struct.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rlim) };
}
