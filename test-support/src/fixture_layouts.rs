//! The fixture builds shaped like real forks (issue 19): the Raft core as a shared library
//! (`libraftcore.so`, the executable holding only `main`, as CMake's `add_library(... SHARED)`
//! makes it) and the gRPC RPC layer (code generated from `fixture/raftkv.proto` at build time).
//!
//! Sources are compiled to objects in parallel (the generated protobuf/gRPC code alone takes
//! ~15 s), then linked. Every output is written under a temporary name and renamed, under the
//! build lock `fixture_bins` holds, so nobody runs a half-written file. Objects (all `-fPIC`)
//! are kept in `<target>/fixture/objs-{mprpc,grpc}`, shared by the library and executable
//! layouts under a lock of their own: those of generated code are rebuilt only when the
//! `.proto` changes, the others when any fixture source does.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::fixture::{is_stale, FixtureBins, Variant, CLIENT_SOURCES, NODE_EXPORTS, NODE_SOURCES};

/// The shared library of the `SharedLib` / `GrpcSharedLib` variants.
pub(crate) const LIB_NAME: &str = "libraftcore.so";

/// The mprpc layer: what the gRPC builds replace.
const MPRPC_SOURCES: &[&str] = &["rpc.cpp"];
const GRPC_SOURCES: &[&str] = &["hook_grpc_net.cpp", "grpc_codec.cpp", "grpc_transport.cpp"];
/// What protoc and grpc_cpp_plugin make of raftkv.proto (in `<out>/gen`).
const GENERATED: &[&str] = &["raftkv.pb.cc", "raftkv.grpc.pb.cc"];
const PROTO: &str = "raftkv.proto";
/// The executable's only source: main() and its argument parsing.
const MAIN_SOURCE: &str = "node_main.cpp";
/// The client's transport (kv_conn.h) in the mprpc builds, and its gRPC replacement.
const MPRPC_CLIENT_CONN: &[&str] = &["kv_conn_tcp.cpp"];
const GRPC_CLIENT_CONN: &[&str] = &["grpc_codec.cpp", "kv_conn_grpc.cpp"];

/// Raft core, persister, fibers, ground truth and the counting hooks: the `Fp` node's sources
/// less its RPC layer and main (so a source added there is in every layout).
fn core_sources() -> Vec<&'static str> {
    NODE_SOURCES
        .iter()
        .copied()
        .filter(|s| !MPRPC_SOURCES.contains(s) && *s != MAIN_SOURCE)
        .collect()
}

/// The `Fp` client's sources with the build's transport.
fn client_sources(grpc: bool) -> Vec<&'static str> {
    let mut v: Vec<&str> = CLIENT_SOURCES
        .iter()
        .copied()
        .filter(|s| !MPRPC_CLIENT_CONN.contains(s))
        .collect();
    v.extend(if grpc {
        GRPC_CLIENT_CONN
    } else {
        MPRPC_CLIENT_CONN
    });
    v
}
/// gRPC does its socket I/O with these; the node counts them (hook_grpc_net.cpp).
const GRPC_EXPORTS: &[&str] = &["sendmsg", "recvmsg"];

/// Builds whatever of `bins` is older than `newest_source` (the caller holds the build lock).
pub(crate) fn build(
    variant: Variant,
    src: &Path,
    out: &Path,
    bins: &FixtureBins,
    newest_source: SystemTime,
) -> Result<()> {
    let outputs = [&bins.node, &bins.client, &bins.workload]
        .into_iter()
        .chain(bins.lib.as_ref());
    if !outputs.into_iter().any(|b| is_stale(b, newest_source)) {
        return Ok(());
    }
    let grpc = variant.is_grpc();
    let family = if grpc { "objs-grpc" } else { "objs-mprpc" };
    let obj = out.parent().unwrap_or(out).join(family);
    fs::create_dir_all(&obj).with_context(|| format!("creating {}", obj.display()))?;
    // Taken after the variant's own lock, always in that order: no deadlock.
    let _objs_lock = crate::fixture::lock_dir(&obj)?;
    let gen = obj.join("gen");
    let pkg = if grpc {
        generate(src, &gen)?;
        Some(PkgConfig::grpc()?)
    } else {
        None
    };

    // Compile flags: frame pointers everywhere (the fork had them), PIC for the library.
    let mut cflags: Vec<String> = [
        "-std=c++17",
        "-O2",
        "-g",
        "-fno-omit-frame-pointer",
        "-pthread",
        "-fPIC",
    ]
    .map(String::from)
    .to_vec();
    if let Some(p) = &pkg {
        cflags.extend(["-DRAFTKV_GRPC", "-DRAFTKV_FORK_NAMES"].map(String::from));
        cflags.push(format!("-I{}", gen.display()));
        cflags.extend(p.cflags.iter().cloned());
    }

    // Objects: the fixture's own sources (with warnings) and the generated ones.
    let mut sources: Vec<(PathBuf, bool)> = Vec::new(); // (source, generated)
    let mut add = |path: PathBuf, generated: bool| {
        if !sources.iter().any(|(p, _)| *p == path) {
            sources.push((path, generated));
        }
    };
    let rpc: &[&str] = if grpc { GRPC_SOURCES } else { MPRPC_SOURCES };
    let core_src = core_sources();
    let client = client_sources(grpc);
    for s in core_src
        .iter()
        .chain(rpc)
        .chain([&MAIN_SOURCE])
        .chain(&client)
    {
        add(src.join(s), false);
    }
    if grpc {
        for g in GENERATED {
            add(gen.join(g), true);
        }
    }
    let proto_mtime = mtime(&src.join(PROTO))?;
    let mut jobs = Vec::new();
    for (source, generated) in &sources {
        let o = object_path(&obj, source);
        // Generated code depends on the .proto only; fixture code on any fixture source.
        let newest = if *generated {
            proto_mtime
        } else {
            newest_source
        };
        if is_stale(&o, newest) {
            let mut cmd = Command::new("g++");
            cmd.args(&cflags);
            if !generated {
                cmd.args(["-Wall", "-Wextra"]);
            }
            cmd.arg("-c").arg(source).arg("-o");
            jobs.push(Job::new(cmd, &o));
        }
    }
    // The syscall workload has nothing to do with the layout: built as in the `Fp` variant.
    let mut workload = Command::new("g++");
    workload
        .args(["-std=c++17", "-O2", "-g", "-fno-omit-frame-pointer"])
        .args(["-Wall", "-Wextra", "-pthread"])
        .arg(src.join("workload_main.cpp"))
        .arg("-o");
    jobs.push(Job::new(workload, &bins.workload));
    run_jobs(jobs)?;

    let objects = |names: &[&str], dir: &Path| -> Vec<PathBuf> {
        names
            .iter()
            .map(|n| object_path(&obj, &dir.join(n)))
            .collect()
    };
    let mut core = objects(&core_src, src);
    core.extend(objects(rpc, src));
    if grpc {
        core.extend(objects(GENERATED, &gen));
    }
    let main_obj = object_path(&obj, &src.join(MAIN_SOURCE));
    let mut client_objs = objects(&client, src);
    if grpc {
        client_objs.extend(objects(GENERATED, &gen));
    }
    let libs = pkg.as_ref().map(|p| p.libs.clone()).unwrap_or_default();

    let mut links = Vec::new();
    if let Some(lib) = &bins.lib {
        // add_library(raftcore SHARED ...): every global symbol exported (the hooks too).
        let mut cmd = Command::new("g++");
        cmd.args(["-shared", "-fPIC", "-pthread", "-g"])
            .arg(format!("-Wl,-soname,{LIB_NAME}"))
            .args(&core)
            .arg("-Wl,--as-needed")
            .args(&libs)
            .arg("-o");
        Job::new(cmd, lib).run_now()?;
        // add_executable(raftkv-node main.cpp) + target_link_libraries(raftcore): NEEDED lists
        // libraftcore.so before libstdc++ and libc, so the hooks in it interpose theirs. The
        // rpath is absolute (as CMake's build rpath): the node also runs from a copy elsewhere.
        let mut cmd = Command::new("g++");
        cmd.args(["-pthread", "-g"])
            .arg(&main_obj)
            .arg(format!("-L{}", out.display()))
            .arg("-lraftcore")
            .arg(format!("-Wl,-rpath,{}", out.display()))
            .arg("-o");
        links.push(Job::new(cmd, &bins.node));
    } else {
        let mut cmd = Command::new("g++");
        cmd.args(["-pthread", "-g"]).args(&core).arg(&main_obj);
        for sym in NODE_EXPORTS.iter().chain(GRPC_EXPORTS) {
            cmd.arg(format!("-Wl,--export-dynamic-symbol={sym}"));
        }
        cmd.arg("-Wl,--as-needed").args(&libs).arg("-o");
        links.push(Job::new(cmd, &bins.node));
    }
    let mut cmd = Command::new("g++");
    cmd.args(["-pthread", "-g"])
        .args(&client_objs)
        .arg("-Wl,--as-needed")
        .args(&libs)
        .arg("-o");
    links.push(Job::new(cmd, &bins.client));
    run_jobs(links)
}

/// `<obj>/<file name>.o`: fixture and generated sources have distinct file names.
fn object_path(obj: &Path, source: &Path) -> PathBuf {
    let name = source.file_name().unwrap_or_default().to_string_lossy();
    obj.join(format!("{name}.o"))
}

fn mtime(path: &Path) -> Result<SystemTime> {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("reading {}", path.display()))
}

/// Runs protoc with the gRPC C++ plugin on raftkv.proto into `gen` (only when the .proto is
/// newer than what is there), via a temporary directory renamed into place.
fn generate(src: &Path, gen: &Path) -> Result<()> {
    let proto = src.join(PROTO);
    let fresh = GENERATED
        .iter()
        .all(|g| !is_stale(&gen.join(g), mtime(&proto).unwrap_or(SystemTime::now())));
    if fresh {
        return Ok(());
    }
    let plugin = find_in_path("grpc_cpp_plugin").context(
        "grpc_cpp_plugin not found (the gRPC fixture variants need protobuf-compiler-grpc, \
         libgrpc++-dev, libprotobuf-dev, protobuf-compiler: run `cargo xtask setup`)",
    )?;
    let tmp = gen.with_extension(format!("tmp{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let out = Command::new("protoc")
        .arg(format!("-I{}", src.display()))
        .arg(format!("--cpp_out={}", tmp.display()))
        .arg(format!("--grpc_out={}", tmp.display()))
        .arg(format!("--plugin=protoc-gen-grpc={}", plugin.display()))
        .arg(&proto)
        .output()
        .context("running protoc (install protobuf-compiler: `cargo xtask setup`)")?;
    if !out.status.success() {
        let _ = fs::remove_dir_all(&tmp);
        bail!(
            "protoc failed on {}:\n{}",
            proto.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = fs::remove_dir_all(gen);
    fs::rename(&tmp, gen).with_context(|| format!("renaming to {}", gen.display()))
}

fn find_in_path(exe: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(exe))
        .find(|p| p.is_file())
}

/// Compiler and linker flags of gRPC++ and protobuf, from pkg-config.
struct PkgConfig {
    cflags: Vec<String>,
    libs: Vec<String>,
}

impl PkgConfig {
    fn grpc() -> Result<PkgConfig> {
        let query = |what: &str| -> Result<Vec<String>> {
            let out = Command::new("pkg-config")
                .args([what, "grpc++", "protobuf"])
                .output()
                .context("running pkg-config (run `cargo xtask setup`)")?;
            if !out.status.success() {
                bail!(
                    "pkg-config {what} grpc++ protobuf failed (the gRPC fixture variants need \
                     libgrpc++-dev and libprotobuf-dev: run `cargo xtask setup`):\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(String::from)
                .collect())
        };
        Ok(PkgConfig {
            cflags: query("--cflags")?,
            libs: query("--libs")?,
        })
    }
}

/// One compiler or linker run whose last argument is the output file: it writes a temporary
/// name (its stderr to a log beside it) and is renamed over `dst` when it succeeds.
struct Job {
    cmd: Command,
    tmp: PathBuf,
    log: PathBuf,
    dst: PathBuf,
}

impl Job {
    fn new(mut cmd: Command, dst: &Path) -> Job {
        let name = dst.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dst.with_file_name(format!(".{name}.tmp{}", std::process::id()));
        let log = dst.with_file_name(format!(".{name}.log{}", std::process::id()));
        cmd.arg(&tmp);
        Job {
            cmd,
            tmp,
            log,
            dst: dst.to_path_buf(),
        }
    }

    fn spawn(&mut self) -> Result<Child> {
        let log = fs::File::create(&self.log)
            .with_context(|| format!("creating {}", self.log.display()))?;
        self.cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("running g++ (is it installed?)")
    }

    /// After the process exited: rename into place, or the error with the compiler's output.
    fn finish(self, status: std::process::ExitStatus) -> Result<()> {
        let stderr = fs::read_to_string(&self.log).unwrap_or_default();
        let _ = fs::remove_file(&self.log);
        if !status.success() {
            let _ = fs::remove_file(&self.tmp);
            bail!(
                "building {} failed ({status}): {:?}\n{stderr}",
                self.dst.display(),
                self.cmd
            );
        }
        fs::rename(&self.tmp, &self.dst)
            .with_context(|| format!("renaming to {}", self.dst.display()))
    }

    fn run_now(mut self) -> Result<()> {
        let status = self.spawn()?.wait()?;
        self.finish(status)
    }
}

/// Runs the jobs, as many at a time as there are CPUs; the first failure is returned once
/// every started job has ended.
fn run_jobs(jobs: Vec<Job>) -> Result<()> {
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut pending = jobs.into_iter();
    let mut running: Vec<(Job, Child)> = Vec::new();
    let mut first_error = None;
    loop {
        while running.len() < parallel && first_error.is_none() {
            let Some(mut job) = pending.next() else { break };
            match job.spawn() {
                Ok(child) => running.push((job, child)),
                Err(e) => first_error = Some(e),
            }
        }
        if running.is_empty() {
            break;
        }
        let mut i = 0;
        let mut progressed = false;
        while i < running.len() {
            if let Some(status) = running[i].1.try_wait()? {
                let (job, _) = running.swap_remove(i);
                progressed = true;
                if let Err(e) = job.finish(status) {
                    first_error.get_or_insert(e);
                }
            } else {
                i += 1;
            }
        }
        if !progressed {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
