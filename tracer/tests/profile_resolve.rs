//! Layer profiles and symbol resolution on real ELF files, checked against binutils: the default
//! profile on the fixture node, a small non-PIE C++ program with GCC clones (`.constprop`,
//! `.isra`, `.cold`) and ABI tags, a stripped copy, malformed profiles, and the `probes` dry run.
//! No BPF, no root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tracer::cli::TargetArgs;
use tracer::commands::probes::{probes_report, render_text, summary_line, ProbesArgs};
use tracer::profile::{self, Profile};
use tracer::symbols::resolve::{self, Resolution};
use tracer_test_support::{fixture_bins, Variant};

fn fixture_node() -> PathBuf {
    fixture_bins(Variant::Fp)
        .expect("building the fixture")
        .node
}

fn profile_from(text: &str) -> Profile {
    profile::parse(text, "test.toml").expect("test profile parses")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running a binutils tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `nm --defined-only`: mangled name → address.
fn nm_addresses(binary: &Path) -> HashMap<String, u64> {
    run(Command::new("nm").arg("--defined-only").arg(binary))
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let addr = u64::from_str_radix(it.next()?, 16).ok()?;
            let _kind = it.next()?;
            Some((it.next()?.to_string(), addr))
        })
        .collect()
}

/// `(sh_addr, sh_offset, sh_size)` of every allocated PROGBITS section, from `readelf -SW`.
fn readelf_sections(binary: &Path) -> Vec<(u64, u64, u64)> {
    let text = run(Command::new("readelf").arg("-SW").arg(binary));
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l.strip_prefix('[')?.split_once(']')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            // Name Type Address Off Size ...
            if f.len() < 5 || f[1] != "PROGBITS" {
                return None;
            }
            let hex = |s: &str| u64::from_str_radix(s, 16).ok();
            Some((hex(f[2])?, hex(f[3])?, hex(f[4])?))
        })
        .filter(|&(addr, _, _)| addr != 0)
        .collect()
}

/// Every resolved address is nm's, and every file offset is what readelf's section table gives.
fn assert_offsets_agree_with_binutils(res: &Resolution, binary: &Path) {
    let nm = nm_addresses(binary);
    let sections = readelf_sections(binary);
    assert!(!res.functions.is_empty());
    for f in &res.functions {
        assert_eq!(
            nm.get(&f.mangled),
            Some(&f.address),
            "nm address of {}",
            f.mangled
        );
        let (addr, off, _) = sections
            .iter()
            .find(|&&(a, _, size)| a <= f.address && f.address < a + size)
            .unwrap_or_else(|| panic!("no section holds {:#x}", f.address));
        assert_eq!(
            f.file_offset,
            f.address - addr + off,
            "file offset of {}",
            f.demangled
        );
    }
}

#[test]
fn default_profile_resolves_every_spec_method_of_the_fixture() {
    let node = fixture_node();
    let res = resolve::resolve(&profile::default_profile(), &node).unwrap();
    assert!(!res.stripped);
    let by_layer = |layer: &str| -> Vec<&str> {
        res.functions
            .iter()
            .filter(|f| f.layer == layer)
            .map(|f| f.demangled.as_str())
            .collect()
    };
    let expected = [
        ("network", "MprpcChannel::CallMethod("),
        ("network", "MprpcChannel::sendRpcRequest("),
        ("network", "ConnectionPool::getConnection("),
        ("network", "RpcProvider::OnMessage("),
        ("network", "RpcProvider::SendRpcResponse("),
        ("network", "KvServer::PutAppend("),
        ("network", "KvServer::Get("),
        ("log_io", "Persister::saveRaftState("),
        ("log_io", "Persister::readRaftState[abi:cxx11]()"),
        ("consensus", "Raft::AppendEntries1("),
        ("consensus", "Raft::RequestVote("),
        ("consensus", "Raft::leaderElectionTicker()"),
        ("consensus", "Raft::sendAppendEntries("),
        ("consensus", "Raft::sendRequestVote("),
        ("consensus", "Raft::applier()"),
        ("consensus", "Raft::leaderHearBeatTicker()"),
        ("consensus", "Raft::doHeartBeat()"),
        ("consensus", "Raft::applySnapshot()"),
    ];
    for (layer, name) in expected {
        let hits: Vec<_> = by_layer(layer)
            .into_iter()
            .filter(|d| d.starts_with(name))
            .collect();
        assert_eq!(hits.len(), 1, "{name} in {layer}: {hits:?}");
    }
    assert_eq!(res.functions.len(), expected.len(), "{:#?}", res.functions);
    assert!(res
        .functions
        .iter()
        .all(|f| !f.demangled.contains("[clone .cold]")));
    assert!(by_layer("disk").is_empty());

    // No warning-level unmatched patterns; the fork spellings are reported as other spellings,
    // with the spelling this binary has among the nearest names.
    assert_eq!(res.unmatched_warnings().count(), 0, "{:#?}", res.unmatched);
    for (fork, existing) in [
        ("Persister::SaveRaftState", "Persister::saveRaftState"),
        ("Persister::ReadRaftState", "Persister::readRaftState"),
        ("Raft::electionTimeOutTicker", "Raft::leaderElectionTicker"),
        ("Raft::applierTicker", "Raft::applier"),
    ] {
        let u = res
            .unmatched
            .iter()
            .find(|u| u.pattern == fork)
            .unwrap_or_else(|| panic!("{fork} not reported: {:#?}", res.unmatched));
        assert!(u
            .alternative_of
            .as_deref()
            .is_some_and(|p| p.contains(existing.rsplit("::").next().unwrap())));
        assert!(
            u.closest.iter().any(|c| c == existing),
            "{fork}: {:?}",
            u.closest
        );
        assert!(u.closest.len() <= 3);
    }
    // Every `.cold` part of a matched method is reported as skipped, not probed.
    assert!(res.skipped.iter().any(
        |s| s.demangled.starts_with("Persister::saveRaftState(") && s.reason.contains(".cold")
    ));
    assert_offsets_agree_with_binutils(&res, &node);
    assert!(res
        .functions
        .iter()
        .all(|f| !f.from_dynsym_only && f.binary == node));
}

#[test]
fn offsets_agree_with_binutils_on_both_fixture_variants() {
    for variant in [Variant::Fp, Variant::NoFp] {
        let node = fixture_bins(variant).unwrap().node;
        let res = resolve::resolve(&profile::default_profile(), &node).unwrap();
        assert_offsets_agree_with_binutils(&res, &node);
    }
}

/// A small program where GCC (-O2) makes `.constprop`/`.isra` clones, a `.cold` part, an ABI tag,
/// tiny functions, and, linked `-no-pie`, file offsets that differ from addresses.
const CLONES_CPP: &str = r#"
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
namespace kv {
struct Big { int a, b, c, d, e, f; };
class Store {
 public:
  __attribute__((noinline)) std::string readState(int n);
  __attribute__((noinline)) long electionTicker(long n);
  __attribute__((noinline)) long heartbeatTicker(long n);
};
std::string Store::readState(int n) {
  if (n < 0) throw std::runtime_error("negative " + std::to_string(n));
  return std::string(static_cast<size_t>(n), 'x');
}
long Store::electionTicker(long n) { return n * 3 + (n >> 2); }
long Store::heartbeatTicker(long n) { return n * 5 - (n >> 3); }
}  // namespace kv
static __attribute__((noinline)) long scale(long x, long factor) {
  long s = 0;
  for (long i = 0; i < x; i++) s += i * factor + (s >> 3);
  return s;
}
static __attribute__((noinline)) long sumFirst(const kv::Big& b) { return b.a * 7 + b.a / 3; }
int main(int argc, char** argv) {
  kv::Store s;
  kv::Big b{argc, 2, 3, 4, 5, 6};
  long x = atol(argc > 1 ? argv[1] : "5");
  printf("%zu %ld %ld %ld %ld\n", s.readState(static_cast<int>(x)).size(), s.electionTicker(x),
         s.heartbeatTicker(x), scale(x, 3), sumFirst(b));
  return 0;
}
"#;

fn build_clones_program(dir: &Path) -> PathBuf {
    let src = dir.join("clones.cpp");
    std::fs::write(&src, CLONES_CPP).unwrap();
    let bin = dir.join("clones");
    run(Command::new("g++")
        .args(["-std=c++17", "-O2", "-no-pie", "-o"])
        .arg(&bin)
        .arg(&src));
    bin
}

#[test]
fn globs_braces_clones_abi_tags_and_cold_parts() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build_clones_program(dir.path());
    let p = profile_from(
        r#"
[[layer]]
name = "a"
folder = "a"
functions = ["Store::*Ticker", "Store::readState", "scale", "sumFirst"]

[[layer]]
name = "b"
folder = "b"
functions = ["ci:KV::STORE::{READSTATE,writeState}", "kv::Store::electionTicker", "Nothing::here"]
"#,
    );
    let res = resolve::resolve(&p, &bin).unwrap();
    let find = |prefix: &str| {
        res.functions
            .iter()
            .find(|f| f.demangled.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} not resolved: {:#?}", res.functions))
    };
    // Glob within one scope component, with a namespace prefix before the pattern.
    assert_eq!(find("kv::Store::electionTicker").pattern, "Store::*Ticker");
    assert_eq!(find("kv::Store::heartbeatTicker").pattern, "Store::*Ticker");
    // ABI tag ignored; its .cold part skipped.
    let read = find("kv::Store::readState[abi:cxx11](int)");
    assert_eq!(read.mangled, "_ZN2kv5Store9readStateB5cxx11Ei");
    assert!(res
        .skipped
        .iter()
        .any(|s| s.demangled.contains("readState") && s.demangled.ends_with("[clone .cold]")));
    // GCC clones are the functions' entries.
    assert!(find("scale(long, long) [clone .constprop")
        .mangled
        .contains(".constprop."));
    assert!(find("sumFirst(kv::Big const&)")
        .demangled
        .contains("[clone .isra."));
    // Tiny methods get a hot warning; the big one does not.
    assert!(find("kv::Store::electionTicker")
        .hot_warning
        .as_deref()
        .unwrap()
        .contains("bytes"));
    assert!(read.hot_warning.is_none());
    // One probe per address: layer b's matches of layer a's functions are warnings.
    assert_eq!(
        res.functions
            .iter()
            .filter(|f| f.demangled.contains("readState"))
            .count(),
        1
    );
    assert!(res
        .warnings
        .iter()
        .any(|w| w.contains("readState") && w.contains("layer b")));
    // Unmatched: a whole pattern (warning) and one case-insensitive alternative (informational).
    let nothing = res
        .unmatched_warnings()
        .map(|u| u.pattern.as_str())
        .collect::<Vec<_>>();
    assert_eq!(nothing, ["Nothing::here"]);
    assert!(res
        .unmatched
        .iter()
        .any(|u| u.pattern == "kv::store::writestate" && !u.is_warning()));
    // Non-PIE: offsets are not addresses, and still agree with readelf.
    assert!(res.functions.iter().all(|f| f.address > f.file_offset));
    assert_offsets_agree_with_binutils(&res, &bin);
}

#[test]
fn a_stripped_binary_names_what_is_missing_and_uses_dynsym() {
    let dir = tempfile::tempdir().unwrap();
    let stripped = dir.path().join("raftkv-node");
    run(Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(fixture_node()));
    let p = profile_from(
        r#"
[[layer]]
name = "net"
folder = "net"
functions = ["send", "recv", "MprpcChannel::CallMethod"]

[[layer]]
name = "log"
folder = "log"
functions = ["Persister::{saveRaftState,SaveRaftState}", "fsync"]
"#,
    );
    let res = resolve::resolve(&p, &stripped).unwrap();
    assert!(res.stripped);
    let names: Vec<&str> = res.functions.iter().map(|f| f.demangled.as_str()).collect();
    assert_eq!(names, ["send", "recv", "fsync"], "{:#?}", res.functions);
    assert!(res.functions.iter().all(|f| f.from_dynsym_only));
    assert!(res
        .functions
        .iter()
        .all(|f| f.hot_warning.as_deref().unwrap().contains("stack_only")));
    let w = &res.warnings[0];
    assert!(w.contains("stripped") && w.contains("no .symtab"), "{w}");
    assert!(w.contains("2 pattern(s) unresolved"), "{w}");
    assert!(
        w.contains("MprpcChannel::CallMethod")
            && w.contains("Persister::{saveRaftState,SaveRaftState}"),
        "{w}"
    );
    assert!(w.contains("unstripped copy"), "{w}");
    // The exported functions' offsets are still right (nm of the unstripped original).
    let nm = nm_addresses(&fixture_node());
    for f in &res.functions {
        assert_eq!(nm.get(&f.mangled), Some(&f.address));
    }
    let report = probes_report(&ProbesArgs {
        binary: Some(stripped),
        ..Default::default()
    })
    .unwrap();
    let text = render_text(&report);
    assert!(text.contains("[stripped: .dynsym only]"), "{text}");
    let patterns = profile::default_profile()
        .layers
        .iter()
        .map(|l| l.functions.len() + l.entry_only.len())
        .sum::<usize>();
    assert!(
        text.contains(&format!("{patterns} patterns matched nothing")),
        "{text}"
    );
}

#[test]
fn malformed_profiles_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "syntax.toml",
            "[[layer]]\nname = \"a\"\nfolder = \"f\"\nfunctions = [\"x\"\n",
            "syntax.toml:",
        ),
        (
            "pattern.toml",
            "[[layer]]\nname = \"a\"\nfolder = \"f\"\n\nfunctions = [\"Raft::{a,b\"]\n",
            "pattern.toml:5:",
        ),
        (
            "syscall.toml",
            "[[layer]]\nname = \"a\"\nfolder = \"f\"\nsyscalls = [\"fsync\", \"fsnyc\"]\n",
            "syscall.toml:4:22:",
        ),
        (
            "key.toml",
            "[[layer]]\nname = \"a\"\nfolder = \"f\"\nfuncs = [\"x\"]\n",
            "key.toml:4:",
        ),
    ];
    for (file, text, want) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        let e = format!("{:#}", profile::load(&path).unwrap_err());
        assert!(
            e.contains(&format!("{}", dir.path().join(want).display())),
            "{e}"
        );
    }
    let e = format!(
        "{:#}",
        profile::load(&dir.path().join("missing.toml")).unwrap_err()
    );
    assert!(e.contains("missing.toml"), "{e}");
}

#[test]
fn the_printed_default_is_a_loadable_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.toml");
    std::fs::write(&path, profile::default_toml()).unwrap();
    let copy = profile::load(&path).unwrap();
    let default = profile::default_profile();
    assert_eq!(
        serde_json::to_value(&copy.layers).unwrap(),
        serde_json::to_value(&default.layers).unwrap()
    );
}

#[test]
fn probes_dry_run_report() {
    let node = fixture_node();
    let args = ProbesArgs {
        binary: Some(node.clone()),
        ..Default::default()
    };
    let report = probes_report(&args).unwrap();
    let text = render_text(&report);
    for want in [
        "== network (Network) -> 01_network_layer",
        "_ZN4Raft7applierEv",
        "Persister::SaveRaftState not in this binary (another spelling matched)",
        "stack only (never probed): send, recv",
        "syscalls: sendto, recvfrom",
        "summary: 18 functions to probe in 3 layers; 0 patterns matched nothing",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
    let json = serde_json::to_value(&report).unwrap();
    let functions = json["targets"][0]["resolution"]["functions"]
        .as_array()
        .unwrap();
    assert_eq!(functions.len(), 18);
    assert!(functions
        .iter()
        .all(|f| f["file_offset"].as_u64().is_some()));

    // A pattern matching nothing is a warning and a summary line, not an error.
    let dir = tempfile::tempdir().unwrap();
    let custom = dir.path().join("p.toml");
    std::fs::write(
        &custom,
        "[[layer]]\nname = \"x\"\nfolder = \"x\"\nfunctions = [\"Raft::applyer\"]\n",
    )
    .unwrap();
    let args = ProbesArgs {
        binary: Some(node.clone()),
        target: TargetArgs {
            profile: Some(custom),
            ..Default::default()
        },
        ..Default::default()
    };
    tracer::commands::probes::probes_command(&args).unwrap();
    let report = probes_report(&args).unwrap();
    let line = summary_line(&report.profile, &report.targets[0].resolution);
    assert_eq!(
        line,
        "summary: 0 functions to probe in 0 layers; 1 patterns matched nothing (Raft::applyer); 0 hot warnings"
    );
    assert!(render_text(&report).contains("! matched nothing; closest: Raft::applier"));

    // An unreadable binary is the one error.
    let e = probes_report(&ProbesArgs {
        binary: Some(dir.path().join("nope")),
        ..Default::default()
    })
    .unwrap_err();
    assert!(format!("{e:#}").contains("nope"));
}

#[test]
fn probes_by_pid_reads_proc() {
    // This test process itself: its executable has no Raft symbols, so every pattern is
    // unmatched, and that is still a report, not an error.
    let me = std::process::id();
    assert_eq!(
        resolve::binary_of_pid(me).unwrap(),
        std::env::current_exe().unwrap()
    );
    let report = probes_report(&ProbesArgs {
        target: TargetArgs {
            pids: vec![me],
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    assert_eq!(report.targets[0].pids, [me]);
    assert!(report.targets[0].resolution.unmatched_warnings().count() > 0);
    let e = resolve::binary_of_pid(u32::MAX - 1).unwrap_err();
    assert!(format!("{e:#}").contains("no process"), "{e:#}");
}

/// The libraries `ldd` (the dynamic loader itself, in trace mode) loads for `binary`: canonical
/// paths, without the vDSO.
fn ldd_objects(binary: &Path) -> std::collections::BTreeSet<PathBuf> {
    let text = run(Command::new("ldd").arg(binary));
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            // `libx.so => /path (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.trim().split(' ').next()?,
                None => l.split(' ').next()?,
            };
            path.starts_with('/')
                .then(|| Path::new(path).canonicalize().unwrap())
        })
        .collect()
}

/// The loader's search (DT_NEEDED, RUNPATH, ld.so.conf, default dirs) finds exactly the
/// libraries the real loader loads, for the shared-library layouts (an absolute RUNPATH to the
/// library, gRPC's ~50 system libraries behind it) and a system program.
#[test]
fn dependency_closure_agrees_with_the_loader() {
    use tracer::symbols::objects::{objects_of_executable, ObjectKind};
    let mut binaries = vec![PathBuf::from("/bin/ls")];
    for v in [Variant::SharedLib, Variant::GrpcSharedLib] {
        let bins = fixture_bins(v).unwrap();
        binaries.push(bins.node);
        binaries.push(bins.client);
    }
    for binary in binaries {
        let (objects, missing) = objects_of_executable(&binary).unwrap();
        assert!(missing.is_empty(), "{}: {missing:?}", binary.display());
        assert_eq!(objects[0].kind, ObjectKind::Executable);
        let ours: std::collections::BTreeSet<PathBuf> = objects[1..]
            .iter()
            .map(|o| o.path.canonicalize().unwrap())
            .collect();
        let loader = ldd_objects(&binary);
        assert_eq!(ours, loader, "{}", binary.display());
        eprintln!("{}: {} libraries, as ldd", binary.display(), ours.len());
        // The fork's library is the application's; everything else here is the system's.
        for o in &objects[1..] {
            let ours = o.path.file_name().unwrap() == "libraftcore.so";
            assert_eq!(
                o.kind == ObjectKind::Library,
                ours,
                "{} is {:?}",
                o.path.display(),
                o.kind
            );
        }
    }
}

/// The forks of issue 19: the Raft core in a shared library (the executable holds only
/// `main`), with mprpc or gRPC. The default profile resolves every layer in the library, names
/// the library for each function, and leaves the system libraries unread.
#[test]
fn shared_library_forks_resolve_every_layer_in_the_library() {
    for (variant, network) in [
        (Variant::SharedLib, "MprpcChannel::CallMethod("),
        (
            Variant::GrpcSharedLib,
            "raftrpc::RaftService::Stub::AppendEntries(",
        ),
    ] {
        let bins = fixture_bins(variant).unwrap();
        let lib = bins.lib.clone().unwrap();
        let report = probes_report(&ProbesArgs {
            binary: Some(bins.node.clone()),
            ..Default::default()
        })
        .unwrap();
        let res = &report.targets[0].resolution;
        for layer in ["network", "log_io", "consensus"] {
            assert!(
                res.functions.iter().any(|f| f.layer == layer),
                "{variant:?}: nothing in {layer}"
            );
        }
        assert!(res
            .functions
            .iter()
            .all(|f| f.object == lib && f.binary == lib));
        let has = |name: &str| res.functions.iter().any(|f| f.demangled.starts_with(name));
        assert!(has(network), "{variant:?}: {network}");
        assert!(has("Raft::doHeartBeat()") && has("Raft::applier()"));
        if variant.is_grpc() {
            for name in [
                "raftrpc::RaftService::Stub::RequestVote(",
                "RaftGrpcService::AppendEntries(",
                "RaftGrpcService::RequestVote(",
                "KvServer::Put(",
                "KvServer::Get(",
                "KvServer::Status(",
                "Persister::SaveRaftState(",
                "Persister::ReadRaftState[abi:cxx11](",
            ] {
                assert!(has(name), "{variant:?}: {name}");
            }
            // The generated base class's UNIMPLEMENTED handlers are not the service.
            assert!(!has("raftrpc::RaftService::Service::"));
        }
        // Offsets inside the library agree with binutils on the library.
        assert_offsets_agree_with_binutils(res, &lib);
        // The executable and the library were searched; system libraries listed, not read.
        let searched: Vec<_> = res.objects.iter().filter(|o| o.searched).collect();
        assert_eq!(searched.len(), 2, "{:#?}", res.objects);
        assert!(res
            .objects
            .iter()
            .any(|o| !o.searched && o.path.file_name().is_some_and(|n| n == "libc.so.6")));
        let text = render_text(&report);
        for want in [
            "objects searched: raftkv-node (executable: 0 functions), libraftcore.so (library: ",
            "in libraftcore.so  ",
            "(in libraftcore.so)",
        ] {
            assert!(text.contains(want), "missing `{want}` in:\n{text}");
        }
    }
}

/// An object qualifier reaches into a system library, and only there: `libc:fsync` resolves
/// in libc (whose .dynsym exports it) and nowhere else; the same pattern unqualified does not
/// search libc.
#[test]
fn object_qualifiers_search_named_system_libraries() {
    let node = fixture_bins(Variant::SharedLib).unwrap().node;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(
        &path,
        r#"
[[layer]]
name = "io"
folder = "io"
functions = ["libc:fsync", "libstdc++:std::basic_ostream<*>::flush"]

[[layer]]
name = "other"
folder = "other"
functions = ["::fdatasync"]
"#,
    )
    .unwrap();
    let report = probes_report(&ProbesArgs {
        binary: Some(node),
        target: TargetArgs {
            profile: Some(path),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let res = &report.targets[0].resolution;
    let found: Vec<(&str, String)> = res
        .functions
        .iter()
        .map(|f| {
            (
                f.demangled.as_str(),
                f.object.file_name().unwrap().to_string_lossy().into_owned(),
            )
        })
        .collect();
    assert!(
        found.iter().any(|(n, o)| *n == "fsync" && o == "libc.so.6"),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(n, o)| n.contains("basic_ostream") && o == "libstdc++.so.6"),
        "{found:?}"
    );
    // `::fdatasync` unqualified: the hook the library exports (it wraps libc's), not libc's.
    assert!(
        found
            .iter()
            .filter(|(n, _)| *n == "fdatasync")
            .all(|(_, o)| o == "libraftcore.so"),
        "{found:?}"
    );
    let libc = res
        .objects
        .iter()
        .find(|o| o.path.file_name().is_some_and(|n| n == "libc.so.6"))
        .unwrap();
    assert!(libc.searched && libc.functions == 1);
}

/// `tracer profile --suggest` on the forks: a profile from their own symbols that `--check`
/// accepts, that resolves functions in every layer (in the library), with the role functions.
#[test]
fn a_suggested_profile_loads_and_resolves_every_layer() {
    use tracer::commands::profile::{profile_command, ProfileArgs};
    let dir = tempfile::tempdir().unwrap();
    for variant in [Variant::SharedLib, Variant::GrpcSharedLib] {
        let node = fixture_bins(variant).unwrap().node;
        let out = dir.path().join(format!("{variant:?}.toml"));
        profile_command(&ProfileArgs {
            suggest: true,
            binary: Some(node.clone()),
            output: Some(out.clone()),
            ..Default::default()
        })
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let p = profile::load(&out).unwrap_or_else(|e| panic!("{e:#}\n{text}"));
        let leader: Vec<&str> = p
            .roles
            .leader_if_calls
            .iter()
            .map(|r| r.text.as_str())
            .collect();
        assert_eq!(
            leader,
            ["Raft::doHeartBeat", "Raft::sendAppendEntries"],
            "{text}"
        );
        let report = probes_report(&ProbesArgs {
            binary: Some(node),
            target: TargetArgs {
                profile: Some(out),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let res = &report.targets[0].resolution;
        assert_eq!(res.unmatched_warnings().count(), 0, "{:#?}", res.unmatched);
        let has = |layer: &str, name: &str| {
            res.functions
                .iter()
                .any(|f| f.layer == layer && f.demangled.starts_with(name))
        };
        let network = if variant.is_grpc() {
            "raftrpc::RaftService::Stub::AppendEntries("
        } else {
            "MprpcChannel::CallMethod("
        };
        let save = if variant.is_grpc() {
            "Persister::SaveRaftState("
        } else {
            "Persister::saveRaftState("
        };
        for (layer, name) in [
            ("network", network),
            ("log_io", save),
            ("consensus", "Raft::AppendEntries1("),
            ("consensus", "Raft::leaderHearBeatTicker("),
        ] {
            assert!(
                has(layer, name),
                "{variant:?}: {name} not in {layer}:\n{text}"
            );
        }
        // Loops are entry-only (a uretprobe on a fiber's function can kill the node).
        assert!(res
            .functions
            .iter()
            .filter(|f| f.demangled.contains("Ticker()"))
            .all(|f| f.entry_only));
    }
}
