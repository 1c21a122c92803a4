//! Checks that run before anything is attached, so that a run that cannot succeed fails at
//! once with a message that says what to do, and a run that can succeed never loses its report
//! to something that could have been checked up front.

use anyhow::{bail, Result};
use std::path::Path;

use crate::output::owner::Owner;
use crate::output::session_dir::SessionDir;

/// Where tracefs is mounted when we mount it ourselves.
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Fails unless we run as root: loading BPF programs and attaching to tracepoints needs
/// CAP_BPF and CAP_PERFMON, which in practice means root.
pub fn require_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "tracer needs root to load eBPF programs (CAP_BPF, CAP_PERFMON): run it with sudo, \
             e.g. `sudo tracer run ...`"
        );
    }
    Ok(())
}

/// Makes sure tracefs is mounted (syscall tracepoints are found through it). Mounts it at
/// /sys/kernel/tracing when neither that nor /sys/kernel/debug/tracing is mounted.
pub fn ensure_tracefs() -> Result<()> {
    for dir in [TRACEFS, "/sys/kernel/debug/tracing"] {
        if Path::new(dir).join("events").is_dir() {
            return Ok(());
        }
    }
    std::fs::create_dir_all(TRACEFS).ok();
    let src = c"tracefs";
    let target = std::ffi::CString::new(TRACEFS).expect("no NUL");
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            src.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!(
            "tracefs is not mounted and mounting it at {TRACEFS} failed: {err}. \
             Mount it by hand: `mount -t tracefs tracefs {TRACEFS}`"
        );
    }
    if !Path::new(TRACEFS).join("events/raw_syscalls").is_dir() {
        bail!(
            "tracefs is mounted at {TRACEFS} but has no events/raw_syscalls: this kernel lacks \
             syscall tracepoints (CONFIG_FTRACE_SYSCALLS), which tracer needs"
        );
    }
    Ok(())
}

/// Creates the session folder fresh and proves it is writable, before any tracing starts
/// (see [`SessionDir::create`]: never through a symlink, never reusing a folder with content,
/// handed to the user who ran sudo). When the folder is tracer's default name and is taken
/// (two runs in the same second), the next free `_2`, `_3`... is used instead.
pub fn prepare_output_dir(dir: &Path, default_name: bool) -> Result<SessionDir> {
    let owner = Owner::invoking();
    if default_name {
        for n in 1..100 {
            let candidate = match n {
                1 => dir.to_path_buf(),
                _ => {
                    let mut name = dir.as_os_str().to_owned();
                    name.push(format!("_{n}"));
                    name.into()
                }
            };
            if candidate.symlink_metadata().is_err() {
                return SessionDir::create(&candidate, owner);
            }
        }
    }
    SessionDir::create(dir, owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_default_name_gets_the_next_free_suffix_and_a_taken_o_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let taken = tmp.path().join("session_20260101_120000");
        std::fs::create_dir(&taken).unwrap();
        std::fs::write(taken.join("snapshot.json"), "{}").unwrap();
        std::fs::create_dir(tmp.path().join("session_20260101_120000_2")).unwrap();
        let made = prepare_output_dir(&taken, true).unwrap();
        assert_eq!(made.path(), tmp.path().join("session_20260101_120000_3"));
        let e = prepare_output_dir(&taken, false).unwrap_err().to_string();
        assert!(e.contains("already exists") && e.contains("-o DIR"), "{e}");
    }
}
