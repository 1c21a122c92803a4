//! Every process test-support starts (nodes, launchers, clients, strace, bystanders) dies with
//! the process that started it, also when that process is interrupted: Drop impls kill by pid,
//! but SIGINT/SIGTERM end a process without running them, and an interrupted
//! `cargo xtask bench` used to leave three nodes running.
//!
//! Started pids are kept in a fixed table of atomics (no lock, no allocation), so the signal
//! handler may read it: it SIGKILLs every pid in the table, restores the default action and
//! re-raises the signal, so the process still dies of it (exit status and all) as before.
//! The handler is installed on first use, only for signals whose disposition is still the
//! default: a program with its own SIGINT/SIGTERM handler keeps it and is on its own.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

const SLOTS: usize = 1024;
static PIDS: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
static INSTALL: Once = Once::new();

/// Kill `pid` (SIGKILL) if this process gets SIGINT or SIGTERM before `untrack(pid)`.
/// Idempotent. When the table is full the pid is not tracked (its Drop still kills it).
pub fn track(pid: u32) {
    if pid == 0 {
        return;
    }
    INSTALL.call_once(install);
    if PIDS.iter().any(|p| p.load(Ordering::Relaxed) == pid) {
        return;
    }
    for slot in &PIDS {
        if slot
            .compare_exchange(0, pid, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
    }
}

/// Forgets `pid`. Call before reaping it: once reaped, its number may be reused by an
/// unrelated process that the handler must not kill.
pub fn untrack(pid: u32) {
    for slot in &PIDS {
        let _ = slot.compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// Pids tracked right now (for tests and diagnostics).
pub fn tracked() -> Vec<u32> {
    PIDS.iter()
        .map(|p| p.load(Ordering::Relaxed))
        .filter(|&p| p != 0)
        .collect()
}

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe only: atomic loads, kill(2), sigaction(2), raise(3).
    for slot in &PIDS {
        let pid = slot.load(Ordering::Relaxed);
        if pid != 0 {
            // SAFETY: kill(2) on a pid this process started and has not reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
    // SAFETY: resetting to the default action and re-raising: the process dies of `sig`.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction(2) with zeroed, then filled, structs we own.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                continue;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut act.sa_mask);
            act.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_is_idempotent_and_untrack_forgets() {
        // Pids above the kernel's largest pid_max (2^22): no process can have them.
        track(4_194_401);
        track(4_194_401);
        track(4_194_402);
        let t = tracked();
        assert_eq!(t.iter().filter(|&&p| p == 4_194_401).count(), 1);
        assert!(t.contains(&4_194_402));
        untrack(4_194_401);
        untrack(4_194_402);
        let t = tracked();
        assert!(!t.contains(&4_194_401) && !t.contains(&4_194_402));
    }
}
