//! Test helper for `tests/interrupt.rs`: starts what a bench or demo starts (a launcher
//! cluster, a client under load, a CPU burner), prints their pids as one JSON line, then
//! waits to be interrupted. Whoever interrupts it checks that none of them survives.

use std::time::Duration;
use tracer_test_support::bystander::Bystander;
use tracer_test_support::{ClientOpts, Cluster, ClusterOpts, Variant};

fn main() -> anyhow::Result<()> {
    let cluster = Cluster::start(ClusterOpts {
        launcher: true,
        ..Default::default()
    })?;
    cluster.wait_for_leader(Duration::from_secs(15))?;
    let client = cluster.spawn_client(&ClientOpts {
        ops_per_thread: None,
        duration: Some(Duration::from_secs(600)),
        ..Default::default()
    })?;
    let burner = Bystander::cpu_burner(Variant::Fp)?;
    let mut pids = vec![cluster.launcher_pid().unwrap_or(0)];
    pids.extend(cluster.pids());
    pids.push(client.pid());
    pids.push(burner.pid());
    println!("{{\"pids\":{pids:?}}}");
    std::thread::sleep(Duration::from_secs(600));
    Ok(())
}
