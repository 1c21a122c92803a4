//! Checks that run before anything is attached, so that a run that cannot succeed fails at
//! once with a message that says what to do, and a run that can succeed never loses its report
//! to something that could have been checked up front.

use anyhow::{bail, Result};
use std::path::Path;

use crate::output::owner::Owner;
use crate::output::session_dir::SessionDir;

/// Where tracefs is mounted when we mount it ourselves.
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// The oldest kernel tracer runs on: 5.18 gave the `sched_switch` BTF tracepoint its
/// `prev_state` argument, which off-CPU time reads to tell a wait from a preemption.
pub const MIN_KERNEL: (u32, u32) = (5, 18);

/// Where the kernel publishes its own BTF: the BTF tracepoints (`sys_enter`, `sched_switch`)
/// and task-local storage are typed against it.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Fails, naming each missing piece and how to get it, unless this machine can run tracer:
/// x86-64 (the programs read x86-64 registers), Linux >= [`MIN_KERNEL`], and kernel BTF.
/// tracefs is checked (and mounted) by [`ensure_tracefs`].
pub fn require_supported_system() -> Result<()> {
    let (machine, release) = uname();
    let problems = system_problems(&machine, &release, Path::new(VMLINUX_BTF).is_file());
    if !problems.is_empty() {
        bail!(
            "this machine cannot run tracer:\n  - {}",
            problems.join("\n  - ")
        );
    }
    Ok(())
}

/// What is missing, in words with the way out; empty when nothing is.
fn system_problems(machine: &str, release: &str, has_btf: bool) -> Vec<String> {
    let mut out = Vec::new();
    if machine != "x86_64" {
        out.push(format!(
            "the CPU architecture is {machine}; tracer's eBPF programs read x86-64 registers \
             (syscall arguments, frame pointers) and run on x86-64 only"
        ));
    }
    match kernel_version(release) {
        Some(v) if v >= MIN_KERNEL => {}
        Some((major, minor)) => out.push(format!(
            "the kernel is {major}.{minor} ({release}); tracer needs Linux {}.{} or later \
             (the sched_switch tracepoint's prev_state argument): upgrade the kernel, e.g. \
             your distribution's HWE or backports kernel",
            MIN_KERNEL.0, MIN_KERNEL.1
        )),
        None => out.push(format!(
            "the kernel release {release:?} does not start with a version number; tracer \
             needs Linux {}.{} or later",
            MIN_KERNEL.0, MIN_KERNEL.1
        )),
    }
    if !has_btf {
        out.push(format!(
            "{VMLINUX_BTF} is missing: the kernel was built without BTF type information \
             (CONFIG_DEBUG_INFO_BTF=y), which tracer's programs are typed against; use a \
             kernel built with it (the default of current Debian, Ubuntu, Fedora and RHEL \
             kernels)"
        ));
    }
    out
}

/// (major, minor) of a kernel release such as `6.18.0-1-amd64`.
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The machine (`x86_64`) and kernel release (`6.18.0-...`), as `uname -m -r` prints them.
fn uname() -> (String, String) {
    // SAFETY: utsname is plain bytes; uname fills it and cannot fail with a valid pointer.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (field(&u.machine), field(&u.release))
}

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
    fn the_system_check_names_each_missing_requirement() {
        assert!(system_problems("x86_64", "6.18.0-1-amd64", true).is_empty());
        assert!(system_problems("x86_64", "5.18.0", true).is_empty());
        let old = system_problems("x86_64", "5.15.0-91-generic", true);
        assert_eq!(old.len(), 1);
        assert!(
            old[0].contains("5.15") && old[0].contains("5.18"),
            "{old:?}"
        );
        let all = system_problems("aarch64", "4.19.0", false);
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all[0].contains("aarch64") && all[2].contains("CONFIG_DEBUG_INFO_BTF"));
        assert_eq!(system_problems("x86_64", "garbage", true).len(), 1);
        assert_eq!(kernel_version("6.1-rc3"), Some((6, 1)));
        assert_eq!(kernel_version("10.0.0"), Some((10, 0)));
    }

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
