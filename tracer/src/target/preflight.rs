//! Checks that run before anything is attached, so that a run that cannot succeed fails at
//! once with a message that says what to do, and a run that can succeed never loses its report
//! to something that could have been checked up front.

use anyhow::{bail, Context, Result};
use std::path::Path;

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

/// Creates the output directory and proves it is writable, before any tracing starts.
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create output directory {}: choose a writable place with -o DIR",
            dir.display()
        )
    })?;
    let probe = dir.join(".tracer-write-test");
    std::fs::write(&probe, b"ok").with_context(|| {
        format!(
            "output directory {} is not writable: choose a writable place with -o DIR",
            dir.display()
        )
    })?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}
