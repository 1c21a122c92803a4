//! The fixture builds shaped like real forks (issue 19): the Raft core in `libraftcore.so`
//! with an executable holding only `main`, and gRPC instead of the mprpc-like framing. Each
//! runs a 3-node cluster over real TCP under strace, and its ground truth is exact where the
//! hooks see everything (persister I/O, calls) and self-consistent across nodes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tracer_test_support::strace::{self, StraceSession};
use tracer_test_support::{
    fixture_bins, ClientMode, ClientOpts, ClientReport, Cluster, ClusterOpts, GroundTruth, Variant,
};

const LEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// The NEEDED entries of an ELF file, in order (`readelf -d`).
fn needed(path: &Path) -> Vec<String> {
    dynamic_entries(path, "(NEEDED)")
}

fn dynamic_entries(path: &Path, tag: &str) -> Vec<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "readelf -d {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(tag))
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_string()))
        .collect()
}

/// Demangled names of the defined dynamic symbols (`nm -D --defined-only -C`).
fn defined_dynamic(path: &Path) -> Vec<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only", "-C", "--format=posix"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "nm -D {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // posix format: "NAME TYPE VALUE SIZE"; demangled names contain spaces.
        .filter_map(|l| l.rsplitn(4, ' ').nth(3).map(|n| n.trim_end().to_string()))
        .collect()
}

/// Mangled names of the defined dynamic symbols.
fn defined_dynamic_mangled(path: &Path) -> Vec<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only", "--format=posix"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(' ').next().map(String::from))
        .collect()
}

/// The executable holds only main: it needs libraftcore.so before libstdc++ and libc (so the
/// library's hooks interpose theirs), finds it through its rpath, and defines none of the
/// node's code or hooks; the library defines them.
fn assert_only_main_in_executable(variant: Variant, lib_symbols: &[&str]) {
    let bins = fixture_bins(variant).unwrap();
    let lib = bins
        .lib
        .as_ref()
        .expect("a shared-library variant has a lib");
    let deps = needed(&bins.node);
    let pos = |name: &str| deps.iter().position(|d| d.starts_with(name));
    let core = pos("libraftcore.so").unwrap_or_else(|| panic!("no libraftcore.so in {deps:?}"));
    assert!(core < pos("libstdc++").unwrap(), "{deps:?}");
    assert!(core < pos("libc.so").unwrap(), "{deps:?}");
    let rpath = [
        dynamic_entries(&bins.node, "(RUNPATH)"),
        dynamic_entries(&bins.node, "(RPATH)"),
    ]
    .concat();
    let lib_dir = lib.parent().unwrap().to_string_lossy().to_string();
    assert!(
        rpath.contains(&lib_dir),
        "rpath {rpath:?}, lib in {lib_dir}"
    );

    let exe_syms = defined_dynamic(&bins.node);
    let node_code = [
        "Raft",
        "Persister",
        "Mprpc",
        "RpcProvider",
        "Connection",
        "raftrpc",
        "KvServer",
    ];
    let hooks = [
        "write",
        "writev",
        "fsync",
        "fdatasync",
        "send",
        "recv",
        "usleep",
        "sendmsg",
        "recvmsg",
    ];
    for s in &exe_syms {
        assert!(
            !node_code.iter().any(|c| s.contains(c)) && !hooks.contains(&s.as_str()),
            "the executable defines {s}: {exe_syms:?}"
        );
    }
    let lib_syms = defined_dynamic(lib);
    for want in lib_symbols.iter().chain(&hooks[..7]) {
        assert!(
            lib_syms.iter().any(|s| s == want
                || s.strip_prefix(want)
                    .is_some_and(|rest| rest.starts_with(['(', '[']))),
            "{} does not define {want}",
            lib.display()
        );
    }
    eprintln!(
        "{variant:?}: NEEDED {deps:?}, rpath {rpath:?}, {} dynamic symbols in the executable, \
         {} in {}",
        exe_syms.len(),
        lib_syms.len(),
        lib.display()
    );
}

/// Runs a 3-node cluster of `variant` with strace attached to every node before its first
/// event, serves `client` load, and returns each node's ground truth with its strace text.
fn run_under_strace(
    variant: Variant,
    syscalls: &[&str],
    client: &ClientOpts,
) -> (ClientReport, Vec<(GroundTruth, String)>) {
    let c = Cluster::start(ClusterOpts {
        variant,
        start_paused: true,
        ..Default::default()
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let sessions: Vec<StraceSession> = c
        .pids()
        .iter()
        .enumerate()
        .map(|(i, &pid)| {
            StraceSession::attach(pid, syscalls, &out.path().join(format!("strace{i}"))).unwrap()
        })
        .collect();
    c.resume().unwrap();
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let report = c.run_client(client).unwrap();
    assert_eq!(report.errors, 0, "{report:?}");
    let gts = c.stop().unwrap();
    assert_eq!(gts.len(), 3);
    assert_eq!(gts[leader].final_role, "leader", "{gts:#?}");
    let texts = sessions
        .into_iter()
        .map(|s| s.finish(Duration::from_secs(10)).unwrap());
    (report, gts.into_iter().zip(texts).collect())
}

/// Persister syscalls seen by strace equal the hooks' counts (fsync every save).
fn assert_persister_io_exact(g: &GroundTruth, strace_text: &str, save: &str) {
    let io = &g.persister_io;
    let seen = strace::count_file_syscalls(strace_text, &io.files);
    let get = |k: &str| seen.get(k).copied().unwrap_or(0);
    let saves = g.calls(save);
    assert!(g.quiesced, "node {} not quiesced", g.node_id);
    assert!(saves > 0, "node {}: no {save}", g.node_id);
    assert_eq!(io.write + io.writev, saves, "node {}: {io:?}", g.node_id);
    assert_eq!(io.fsync, saves, "node {}: {io:?}", g.node_id);
    assert_eq!(get("write"), io.write, "node {}", g.node_id);
    assert_eq!(get("writev"), io.writev, "node {}", g.node_id);
    assert_eq!(get("fsync"), io.fsync, "node {}", g.node_id);
    assert_eq!(get("fdatasync"), io.fdatasync, "node {}", g.node_id);
}

fn leaders(gts: &[(GroundTruth, String)]) -> usize {
    gts.iter().filter(|(g, _)| g.final_role == "leader").count()
}

#[test]
fn shared_lib_executable_holds_only_main() {
    assert_only_main_in_executable(
        Variant::SharedLib,
        &[
            "Raft::AppendEntries1",
            "Raft::sendAppendEntries",
            "Persister::saveRaftState",
            "MprpcChannel::CallMethod",
        ],
    );
}

/// The hooks work from the library: strace agrees with every count, as with the Fp build.
#[test]
fn shared_lib_cluster_counts_are_exact() {
    let client = ClientOpts {
        ops_per_thread: Some(150),
        ..Default::default()
    };
    let syscalls = [
        "write",
        "writev",
        "fsync",
        "fdatasync",
        "sendto",
        "recvfrom",
    ];
    let (report, gts) = run_under_strace(Variant::SharedLib, &syscalls, &client);
    assert_eq!(report.ops, 300);
    assert_eq!(leaders(&gts), 1);
    for (g, text) in &gts {
        let keys: BTreeSet<&str> = g.calls.keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = Variant::SharedLib
            .traced_methods()
            .iter()
            .copied()
            .collect();
        assert_eq!(keys, want);
        assert_persister_io_exact(g, text, "Persister::saveRaftState");
        let all = strace::count_syscalls(text);
        assert!(g.net_io.send > 0 && g.net_io.recv > 0, "{:?}", g.net_io);
        assert_eq!(all.get("sendto").copied().unwrap_or(0), g.net_io.send);
        assert_eq!(all.get("recvfrom").copied().unwrap_or(0), g.net_io.recv);
        // A call sends a request unless it cannot connect; both kinds of failure count.
        let (calls, sends) = (
            g.calls("MprpcChannel::CallMethod"),
            g.calls("MprpcChannel::sendRpcRequest"),
        );
        assert!(
            sends <= calls && calls <= sends + g.rpc.failed,
            "{:?}",
            g.rpc
        );
        assert_eq!(g.rpc.sent, calls);
        eprintln!(
            "SharedLib node {} ({}): saves {} {:?} net {:?} rpc {:?}",
            g.node_id,
            g.final_role,
            g.calls("Persister::saveRaftState"),
            g.persister_io,
            g.net_io,
            g.rpc
        );
    }
}

#[test]
fn grpc_shared_lib_executable_holds_only_main() {
    assert_only_main_in_executable(
        Variant::GrpcSharedLib,
        &[
            "Raft::AppendEntries1",
            "Raft::sendAppendEntries",
            "Persister::SaveRaftState",
            "Persister::ReadRaftState",
            "raftrpc::RaftService::Stub::AppendEntries",
            "raftrpc::RaftService::Stub::RequestVote",
            "raftrpc::KvService::Stub::Put",
        ],
    );
    let bins = fixture_bins(Variant::GrpcSharedLib).unwrap();
    let lib = bins.lib.unwrap();
    let deps = needed(&lib);
    assert!(deps.iter().any(|d| d.starts_with("libgrpc++")), "{deps:?}");
    // The lower-case spelling is gone: only the fork's exists.
    let syms = defined_dynamic(&lib);
    assert!(!syms.iter().any(|s| s.contains("Persister::saveRaftState")));
    // The service handlers (sync API and callback API) are exported, as a fork's are.
    for h in [
        "RaftGrpcService::AppendEntries(grpc::ServerContext*",
        "RaftGrpcService::RequestVote(grpc::ServerContext*",
        "KvServer::Put(grpc::CallbackServerContext*",
        "KvServer::Status(grpc::CallbackServerContext*",
    ] {
        assert!(
            syms.iter().any(|s| s.starts_with(h)),
            "no {h} in {}",
            lib.display()
        );
    }
}

/// gRPC between nodes and from the client: leader elected, load served, and every count of
/// one side of an RPC agrees with the other side's.
#[test]
fn grpc_shared_lib_cluster_counts_agree() {
    let client = ClientOpts {
        ops_per_thread: Some(150),
        mode: ClientMode::Mixed,
        ..Default::default()
    };
    let syscalls = [
        "write",
        "writev",
        "fsync",
        "fdatasync",
        "sendmsg",
        "recvmsg",
    ];
    let (report, gts) = run_under_strace(Variant::GrpcSharedLib, &syscalls, &client);
    assert_eq!(report.ops, 300);
    assert_eq!(leaders(&gts), 1);
    let want: BTreeSet<&str> = Variant::GrpcSharedLib
        .traced_methods()
        .iter()
        .copied()
        .collect();
    let sum = |m: &str| gts.iter().map(|(g, _)| g.calls(m)).sum::<u64>();
    for (g, text) in &gts {
        let c = |m: &str| g.calls(m);
        let keys: BTreeSet<&str> = g.calls.keys().map(String::as_str).collect();
        assert_eq!(keys, want);
        assert_persister_io_exact(g, text, "Persister::SaveRaftState");
        assert_eq!(c("Persister::ReadRaftState"), 1);
        // Client side: every send is one stub call.
        assert_eq!(
            c("Raft::sendAppendEntries"),
            c("raftrpc::RaftService::Stub::AppendEntries")
        );
        assert_eq!(
            c("Raft::sendRequestVote"),
            c("raftrpc::RaftService::Stub::RequestVote")
        );
        assert_eq!(
            g.rpc.sent,
            c("raftrpc::RaftService::Stub::AppendEntries")
                + c("raftrpc::RaftService::Stub::RequestVote")
        );
        // Server side: every handler entry runs the Raft method once.
        assert_eq!(
            c("RaftGrpcService::AppendEntries"),
            c("Raft::AppendEntries1")
        );
        assert_eq!(c("RaftGrpcService::RequestVote"), c("Raft::RequestVote"));
        assert_eq!(
            g.rpc.received,
            c("RaftGrpcService::AppendEntries")
                + c("RaftGrpcService::RequestVote")
                + c("KvServer::Put")
                + c("KvServer::Get")
                + c("KvServer::Status")
        );
        // gRPC's socket I/O goes through the sendmsg/recvmsg hooks, never send/recv.
        let msg = g.msg_io.clone().expect("gRPC builds report msg_io");
        assert!(msg.sendmsg > 0 && msg.recvmsg > 0, "{msg:?}");
        assert_eq!((g.net_io.send, g.net_io.recv), (0, 0), "{:?}", g.net_io);
        // strace sees every hooked call, plus the few of connection teardown after the
        // counters were read (peers shutting down at the same time).
        let all = strace::count_syscalls(text);
        let seen_send = all.get("sendmsg").copied().unwrap_or(0);
        let seen_recv = all.get("recvmsg").copied().unwrap_or(0);
        assert!(seen_send >= msg.sendmsg, "strace {seen_send} < {msg:?}");
        assert!(seen_recv >= msg.recvmsg, "strace {seen_recv} < {msg:?}");
        eprintln!(
            "GrpcSharedLib node {} ({}): calls {:?}\n  persister {:?}\n  msg_io {msg:?} \
             (strace: sendmsg {seen_send}, recvmsg {seen_recv})\n  rpc {:?}, roles {:?}",
            g.node_id, g.final_role, g.calls, g.persister_io, g.rpc, g.role_changes
        );
    }
    let (lead, _) = gts.iter().find(|(g, _)| g.final_role == "leader").unwrap();
    assert!(lead.calls("Raft::doHeartBeat") > 0);
    assert_eq!(lead.role_changes.last().unwrap().role, "leader");
    for (g, _) in gts.iter().filter(|(g, _)| g.final_role == "follower") {
        assert!(g.calls("RaftGrpcService::AppendEntries") > 0);
    }
    // Across nodes: a call that did not fail was handled; a failed one may have been too.
    let failed: u64 = gts.iter().map(|(g, _)| g.rpc.failed).sum();
    for (sent, handled) in [
        (
            "raftrpc::RaftService::Stub::AppendEntries",
            "RaftGrpcService::AppendEntries",
        ),
        (
            "raftrpc::RaftService::Stub::RequestVote",
            "RaftGrpcService::RequestVote",
        ),
    ] {
        assert!(
            sum(handled) <= sum(sent),
            "{handled} {} > {sent} {}",
            sum(handled),
            sum(sent)
        );
        assert!(
            sum(handled) + failed >= sum(sent),
            "{handled} {} + failed {failed} < {sent} {}",
            sum(handled),
            sum(sent)
        );
    }
    // Every op's last attempt reached a node; redirected attempts (retries) did too, unless
    // the connection failed. Mixed mode: even ops PUT, odd ops GET.
    let kv = sum("KvServer::Put") + sum("KvServer::Get");
    assert!(
        kv >= report.ops && kv <= report.ops + report.retries,
        "{kv} KV calls for {report:?}"
    );
    assert!(sum("KvServer::Put") >= 150 && sum("KvServer::Get") >= 150);
    assert!(
        sum("KvServer::Status") > 0,
        "the harness asks every node's status"
    );
}

/// The same gRPC node linked as one executable (no library): for tracing gRPC without
/// shared-library resolution. It shares the objects of the library build.
#[test]
fn grpc_executable_serves_load() {
    let bins = fixture_bins(Variant::Grpc).unwrap();
    assert!(bins.lib.is_none());
    let exe = defined_dynamic_mangled(&bins.node);
    for hook in ["write", "send", "sendmsg", "recvmsg", "usleep"] {
        assert!(exe.iter().any(|s| s == hook), "{hook} not exported");
    }
    let c = Cluster::start(ClusterOpts {
        variant: Variant::Grpc,
        ..Default::default()
    })
    .unwrap();
    let leader = c.wait_for_leader(LEADER_TIMEOUT).unwrap();
    let small = ClientOpts {
        ops_per_thread: Some(100),
        ..Default::default()
    };
    assert_eq!(c.run_client(&small).unwrap().ops, 200);
    let gts = c.stop().unwrap();
    assert_eq!(gts[leader].final_role, "leader");
    for g in &gts {
        assert!(g.quiesced);
        let io = &g.persister_io;
        assert_eq!(io.write + io.writev, g.calls("Persister::SaveRaftState"));
        assert!(g.msg_io.as_ref().is_some_and(|m| m.sendmsg > 0));
    }
    assert!(gts[leader].calls("KvServer::Put") >= 200);
}
