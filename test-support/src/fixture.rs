//! Compiles the fixture with g++ on demand. Concurrent test processes share
//! one build: a flock serialises them, and binaries are built under a
//! temporary name and renamed so nobody ever executes a half-written file.

use anyhow::{bail, Context, Result};
use std::fs::{self, File};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Which build of the fixture: with frame pointers (stack walking works
/// without DWARF) or without (what a tracer must cope with in the wild), and
/// the layouts of real forks (issue 19): the Raft core in a shared library,
/// gRPC instead of the mprpc-like framing. See fixture/README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    Fp,
    NoFp,
    /// Raft core, persister, RPC, fibers and hooks in `libraftcore.so`; `raftkv-node` holds
    /// only `main` (node_main.cpp). Frame pointers in both; method names as in `Fp`.
    SharedLib,
    /// gRPC RPC layer (raftkv.proto), everything in the executable; the fork's persister
    /// spelling (`Persister::SaveRaftState`). Built only when asked (~1 min).
    Grpc,
    /// The fork of issue 19: gRPC and the Raft core in `libraftcore.so`, the executable only
    /// `main`. Built only when asked.
    GrpcSharedLib,
}

impl Variant {
    pub fn dir_name(self) -> &'static str {
        match self {
            Variant::Fp => "fp",
            Variant::NoFp => "nofp",
            Variant::SharedLib => "shlib",
            Variant::Grpc => "grpc",
            Variant::GrpcSharedLib => "grpc-shlib",
        }
    }

    /// True when the node's RPC layer is gRPC (the client and status queries speak gRPC too).
    pub fn is_grpc(self) -> bool {
        matches!(self, Variant::Grpc | Variant::GrpcSharedLib)
    }

    /// True when the node's code lives in `libraftcore.so` beside the executable.
    pub fn is_shared_lib(self) -> bool {
        matches!(self, Variant::SharedLib | Variant::GrpcSharedLib)
    }

    /// The traced methods this build has (the keys of its ground truth's `calls`).
    pub fn traced_methods(self) -> &'static [&'static str] {
        if self.is_grpc() {
            crate::ground_truth::GRPC_TRACED_METHODS
        } else {
            crate::ground_truth::TRACED_METHODS
        }
    }

    fn frame_pointer_flag(self) -> &'static str {
        match self {
            Variant::NoFp => "-fomit-frame-pointer",
            _ => "-fno-omit-frame-pointer",
        }
    }
}

/// Paths of the fixture executables for one variant.
#[derive(Debug, Clone)]
pub struct FixtureBins {
    pub node: PathBuf,
    pub client: PathBuf,
    pub workload: PathBuf,
    /// `libraftcore.so`, which the node loads (shared-library variants only).
    pub lib: Option<PathBuf>,
    /// `chain-burn`: CPU burnt in main → run → qsort (glibc) → compare_items → deep_leaf;
    /// in the NoFp variant without frame pointers (stack-unwinding ground truth). Fp and NoFp
    /// only (None in the layout variants: the program has no layout).
    pub chain: Option<PathBuf>,
}

pub(crate) const NODE_SOURCES: &[&str] = &[
    "wire.cpp",
    "stats.cpp",
    "hook_net.cpp",
    "hook_io.cpp",
    "persister.cpp",
    "fiber.cpp",
    "rpc.cpp",
    "raft.cpp",
    "node_main.cpp",
    // Traits of real clusters, each behind a node switch (see fixture/README.md).
    "kvserver.cpp",
    "busy_poll.cpp",
    "leak.cpp",
    "node_log.cpp",
    "crash.cpp",
    "entry_log.cpp",
];
pub(crate) const CLIENT_SOURCES: &[&str] = &["wire.cpp", "kv_conn_tcp.cpp", "client_main.cpp"];
const WORKLOAD_SOURCES: &[&str] = &["workload_main.cpp"];
const CHAIN_SOURCES: &[&str] = &["chain_main.cpp"];
/// So dladdr (chain-burn's own record of its stack) can name the chain's functions.
const CHAIN_EXPORTS: &[&str] = &["deep_leaf", "compare_items", "run", "main"];

/// Symbols the node must export so libstdc++ (a shared library) binds its
/// write/writev calls to the fixture's counting hooks instead of libc's.
pub(crate) const NODE_EXPORTS: &[&str] = &[
    "write",
    "writev",
    "fsync",
    "fdatasync",
    "send",
    "recv",
    "usleep",
];

/// The cargo workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The C++ sources of the fixture.
pub fn fixture_dir() -> PathBuf {
    workspace_root().join("fixture")
}

pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Returns the fixture binaries for `variant`, (re)building any that is
/// missing or older than a source file under `fixture/`.
pub fn fixture_bins(variant: Variant) -> Result<FixtureBins> {
    let src = fixture_dir();
    let out = target_dir().join("fixture").join(variant.dir_name());
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let bins = FixtureBins {
        node: out.join("raftkv-node"),
        client: out.join("raftkv-client"),
        workload: out.join("syscall-workload"),
        lib: variant
            .is_shared_lib()
            .then(|| out.join(crate::fixture_layouts::LIB_NAME)),
        chain: matches!(variant, Variant::Fp | Variant::NoFp).then(|| out.join("chain-burn")),
    };

    let _lock = lock_dir(&out)?;

    let newest_source = newest_mtime(&src)?;
    if matches!(
        variant,
        Variant::SharedLib | Variant::Grpc | Variant::GrpcSharedLib
    ) {
        crate::fixture_layouts::build(variant, &src, &out, &bins, newest_source)?;
        return Ok(bins);
    }
    let mut jobs: Vec<(&Path, &[&str], &[&str])> = vec![
        (&bins.node, NODE_SOURCES, NODE_EXPORTS),
        (&bins.client, CLIENT_SOURCES, &[]),
        (&bins.workload, WORKLOAD_SOURCES, &[]),
    ];
    if let Some(chain) = &bins.chain {
        jobs.push((chain, CHAIN_SOURCES, CHAIN_EXPORTS));
    }
    let mut running = Vec::new();
    for (bin, sources, exports) in jobs {
        if is_stale(bin, newest_source) {
            running.push(spawn_gxx(variant, &src, bin, sources, exports)?);
        }
    }
    for (mut child, tmp, bin) in running {
        let output = child.wait_with_output_or_err()?;
        if !output.0.success() {
            let _ = fs::remove_file(&tmp);
            bail!("g++ failed building {}:\n{}", bin.display(), output.1);
        }
        fs::rename(&tmp, &bin).with_context(|| format!("renaming to {}", bin.display()))?;
    }
    Ok(bins)
}

/// Holds `<dir>/.build.lock` exclusively until the returned file is dropped.
pub(crate) fn lock_dir(dir: &Path) -> Result<File> {
    let lock_path = dir.join(".build.lock");
    let lock =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    // SAFETY: flock on a file descriptor we own; released when `lock` drops.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        bail!(
            "flock {}: {}",
            lock_path.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(lock)
}

pub(crate) fn is_stale(bin: &Path, newest_source: SystemTime) -> bool {
    match fs::metadata(bin).and_then(|m| m.modified()) {
        Ok(t) => t < newest_source,
        Err(_) => true,
    }
}

fn newest_mtime(dir: &Path) -> Result<SystemTime> {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let is_source = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("cpp" | "h" | "proto")
        );
        if is_source {
            newest = newest.max(fs::metadata(&path)?.modified()?);
        }
    }
    Ok(newest)
}

/// A running g++ with its stderr captured, the temp output and final path.
type Build = (BuildChild, PathBuf, PathBuf);

fn spawn_gxx(
    variant: Variant,
    src: &Path,
    bin: &Path,
    sources: &[&str],
    exports: &[&str],
) -> Result<Build> {
    let tmp = bin.with_extension(format!("tmp{}", std::process::id()));
    let mut cmd = Command::new("g++");
    cmd.args(["-std=c++17", "-O2", "-g", variant.frame_pointer_flag()])
        .args(["-Wall", "-Wextra", "-pthread", "-o"])
        .arg(&tmp)
        .args(sources.iter().map(|s| src.join(s)));
    for sym in exports {
        cmd.arg(format!("-Wl,--export-dynamic-symbol={sym}"));
    }
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running g++ (is it installed?)")?;
    Ok((BuildChild(child), tmp, bin.to_path_buf()))
}

/// Wrapper so a failed build's stderr comes back as text.
struct BuildChild(std::process::Child);

impl BuildChild {
    fn wait_with_output_or_err(&mut self) -> Result<(std::process::ExitStatus, String)> {
        let mut stderr = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            use std::io::Read;
            e.read_to_string(&mut stderr)?;
        }
        Ok((self.0.wait()?, stderr))
    }
}
