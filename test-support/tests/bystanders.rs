//! The processes that are not nodes, for discovery tests: each is what it claims (a CPU
//! burner on CPU, a shell, the node executable running no Raft code) and none survives its
//! Bystander.

use std::time::Duration;
use tracer_test_support::bystander::Bystander;
use tracer_test_support::{cpu_seconds, fixture_bins, thread_names, Variant};

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn bystanders_are_what_they_claim_and_die_on_drop() {
    let mut burner = Bystander::cpu_burner(Variant::Fp).unwrap();
    let mut shell = Bystander::shell().unwrap();
    let mut idle = Bystander::idle_node_executable(Variant::Fp).unwrap();
    let pids = [burner.pid(), shell.pid(), idle.pid()];
    let cpu0 = cpu_seconds(burner.pid());
    std::thread::sleep(Duration::from_millis(500));
    assert!(burner.is_running() && shell.is_running() && idle.is_running());
    // The burner spins (at least a tenth of a CPU even on a crowded machine: /proc counts
    // in 10 ms ticks); the shell and the idle node do nothing.
    assert!(
        cpu_seconds(burner.pid()) - cpu0 >= 0.05,
        "burner not burning"
    );
    assert_eq!(comm(burner.pid()), "syscall-workloa");
    assert!(thread_names(burner.pid()).iter().any(|t| t == "burn"));
    assert_eq!(comm(shell.pid()), "sh");
    assert_eq!(shell.kind(), "shell");
    // The idle node runs the cluster's executable but started no Raft thread.
    let exe = std::fs::read_link(format!("/proc/{}/exe", idle.pid())).unwrap();
    assert_eq!(
        exe,
        std::fs::canonicalize(fixture_bins(Variant::Fp).unwrap().node).unwrap()
    );
    assert_eq!(thread_names(idle.pid()), vec!["raftkv-node".to_string()]);
    assert!(cpu_seconds(idle.pid()) < 0.05);
    drop((burner, shell, idle));
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} survived"
        );
    }
}
