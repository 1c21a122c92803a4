//! The short soak CI runs (the long one is `cargo xtask soak --duration 1h`): two minutes of
//! continuous mode on a loaded cluster, with the metrics endpoint scraped every second.
//! Memory must stay flat after the first window, windows must keep coming to the end, and
//! SIGTERM must still write the report.

mod common;

use common::*;
use std::time::Duration;
use tracer_test_support::soak::{self, SoakOpts};

#[test]
fn two_minutes_continuous_memory_stays_flat_and_windows_keep_coming() {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let report = soak::run(&SoakOpts {
        tracer: tracer_bin(),
        duration: Duration::from_secs(120),
        interval: Duration::from_secs(5),
        sample_every: Duration::from_secs(1),
        client_threads: 1,
        out_dir: out.path().join("session"),
    })
    .unwrap();
    eprintln!("{}", report.markdown());
    assert!(
        report.client_ops_per_sec > 0.0,
        "the cluster served the load"
    );
    let failures = report.failures();
    assert!(failures.is_empty(), "{failures:#?}");
}
