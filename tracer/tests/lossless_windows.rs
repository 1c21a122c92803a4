//! Windows lose nothing: a 2-thread CPU burner traced at `-F 999 --interval 1s` for 10 s has
//! as many samples taken as the kernel's own CPU accounting of it implies, and every window
//! (and the run) says how many were taken, recorded and lost, and the same for off-CPU
//! events. The totals are not built from the windows alone here: the reference is the
//! burner's CLOCK_PROCESS_CPUTIME_ID (the scheduler's runtime of all its threads).

mod common;

use common::*;
use std::process::{Command, Stdio};
use tracer::model::Tally;
use tracer_test_support::{fixture_bins, workload::BurnReport, Variant};

fn assert_adds_up(what: &str, t: &Tally) {
    let lost: u64 = t.lost.values().sum();
    assert_eq!(
        t.taken,
        t.recorded + lost,
        "{what}: taken = recorded + lost by reason ({t:?})"
    );
}

#[test]
fn samples_taken_match_the_kernels_cpu_time_of_a_burner() {
    require_root();
    let bins = fixture_bins(Variant::Fp).unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(tracer_bin())
        .args(["run", "--freq", "999", "--interval", "1s", "-o"])
        .arg(out.path())
        .arg("--")
        .arg(&bins.workload)
        .args(["--burn-threads", "2", "--burn-ms", "10000"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(run.status.success(), "tracer run failed");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("{\"threads\""))
        .unwrap_or_else(|| panic!("the burner's report on stdout:\n{stdout}"));
    let burn: BurnReport = serde_json::from_str(line).unwrap();

    let total = load_snapshot(out.path());
    let profile = total.profile.as_ref().expect("sampling was on");
    let acct = total.accounting.as_ref().expect("the run's accounting");
    // What the kernel's scheduler accounted to the burner (all threads, exec to report),
    // times the sampling frequency: a CPU-clock event fires every 1e9/999 ns of CPU time on
    // each CPU, and a sample counts for the burner when it is the thread on that CPU.
    let expected = burn.process_cpu_ns as f64 * 999.0 / 1e9;
    let taken = acct.samples.taken as f64;
    eprintln!(
        "burner CPU {} ns x 999 Hz = {expected:.0} samples; taken {taken} ({:+.2}%), recorded {}",
        burn.process_cpu_ns,
        100.0 * (taken - expected) / expected,
        acct.samples.recorded
    );
    // 1%: the timer samples whichever thread is on the CPU at each tick, so each time the
    // burner is switched in or out (other engineers' jobs share these 2 CPUs) the count is
    // off by less than one sample, in either direction: ~10,000 such boundaries in 10 s of a
    // 4 ms scheduler slice give a spread of ~sqrt(10000/12) = 29 samples out of ~20,000
    // (0.15%), so 1% is ~7 times that. A lost increment at each of the ten window closes
    // (what this test exists to catch) costs a whole window's worth of a key's count.
    assert!(
        (taken - expected).abs() <= expected * 0.01,
        "samples taken {taken} vs CPU time x 999 Hz = {expected:.0} ({} ns of CPU)",
        burn.process_cpu_ns
    );
    assert_eq!(profile.samples, acct.samples.taken);
    let recorded: u64 = profile.stacks.iter().map(|s| s.count).sum();
    assert_eq!(
        recorded, acct.samples.recorded,
        "the profile holds every recorded sample"
    );
    assert_adds_up("run samples", &acct.samples);
    assert_adds_up("run off-CPU", &acct.offcpu);
    assert!(
        acct.samples.lost.values().all(|&n| n == 0),
        "nothing lost in so small a run: {:?}",
        acct.samples
    );

    let windows = read_windows(out.path());
    // A window closes once the 50 ms poll finds `--interval` passed since the last one: on a
    // loaded machine polls run late and a 10 s run closes 8 or 9 windows, not 10. Five
    // boundaries are enough for a lost increment to show in the count above.
    assert!(windows.len() >= 5, "a window a second: {}", windows.len());
    let (mut w_taken, mut w_off) = (0, 0);
    for (i, w) in windows.iter().enumerate() {
        let a = w.accounting.as_ref().expect("every window's accounting");
        assert_adds_up(&format!("window {i} samples"), &a.samples);
        assert_adds_up(&format!("window {i} off-CPU"), &a.offcpu);
        let in_profile: u64 = w
            .profile
            .as_ref()
            .map(|p| p.stacks.iter().map(|s| s.count).sum())
            .unwrap_or(0);
        assert_eq!(in_profile, a.samples.recorded, "window {i}");
        w_taken += a.samples.taken;
        w_off += a.offcpu.taken;
    }
    assert_eq!(w_taken, acct.samples.taken);
    assert_eq!(w_off, acct.offcpu.taken);
}
