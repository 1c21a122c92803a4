//! The forks of issue 19, traced for real: the Raft core in a shared library (the executable
//! holds only `main`), over mprpc or gRPC. The default profile finds every layer in the
//! library, every probed call count equals what the node counted itself, each function names
//! its library, and the leader is found. A library `dlopen`ed after the start is probed when it
//! appears.

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tracer::model::Snapshot;
use tracer_test_support::{ClientMode, ClientOpts, Cluster, ClusterOpts, GroundTruth, Variant};

fn wait(child: &mut Child, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "tracer failed: {st}");
            return;
        }
        assert!(Instant::now() < deadline, "tracer did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Traces a paused cluster of `variant` from its first instruction to its exit, under a
/// little client load.
fn traced_cluster(variant: Variant, tracer_args: &[&str]) -> (Snapshot, Vec<GroundTruth>) {
    require_root();
    let out = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(ClusterOpts {
        variant,
        start_paused: true,
        ..ClusterOpts::default()
    })
    .unwrap();
    let mut args: Vec<String> = vec!["-o".into(), out.path().display().to_string()];
    args.extend(tracer_args.iter().map(|s| s.to_string()));
    let mut tracer = start_tracer(&with_pids(args, &cluster.pids()));
    cluster.resume().unwrap();
    cluster.wait_for_leader(Duration::from_secs(15)).unwrap();
    let report = cluster
        .run_client(&ClientOpts {
            threads: 2,
            ops_per_thread: Some(100),
            duration: None,
            mode: ClientMode::Put,
            value_bytes: 0,
            rate_per_thread: None,
        })
        .unwrap();
    assert_eq!(report.ops, 200);
    let truths = cluster.stop().unwrap();
    wait(&mut tracer, Duration::from_secs(60));
    (load_snapshot(out.path()), truths)
}

fn final_role(s: &Snapshot, pid: u32) -> Option<&str> {
    s.roles
        .iter()
        .find(|r| r.pid == pid)
        .and_then(|r| r.final_role())
}

#[test]
fn shared_library_forks_probe_every_layer_with_exact_counts_and_roles() {
    for variant in [Variant::SharedLib, Variant::GrpcSharedLib] {
        let (snap, truths) = traced_cluster(variant, &["--no-sample", "--probe-budget", "0"]);
        assert_eq!(snap.attribution, "uprobes", "{variant:?}");
        assert!(
            count_drops(&snap).is_empty(),
            "lost events: {:?}",
            snap.drops
        );
        for layer in ["network", "log_io", "consensus"] {
            assert!(
                snap.functions
                    .iter()
                    .any(|f| f.layer == layer && f.entries > 0),
                "{variant:?}: no calls in {layer}"
            );
        }
        // Every function was found in the library, and says so.
        assert!(
            snap.functions
                .iter()
                .all(|f| f.object_name() == "libraftcore.so"),
            "{variant:?}: {:?}",
            snap.functions
                .iter()
                .map(|f| (&f.function, &f.object))
                .collect::<Vec<_>>()
        );
        let mut checked = std::collections::BTreeSet::new();
        for t in &truths {
            assert!(t.quiesced);
            for (method, &expected) in &t.calls {
                if let Some(got) = probed_entries(&snap, t.pid, method) {
                    assert_eq!(got, expected, "{variant:?}: {method} on node {}", t.node_id);
                    checked.insert(method.as_str());
                }
            }
            assert_eq!(
                final_role(&snap, t.pid),
                Some(t.final_role.as_str()),
                "{variant:?}: node {} roles {:?}",
                t.node_id,
                snap.roles
            );
        }
        eprintln!("{variant:?}: counts equal the fixture's for {checked:?}");
        // Each layer's calls of this layout (a method some node called at least once).
        let want: &[&str] = if variant.is_grpc() {
            &[
                "raftrpc::RaftService::Stub::AppendEntries",
                "RaftGrpcService::AppendEntries",
                "KvServer::Put",
                "KvServer::Status",
                "Persister::SaveRaftState",
                "Persister::ReadRaftState",
                "Raft::AppendEntries1",
                "Raft::sendAppendEntries",
                "Raft::doHeartBeat",
                "Raft::applier",
            ]
        } else {
            &[
                "MprpcChannel::CallMethod",
                "ConnectionPool::getConnection",
                "RpcProvider::OnMessage",
                "KvServer::PutAppend",
                "Persister::saveRaftState",
                "Persister::readRaftState",
                "Raft::AppendEntries1",
                "Raft::sendAppendEntries",
                "Raft::doHeartBeat",
                "Raft::applier",
            ]
        };
        for m in want {
            assert!(
                checked.contains(m),
                "{variant:?}: {m} not counted: {checked:?}"
            );
        }
    }
}

/// A tiny program that `dlopen`s a plugin a while after it started, waits, then calls the
/// plugin's function N times: the plugin is not among the executable's DT_NEEDED, so only a
/// look at the process's maps during the run finds it.
fn build_dlopen_program(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let plugin_src = dir.join("plugin.cpp");
    std::fs::write(
        &plugin_src,
        r#"
#include <unistd.h>
namespace plugin {
__attribute__((noinline)) long work(long x) { asm volatile(""); return x * 2 + 1; }
}
extern "C" long plugin_entry(long n) { long s = 0; for (long i = 0; i < n; i++) s += plugin::work(i); return s; }
"#,
    )
    .unwrap();
    let main_src = dir.join("main.cpp");
    std::fs::write(
        &main_src,
        r#"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char** argv) {
    usleep(300 * 1000);                       // tracer plans and attaches meanwhile
    void* h = dlopen(argv[1], RTLD_NOW);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); return 2; }
    usleep(1500 * 1000);                      // tracer sees the new mapping and probes it
    long (*entry)(long) = (long (*)(long))dlsym(h, "plugin_entry");
    printf("%ld\n", entry(atol(argv[2])));
    return 0;
}
"#,
    )
    .unwrap();
    let plugin = dir.join("libplugin.so");
    let main = dir.join("dlopener");
    for (args, what) in [
        (
            vec![
                "-O1".into(),
                "-fPIC".into(),
                "-shared".into(),
                "-o".into(),
                plugin.display().to_string(),
                plugin_src.display().to_string(),
            ],
            "plugin",
        ),
        (
            vec![
                "-O1".into(),
                "-o".into(),
                main.display().to_string(),
                main_src.display().to_string(),
                "-ldl".into(),
            ],
            "program",
        ),
    ] {
        let st = Command::new("g++").args(&args).status().unwrap();
        assert!(st.success(), "building the {what}");
    }
    (main, plugin)
}

#[test]
fn a_library_dlopened_after_the_start_is_probed_when_it_appears() {
    require_root();
    let dir = world_readable_tempdir();
    let (program, plugin) = build_dlopen_program(dir.path());
    let profile = dir.path().join("plugin.toml");
    std::fs::write(
        &profile,
        "[[layer]]\nname = \"plugin\"\nfolder = \"plugin\"\nfunctions = [\"plugin::work\"]\n",
    )
    .unwrap();
    let out = dir.path().join("session");
    let calls = 40;
    let output = tracer_run(&[
        "-o",
        out.to_str().unwrap(),
        "--no-sample",
        "--probe-budget",
        "0",
        "--profile",
        profile.to_str().unwrap(),
        "--",
        program.to_str().unwrap(),
        plugin.to_str().unwrap(),
        &calls.to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("probing plugin::work(long) in libplugin.so (mapped after the start)"),
        "{stderr}"
    );
    let snap = load_snapshot(&out);
    let f: Vec<_> = snap
        .functions
        .iter()
        .filter(|f| f.function.starts_with("plugin::work"))
        .collect();
    assert_eq!(f.len(), 1, "{:?}", snap.functions);
    assert_eq!(
        f[0].entries, calls,
        "every call after the dlopen is counted"
    );
    assert_eq!(f[0].returns, calls);
    assert_eq!(f[0].object_name(), "libplugin.so");
    assert_eq!(snap.attribution, "uprobes");
}

/// Without uprobes no role function is probed: the leader is still named, from the stacks
/// (samples and blocked waits inside `Raft::doHeartBeat` / `Raft::sendAppendEntries`), and
/// marked inferred with the evidence.
#[test]
fn without_uprobes_the_leader_is_inferred_from_stacks() {
    for variant in [Variant::SharedLib, Variant::GrpcSharedLib] {
        let (snap, truths) = traced_cluster(variant, &["--no-uprobes", "-F", "999"]);
        assert_eq!(snap.attribution, "stacks");
        assert!(snap.functions.is_empty());
        eprintln!("{variant:?}: roles {:#?}", snap.roles);
        for t in &truths {
            let r = snap.roles.iter().find(|r| r.pid == t.pid);
            let r = r.unwrap_or_else(|| panic!("{variant:?}: node {} has no role", t.node_id));
            assert_eq!(
                r.final_role(),
                Some(t.final_role.as_str()),
                "{variant:?}: node {}: {:?}",
                t.node_id,
                r.inferred
            );
            let why = r.inferred.as_deref().expect("marked inferred");
            assert!(why.starts_with("inferred without probes"), "{why}");
        }
        assert!(
            snap.notes
                .iter()
                .any(|n| n.contains("roles were inferred from stacks")),
            "{:?}",
            snap.notes
        );
    }
}

/// `-- CMD` with `--duration`: a command still running at the end is stopped as timeout(1)
/// does (SIGTERM to its process group, so what it forked goes too), and the report says so.
#[test]
fn a_command_still_running_when_the_duration_ends_is_stopped_like_timeout() {
    require_root();
    let dir = world_readable_tempdir();
    let pids = dir.path().join("pids");
    let out = dir.path().join("session");
    let script = format!("sleep 60 & echo $$ $! > {}; wait", pids.to_str().unwrap());
    let started = Instant::now();
    let output = tracer_run(&[
        "-o",
        out.to_str().unwrap(),
        "--no-sample",
        "-d",
        "1500ms",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // 1.5 s of tracing, a few seconds to write; never the command's 60 s.
    assert!(took < Duration::from_secs(20), "tracer took {took:?}");
    let text = std::fs::read_to_string(&pids).unwrap();
    for pid in text.split_whitespace() {
        let alive = Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(!alive, "pid {pid} of the command is still running");
    }
    let snap = load_snapshot(&out);
    assert!(
        snap.notes
            .iter()
            .any(|n| n.contains("stopped as timeout(1) does, SIGTERM")
                && n.contains("exit status 143")),
        "{:?}",
        snap.notes
    );
}
