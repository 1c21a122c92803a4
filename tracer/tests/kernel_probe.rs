//! The kernel side on its own, without the C++ fixture (like aya's `uprobe_cookie` test): this
//! test binary loads tracer's real eBPF object through `kernel::attach::Attached`, probes two
//! `#[no_mangle]` functions of its own, calls them exactly N times and checks what the typed
//! readers of `kernel::maps` return: exact `FUNC_STATS` entries and returns, a latency
//! histogram of N calls, the syscall made inside a probed function charged to its layer, and
//! the kernel's path id of a file opened with a 300-byte path equal to user space's
//! `path_id`. Root only; it fails (never skips) without root.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tracer::kernel::attach::{self, Attached};
use tracer::kernel::maps;
use tracer_common::{FdKind, FuncKey, SyscallKey};

/// Calls of each probed function.
const N: u64 = 1000;
/// Ids and layer travel in the uprobe cookie, as `session` attaches plan functions.
const FUNC_WITH_RETURN: u32 = 3;
const FUNC_ENTRY_ONLY: u32 = 4;
const LAYER: u32 = 2;

/// Probed with entry and return: one `getppid` syscall inside, which the kernel side must
/// charge to `LAYER` (the innermost active probed call's layer).
#[no_mangle]
#[inline(never)]
pub extern "C" fn tracer_kernel_test_probed(x: u64) -> u64 {
    // SAFETY: getppid has no arguments and cannot fail. Called through syscall(2) so that no
    // libc cache can skip the kernel.
    let ppid = unsafe { libc::syscall(libc::SYS_getppid) } as u64;
    std::hint::black_box(x.wrapping_mul(31) ^ ppid)
}

/// Probed at entry only, as `entry_only` layer functions are: functions that do not return
/// on the thread that entered them (they switch stacks, or loop forever). Their entry stays on
/// the thread's stack of active calls, so the test calls it once per thread.
#[no_mangle]
#[inline(never)]
pub extern "C" fn tracer_kernel_test_entry_only(x: u64) -> u64 {
    std::hint::black_box(x.rotate_left(7))
}

fn file_offset_of(binary: &Path, symbol: &str) -> u64 {
    let elf = tracer::symbols::elf::read_functions(binary).expect("read own ELF symbols");
    elf.functions
        .iter()
        .find(|f| f.mangled == symbol)
        .unwrap_or_else(|| panic!("{symbol} is not a function symbol of {}", binary.display()))
        .file_offset
}

/// A path of more than `PATH_LEN` bytes under `root`: nested 60-byte directory names.
fn long_path(root: &Path) -> PathBuf {
    let mut dir = root.to_path_buf();
    for i in 0..5 {
        dir.push(format!("{i}{}", "d".repeat(59)));
    }
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("raft.log");
    assert!(path.as_os_str().len() > 300, "{}", path.display());
    path
}

#[test]
fn probed_functions_count_exactly_and_charge_their_syscalls_to_their_layer() {
    common::require_root();
    tracer::target::preflight::ensure_tracefs().expect("tracefs mounted");
    let exe = std::env::current_exe().unwrap();
    let pid = std::process::id();

    let mut attached =
        Attached::load(true, attach::OFFCPU_PROGRAMS).expect("load tracer's eBPF object");
    let with_return = file_offset_of(&exe, "tracer_kernel_test_probed");
    let entry_only = file_offset_of(&exe, "tracer_kernel_test_entry_only");
    attached
        .probe_function(&exe, with_return, FUNC_WITH_RETURN, LAYER, false)
        .unwrap();
    attached
        .probe_function(&exe, entry_only, FUNC_ENTRY_ONLY, LAYER, true)
        .unwrap();
    attached.add_target(pid, pid, false).unwrap();

    let mut acc = 0u64;
    for i in 0..N {
        acc ^= tracer_kernel_test_probed(i);
    }
    std::hint::black_box(acc);
    for i in 0..N {
        std::thread::spawn(move || tracer_kernel_test_entry_only(i))
            .join()
            .unwrap();
    }

    // Files opened after attaching: the kernel side hashes the path passed to openat.
    let dir = tempfile::tempdir().unwrap();
    let long = long_path(dir.path());
    let short = dir.path().join("short.log");
    for path in [&long, &short] {
        std::fs::write(path, b"x").unwrap();
    }
    attached.remove_target(pid).unwrap();

    // FUNC_STATS: exact counts, a histogram of exactly N returns.
    let stats: HashMap<FuncKey, tracer_common::FuncStats> = maps::function_stats(&attached)
        .unwrap()
        .into_iter()
        .collect();
    let f = stats[&FuncKey {
        tgid: pid,
        func: FUNC_WITH_RETURN,
    }];
    assert_eq!(
        (f.entries, f.returns, f.unmatched_returns),
        (N, N, 0),
        "entries, returns, unmatched returns of the probed function"
    );
    assert_eq!(f.hist.iter().sum::<u64>(), N, "latency histogram count");
    assert!(f.total_ns > 0 && f.max_ns > 0 && f.max_ns <= f.total_ns);
    let e = stats[&FuncKey {
        tgid: pid,
        func: FUNC_ENTRY_ONLY,
    }];
    assert_eq!((e.entries, e.returns, e.unmatched_returns), (N, 0, 0));
    assert_eq!(e.hist.iter().sum::<u64>(), 0);
    assert_eq!(
        stats.len(),
        2,
        "only this process's two functions: {stats:?}"
    );

    // The merged entries reader agrees, per function and per process.
    let entries = maps::FunctionEntries::read(&attached).unwrap();
    assert_eq!(entries.per_function()[&FUNC_WITH_RETURN], N);
    assert_eq!(
        entries.per_process(&[FUNC_WITH_RETURN, FUNC_ENTRY_ONLY])[&pid],
        2 * N
    );

    // SYSCALL_STATS: every getppid was made inside the probed function, so in its layer.
    let syscalls = maps::syscall_stats(&attached).unwrap();
    let getppid: Vec<(SyscallKey, u64)> = syscalls
        .iter()
        .filter(|(k, _)| k.tgid == pid && k.nr == libc::SYS_getppid as u32)
        .map(|(k, s)| (*k, s.count))
        .collect();
    assert_eq!(
        getppid,
        vec![(
            SyscallKey {
                tgid: pid,
                nr: libc::SYS_getppid as u32,
                fd_kind: FdKind::None as u32,
                layer: LAYER,
            },
            N
        )],
        "getppid calls by layer"
    );

    // PATHS and FILE_STATS: the kernel's id of each path is user space's path_id, the long
    // path stored truncated to its first 255 bytes.
    let paths = maps::take_paths(&mut attached).unwrap();
    let files = maps::file_stats(&attached).unwrap();
    for path in [&long, &short] {
        let bytes = path.as_os_str().as_encoded_bytes();
        let id = tracer_common::path_id(bytes);
        let stored = paths
            .get(&id)
            .unwrap_or_else(|| panic!("no PATHS entry with user space's id of {path:?}"));
        let kept = &bytes[..bytes.len().min(tracer_common::PATH_LEN - 1)];
        assert_eq!(stored.as_bytes(), kept);
        let writes: u64 = files
            .iter()
            .filter(|(k, _)| k.tgid == pid && k.path_id == id && k.nr == libc::SYS_write as u32)
            .map(|(_, s)| s.count)
            .sum();
        assert_eq!(writes, 1, "writes to {path:?} under its path id");
    }

    // Nothing was lost.
    let lost: Vec<_> = maps::drops(&attached)
        .unwrap()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(lost.is_empty(), "drops: {lost:?}");
}
