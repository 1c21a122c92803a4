//! `tracer profile --suggest`: a starting profile for a fork nobody anticipated, written from
//! the functions its own objects define (the executable and its application libraries; system
//! libraries are never read).
//!
//! Classes and methods are sorted into the four layers by their names, the way a developer
//! skims `nm -C`: Raft classes and their RPC handlers, tickers and appliers (consensus); a
//! persister or storage class's saves and reads (log & I/O); RPC channels, stubs, services and
//! providers (network). Loops that never return (`*Ticker`, `*Loop`, `applier`) become
//! `entry_only`, and the leader's heartbeat and replication senders become `[roles]`. What it
//! cannot know it leaves to the user: the file says where each pattern was found, and `tracer
//! probes --profile FILE` shows what it resolves. The result always passes `tracer profile
//! --check` (it is parsed before it is written).

use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::cpp_names::{split_scopes, without_template_args};
use crate::symbols::elf::ElfFunction;
use crate::symbols::hot::TINY_BYTES;

/// The layer a name looks like it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Guess {
    Network,
    LogIo,
    Consensus,
}

/// One suggested pattern, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Suggested {
    pattern: String,
    entry_only: bool,
}

/// At most this many patterns per layer: a starting point, not an inventory.
const PER_LAYER: usize = 20;

/// Lifecycle methods (run once, or per shutdown): never a layer's per-request work. Compared
/// case-sensitively, so Raft's `Start` (propose a command) is kept and `start` is not.
const LIFECYCLE: &[&str] = &[
    "start", "stop", "shutdown", "init", "kill", "instance", "waitIdle", "close", "open",
];

/// Method names of generated protobuf/gRPC code and of object plumbing: never layer functions.
const PLUMBING: &[&str] = &[
    "ByteSizeLong",
    "Clear",
    "CopyFrom",
    "MergeFrom",
    "MergeImpl",
    "IsInitialized",
    "GetCachedSize",
    "SetCachedSize",
    "GetMetadata",
    "GetClassData",
    "InternalSwap",
    "SharedCtor",
    "SharedDtor",
    "New",
    "Swap",
    "default_instance",
    "internal_default_instance",
    "descriptor",
    "GetDescriptor",
    "GetReflection",
    "NewStub",
    "service_full_name",
    "_InternalParse",
    "_InternalSerialize",
    "RegisterArenaDtor",
    "ArenaDtor",
];

/// Scopes whose code is a library's, not the fork's.
const FOREIGN_SCOPES: &[&str] = &[
    "std",
    "__gnu_cxx",
    "grpc",
    "grpc_core",
    "google",
    "absl",
    "boost",
    "fmt",
    "spdlog",
    "muduo",
    "__cxxabiv1",
    "nlohmann",
];

/// The layer and loop-ness of a qualified method name, or None for everything else.
fn classify(qualified: &str) -> Option<(Guess, bool)> {
    let parts = split_scopes(qualified);
    if parts.len() < 2 {
        return None;
    }
    if FOREIGN_SCOPES.contains(&parts[0]) {
        return None;
    }
    let method = parts[parts.len() - 1];
    let class = without_template_args(parts[parts.len() - 2]).unwrap_or(parts[parts.len() - 2]);
    if method.starts_with('~')
        || method.starts_with("operator")
        || method.contains('{')
        || method.contains('(')
        || method == class
        || PLUMBING.contains(&method)
        || LIFECYCLE.contains(&method)
        || method.starts_with("set_")
        || method.starts_with("mutable_")
        || method.starts_with("clear_")
        || method.starts_with("_internal")
        || method.starts_with("Async")
        || method.starts_with("PrepareAsync")
    {
        return None;
    }
    let c = class.to_ascii_lowercase();
    let m = method.to_ascii_lowercase();
    let is_loop = m.ends_with("ticker") || m.ends_with("loop") || m == "applier" || m == "run";
    // Persistence: the persister's saves and reads, whatever the class is called.
    let persist_class = [
        "persist",
        "storage",
        "wal",
        "snapshotter",
        "raftlog",
        "logstore",
    ]
    .iter()
    .any(|k| c.contains(k));
    let io_method = [
        "save", "read", "persist", "write", "load", "flush", "sync", "append",
    ]
    .iter()
    .any(|k| m.starts_with(k));
    if persist_class && (io_method || is_loop) {
        return Some((Guess::LogIo, is_loop));
    }
    // RPC: generated stubs and services, channels, providers, connection pools.
    let rpc_class = c == "stub"
        || c == "async"
        || [
            "rpc",
            "channel",
            "service",
            "provider",
            "connection",
            "transport",
        ]
        .iter()
        .any(|k| c.contains(k));
    if rpc_class && c != "service" {
        return Some((Guess::Network, false));
    }
    // Consensus: the Raft class (and its KV state machine's snapshot side).
    if c.contains("raft") {
        let raft_method = [
            "appendentries",
            "requestvote",
            "installsnapshot",
            "heartbeat",
            "hearbeat",
            "ticker",
            "applier",
            "apply",
            "election",
            "snapshot",
            "send",
            "start",
            "replicate",
            "commit",
        ]
        .iter()
        .any(|k| m.contains(k));
        if raft_method {
            return Some((Guess::Consensus, is_loop));
        }
    }
    let kv_class = c.contains("kvserver") || c.contains("statemachine");
    if kv_class && m.contains("snap") {
        return Some((Guess::Consensus, false));
    }
    // The KV service's handlers (the gRPC callback/sync API, or mprpc's service overrides).
    if kv_class && ["put", "get", "putappend", "append", "status"].contains(&m.as_str()) {
        return Some((Guess::Network, false));
    }
    None
}

/// The profile text suggested for `functions` (each with the file name of the object it was
/// found in), named after `source` in its header.
pub fn suggest(source: &str, functions: &[(String, ElfFunction)]) -> Result<String> {
    // Pattern → (layer, entry only, objects, largest body).
    let mut found: BTreeMap<(Guess, Suggested), BTreeSet<String>> = BTreeMap::new();
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    for (object, f) in functions {
        if f.is_cold_part() {
            continue;
        }
        let qualified = crate::cpp_names::strip_clone_suffixes(&f.qualified).to_string();
        let Some((layer, entry_only)) = classify(&qualified) else {
            continue;
        };
        let size = sizes.entry(qualified.clone()).or_default();
        *size = (*size).max(f.size);
        found
            .entry((
                layer,
                Suggested {
                    pattern: qualified,
                    entry_only,
                },
            ))
            .or_default()
            .insert(object.clone());
    }
    // Tiny bodies cost more to probe than they run: left out, except loops (entered once).
    found.retain(|(_, s), _| s.entry_only || sizes[&s.pattern] >= TINY_BYTES);
    let mut layers: BTreeMap<Guess, Vec<(Suggested, Vec<String>)>> = BTreeMap::new();
    for ((layer, s), objects) in found {
        layers
            .entry(layer)
            .or_default()
            .push((s, objects.into_iter().collect()));
    }
    // Raft's own RPCs first (what the cap must keep), then by name.
    for list in layers.values_mut() {
        list.sort_by_key(|(s, _)| (!s.pattern.to_ascii_lowercase().contains("raft"), s.clone()));
    }
    let roles: Vec<String> = layers
        .get(&Guess::Consensus)
        .into_iter()
        .flatten()
        .filter(|(s, _)| !s.entry_only)
        .map(|(s, _)| s.pattern.clone())
        .filter(|p| {
            let m = p.rsplit("::").next().unwrap_or("").to_ascii_lowercase();
            (m.contains("heartbeat") || m.contains("hearbeat") || m.starts_with("sendappend"))
                && !m.contains("ticker")
        })
        .collect();
    let text = render(source, &layers, &roles);
    // What is written must load: a pattern the grammar rejects would be a bug here.
    crate::profile::parse(&text, "<suggested profile>")?;
    Ok(text)
}

fn render(
    source: &str,
    layers: &BTreeMap<Guess, Vec<(Suggested, Vec<String>)>>,
    roles: &[String],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# A starting profile suggested by `tracer profile --suggest` from the functions of\n\
         # {source}\n\
         # (its executable and application libraries; system libraries are not read).\n\
         # Names were sorted into layers by how they read: check each, delete what is not a\n\
         # layer function, then see what it resolves with `tracer probes --profile THIS_FILE`\n\
         # and use it with `tracer run --profile THIS_FILE`. `tracer profile --print-default`\n\
         # documents every key. Syscalls and stack-only functions are the built-in profile's."
    );
    let defaults = crate::profile::default_profile();
    for (guess, name) in [
        (Guess::Network, "network"),
        (Guess::LogIo, "log_io"),
        (Guess::Consensus, "consensus"),
    ] {
        let layer = defaults
            .layer(name)
            .expect("the default profile has the layer");
        let entries = layers.get(&guess).map(Vec::as_slice).unwrap_or_default();
        let _ = writeln!(
            out,
            "\n[[layer]]\nname = \"{}\"\ntitle = \"{}\"\nfolder = \"{}\"",
            layer.name, layer.title, layer.folder
        );
        for (key, entry_only) in [("functions", false), ("entry_only", true)] {
            let list: Vec<&(Suggested, Vec<String>)> = entries
                .iter()
                .filter(|(s, _)| s.entry_only == entry_only)
                .take(PER_LAYER)
                .collect();
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{key} = [");
            for (s, objects) in list {
                let _ = writeln!(out, "    {:?},  # in {}", s.pattern, objects.join(", "));
            }
            out.push_str("]\n");
        }
        let stack: Vec<String> = layer
            .stack_only
            .iter()
            .map(|p| format!("{:?}", p.text))
            .collect();
        if !stack.is_empty() {
            let _ = writeln!(out, "stack_only = [{}]", stack.join(", "));
        }
        let _ = writeln!(out, "syscalls = [{}]", syscall_list(layer));
    }
    let disk = defaults
        .layer("disk")
        .expect("the default profile has disk");
    let _ = writeln!(
        out,
        "\n[[layer]]\nname = \"disk\"\ntitle = \"{}\"\nfolder = \"{}\"\nsyscalls = [{}]",
        disk.title,
        disk.folder,
        syscall_list(disk)
    );
    if !roles.is_empty() {
        let list: Vec<String> = roles.iter().map(|r| format!("{r:?}")).collect();
        let _ = writeln!(
            out,
            "\n# A node whose threads call these is the leader (the heartbeat first).\n\
             [roles]\nleader_if_calls = [{}]",
            list.join(", ")
        );
    }
    out
}

fn syscall_list(layer: &crate::profile::Layer) -> String {
    layer
        .syscalls
        .iter()
        .map(|s| match s.on {
            crate::profile::FdFilter::Any => format!("{:?}", s.name),
            crate::profile::FdFilter::Socket => format!("\"{}@socket\"", s.name),
            crate::profile::FdFilter::File => format!("\"{}@file\"", s.name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_into_layers() {
        let c = |q: &str| classify(q);
        assert_eq!(c("Raft::AppendEntries1"), Some((Guess::Consensus, false)));
        assert_eq!(
            c("kv::Raft::electionTimeOutTicker"),
            Some((Guess::Consensus, true))
        );
        assert_eq!(c("Raft::applierTicker"), Some((Guess::Consensus, true)));
        assert_eq!(c("Persister::SaveRaftState"), Some((Guess::LogIo, false)));
        assert_eq!(c("Persister::ReadSnapshot"), Some((Guess::LogIo, false)));
        assert_eq!(c("MprpcChannel::CallMethod"), Some((Guess::Network, false)));
        assert_eq!(
            c("raftRpcProctoc::raftRpc::Stub::AppendEntries"),
            Some((Guess::Network, false))
        );
        assert_eq!(
            c("RaftGrpcService::AppendEntries"),
            Some((Guess::Network, false))
        );
        assert_eq!(c("KvServer::MakeSnapShot"), Some((Guess::Consensus, false)));
        assert_eq!(c("KvServer::PutAppend"), Some((Guess::Network, false)));
        assert_eq!(c("Persister::syncLoop"), Some((Guess::LogIo, true)));
        assert_eq!(c("Raft::Start"), Some((Guess::Consensus, false)));
        assert_eq!(c("Raft::start"), None);
        assert_eq!(c("GrpcRpcServer::shutdown"), None);
        for no in [
            "Raft::~Raft",
            "Raft::Raft",
            "raftrpc::AppendEntriesArgs::ByteSizeLong",
            "std::vector<int>::push_back",
            "grpc::Channel::CreateCall",
            "raftrpc::RaftService::Service::AppendEntries",
            "Raft::getState",
            "main",
            "Persister::Persister",
            "raftrpc::RaftService::Stub::AsyncAppendEntriesRaw",
        ] {
            assert_eq!(c(no), None, "{no}");
        }
    }
}
