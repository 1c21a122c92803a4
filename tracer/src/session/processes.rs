//! The traced processes as user space knows them: named when first seen, renamed when they
//! exec, marked when they exit. The kernel side follows forks by itself (`TARGETS`); these
//! functions catch up with it.

use anyhow::Result;
use std::collections::BTreeMap;

use crate::kernel::attach::Attached;
use crate::kernel::maps;
use crate::model::ProcessInfo;
use crate::symbols::symbolize::StackSymbolizer;
use crate::target::procfs;

/// Pids of the processes still alive.
pub(super) fn live(processes: &BTreeMap<u32, ProcessInfo>) -> Vec<u32> {
    processes
        .values()
        .filter(|p| p.exited_at_s.is_none())
        .map(|p| p.pid)
        .collect()
}

/// Adds processes the kernel started tracing (forked children) to `processes`, naming them and
/// classifying the fds they inherited. Returns the pids seen for the first time.
pub(super) fn discover(
    attached: &mut Attached,
    processes: &mut BTreeMap<u32, ProcessInfo>,
    symbolizer: &StackSymbolizer,
) -> Result<Vec<u32>> {
    let mut new = Vec::new();
    for (pid, info) in maps::targets(attached)? {
        if processes.contains_key(&pid) {
            continue;
        }
        new.push(pid);
        attached.seed_fds(pid)?;
        symbolizer.remember_process(pid);
        processes.insert(
            pid,
            ProcessInfo {
                pid,
                comm: procfs::comm(pid).unwrap_or_else(|| "?".into()),
                cmdline: procfs::cmdline(pid),
                root_pid: info.root_tgid,
                exited_at_s: None,
                host: String::new(),
            },
        );
    }
    Ok(new)
}

/// Takes the name and command line a process has now (it exec'd since we named it).
pub(super) fn refresh_name(p: &mut ProcessInfo, symbolizer: &StackSymbolizer) {
    if let Some(comm) = procfs::comm(p.pid) {
        if comm != p.comm {
            p.comm = comm;
            p.cmdline = procfs::cmdline(p.pid);
            // It exec'd: its memory maps are new.
            symbolizer.remember_process(p.pid);
        }
    }
}
