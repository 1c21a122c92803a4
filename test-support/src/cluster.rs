//! A Raft KV cluster of fixture nodes on 127.0.0.1, in a temp dir that holds
//! the config, one data dir per node and the nodes' stderr logs.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::client::{self, ClientOpts, ClientReport};
use crate::entry_log::EntryLog;
use crate::fixture::{fixture_bins, FixtureBins, Variant};
use crate::ground_truth::{CrashReport, GroundTruth};
use crate::ports::free_ports;
use crate::proc_util::{kill_and_reap, send_signal, wait_timeout};
use crate::status::{self, NodeStatus, Role};

/// Durability mode of `Persister::saveRaftState` (`--fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// fsync after every save.
    Every,
    /// Group commit: at most one fdatasync per 10 ms.
    Batch,
    /// Never sync.
    Off,
}

impl Fsync {
    fn as_arg(self) -> &'static str {
        match self {
            Fsync::Every => "every",
            Fsync::Batch => "batch",
            Fsync::Off => "off",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClusterOpts {
    pub nodes: usize,
    pub variant: Variant,
    pub fsync: Fsync,
    pub heartbeat_ms: u32,
    /// One `raftkv-node --launcher` parent forking all nodes (raftCoreRun).
    pub launcher: bool,
    /// Nodes wait for SIGUSR1 (see `Cluster::resume`) before doing anything,
    /// so a tracer can attach first and see every event.
    pub start_paused: bool,
    /// Appended to every node's command line, e.g. `--burn-applier-us 50`.
    pub extra_node_args: Vec<String>,
    /// Appended to one node's command line only (node index → args), after
    /// `extra_node_args`, e.g. `--delay-follower-persist-us 3000` on node 2. Not in launcher
    /// mode (one command line for every node).
    pub per_node_args: BTreeMap<usize, Vec<String>>,
    /// Nodes run with the cluster's root dir as working directory (`--cwd`) and write a log
    /// line per applied entry and per heartbeat to their stdout, made a file there
    /// (`--log-file raftkv-node{id}.out`: see [`Cluster::stdout_log_path`]). The raft state
    /// files are under the same directory (`node<i>/`): a log in the working directory.
    pub log_in_cwd: bool,
    /// Every node records its per-entry timeline (`--entry-log`): see [`Cluster::entry_log`].
    pub entry_log: bool,
    /// Run the nodes from a copy of the node binary under this name (at most 15 bytes: the
    /// kernel's comm), so `tracer run --comm NAME` finds this cluster's nodes and no other
    /// test's. See [`unique_node_name`].
    pub node_name: Option<String>,
}

/// A node binary name no other cluster on this machine uses (`rkv` + pid + a counter).
pub fn unique_node_name() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("rkv{}x{n}", std::process::id())
}

impl Default for ClusterOpts {
    fn default() -> Self {
        ClusterOpts {
            nodes: 3,
            variant: Variant::Fp,
            fsync: Fsync::Every,
            heartbeat_ms: 50,
            launcher: false,
            start_paused: false,
            extra_node_args: Vec::new(),
            per_node_args: BTreeMap::new(),
            log_in_cwd: false,
            entry_log: false,
            node_name: None,
        }
    }
}

/// Running cluster. Dropping it SIGKILLs and reaps every process it started
/// (also on panic, when the temp dir is kept for diagnosis).
pub struct Cluster {
    opts: ClusterOpts,
    bins: FixtureBins,
    dir: Option<tempfile::TempDir>,
    ports: Vec<u16>,
    /// Per node (non-launcher mode); None once killed or stopped.
    nodes: Vec<Option<Child>>,
    launcher: Option<Child>,
}

const STOP_TIMEOUT: Duration = Duration::from_secs(10);

impl Cluster {
    /// Builds the fixture if needed and starts the nodes (not waiting for a
    /// leader: see `wait_for_leader`).
    pub fn start(opts: ClusterOpts) -> Result<Cluster> {
        if opts.nodes == 0 {
            bail!("a cluster needs at least one node");
        }
        if opts.launcher && !opts.per_node_args.is_empty() {
            bail!("per_node_args needs one process per node: not with launcher");
        }
        if let Some(i) = opts.per_node_args.keys().find(|&&i| i >= opts.nodes) {
            bail!(
                "per_node_args names node {i} of a {}-node cluster",
                opts.nodes
            );
        }
        let mut bins = fixture_bins(opts.variant)?;
        let dir = tempfile::Builder::new()
            .prefix("raftkv-cluster-")
            .tempdir()?;
        if let Some(name) = &opts.node_name {
            if name.len() > 15 || name.contains('/') {
                bail!("node name {name:?}: at most 15 bytes, no '/' (it becomes the comm)");
            }
            let copy = dir.path().join(name);
            fs::copy(&bins.node, &copy).with_context(|| {
                format!("copying {} to {}", bins.node.display(), copy.display())
            })?;
            bins.node = copy;
        }
        let ports = free_ports(opts.nodes)?;
        let config: String = ports
            .iter()
            .enumerate()
            .map(|(i, p)| format!("node {i} 127.0.0.1 {p}\n"))
            .collect();
        fs::write(
            dir.path().join("cluster.conf"),
            format!("# raftkv fixture\n{config}"),
        )?;
        let mut c = Cluster {
            nodes: (0..opts.nodes).map(|_| None).collect(),
            opts,
            bins,
            dir: Some(dir),
            ports,
            launcher: None,
        };
        if c.opts.launcher {
            c.launcher = Some(c.spawn_launcher()?);
        } else {
            for i in 0..c.opts.nodes {
                c.nodes[i] = Some(c.spawn_node(i)?);
            }
        }
        Ok(c)
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("cluster dir").path()
    }

    pub fn opts(&self) -> &ClusterOpts {
        &self.opts
    }

    pub fn bins(&self) -> &FixtureBins {
        &self.bins
    }

    /// The temp dir holding config, data dirs and logs.
    pub fn root_dir(&self) -> &Path {
        self.dir()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir().join("cluster.conf")
    }

    /// Data dir of node `i` (also in launcher mode: `<root>/node<i>`).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir().join(format!("node{i}"))
    }

    /// stderr+stdout of node `i` (launcher mode: of the launcher, shared).
    pub fn log_path(&self, i: usize) -> PathBuf {
        if self.opts.launcher {
            self.dir().join("launcher.log")
        } else {
            self.dir().join(format!("node{i}.log"))
        }
    }

    pub fn port(&self, i: usize) -> u16 {
        self.ports[i]
    }

    /// Node `i`'s stdout log in the working directory (`log_in_cwd`).
    pub fn stdout_log_path(&self, i: usize) -> PathBuf {
        self.dir().join(format!("raftkv-node{i}.out"))
    }

    /// Where node `i` writes its per-entry timeline (`entry_log`), when it stops.
    pub fn entry_log_path(&self, i: usize) -> PathBuf {
        self.data_dir(i).join("entries.jsonl")
    }

    /// Node `i`'s per-entry timeline (written when it stopped).
    pub fn entry_log(&self, i: usize) -> Result<EntryLog> {
        EntryLog::read(&self.entry_log_path(i))
    }

    /// `<data_dir(i)>/crash.json`, written by node `i` just before it crashed on command.
    pub fn crash_report(&self, i: usize) -> Result<CrashReport> {
        let path = self.data_dir(i).join("crash.json");
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (log {})",
                path.display(),
                self.log_path(i).display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Waits up to `timeout` for node `i` to exit on its own (a crash) and reaps it; the node
    /// then counts as stopped. Not in launcher mode (the launcher reaps its children).
    pub fn wait_node_exit(&mut self, i: usize, timeout: Duration) -> Result<ExitStatus> {
        if self.opts.launcher {
            bail!("wait_node_exit: nodes are the launcher's children in launcher mode");
        }
        let Some(child) = self.nodes[i].as_mut() else {
            bail!("node {i} is not running");
        };
        match wait_timeout(child, timeout)? {
            Some(status) => {
                self.nodes[i] = None;
                Ok(status)
            }
            None => bail!(
                "node {i} still runs after {timeout:?}; log {}",
                self.log_path(i).display()
            ),
        }
    }

    fn common_args(&self, cmd: &mut Command) {
        cmd.arg("--config")
            .arg(self.config_path())
            .args(["--fsync", self.opts.fsync.as_arg()])
            .args(["--heartbeat-ms", &self.opts.heartbeat_ms.to_string()]);
        if self.opts.start_paused {
            cmd.arg("--start-paused");
        }
        if self.opts.log_in_cwd {
            cmd.arg("--cwd")
                .arg(self.dir())
                .args(["--log-file", "raftkv-node{id}.out"]);
        }
        if self.opts.entry_log {
            cmd.arg("--entry-log")
                .arg(self.dir().join("node{id}").join("entries.jsonl"));
        }
        cmd.args(&self.opts.extra_node_args);
    }

    fn log_file(&self, path: &Path) -> Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))
    }

    fn spawn_node(&self, i: usize) -> Result<Child> {
        let log = self.log_file(&self.log_path(i))?;
        let mut cmd = Command::new(&self.bins.node);
        cmd.args(["--id", &i.to_string()])
            .arg("--data-dir")
            .arg(self.data_dir(i));
        self.common_args(&mut cmd);
        if let Some(extra) = self.opts.per_node_args.get(&i) {
            cmd.args(extra);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        crate::proc_util::spawn_tracked(&mut cmd)
            .with_context(|| format!("spawning {}", self.bins.node.display()))
    }

    fn spawn_launcher(&self) -> Result<Child> {
        let log = self.log_file(&self.log_path(0))?;
        let mut cmd = Command::new(&self.bins.node);
        cmd.args(["--launcher", "--nodes", &self.opts.nodes.to_string()])
            .arg("--data-dir")
            .arg(self.dir());
        self.common_args(&mut cmd);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Its children die with it (PR_SET_PDEATHSIG), so tracking the launcher is enough.
        crate::proc_util::spawn_tracked(&mut cmd).context("spawning launcher")
    }

    /// Pid of node `i`. In launcher mode, the forked child's pid (read from
    /// the `pid` file it writes first thing, waiting up to 5 s for it).
    pub fn node_pid(&self, i: usize) -> Result<u32> {
        if !self.opts.launcher {
            return match &self.nodes[i] {
                Some(c) => Ok(c.id()),
                None => bail!("node {i} is not running"),
            };
        }
        self.pid_file(i)
    }

    /// The pid node `i` writes to `<data_dir>/pid` once its signals are blocked (waiting up
    /// to 5 s for it).
    fn pid_file(&self, i: usize) -> Result<u32> {
        let path = self.data_dir(i).join("pid");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(s) = fs::read_to_string(&path) {
                if let Ok(pid) = s.trim().parse() {
                    return Ok(pid);
                }
            }
            if Instant::now() > deadline {
                bail!("node {i} wrote no pid file at {}", path.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Pids of all running nodes, in node order.
    pub fn pids(&self) -> Vec<u32> {
        (0..self.opts.nodes)
            .filter_map(|i| self.node_pid(i).ok())
            .collect()
    }

    /// Pid of the launcher parent (launcher mode only).
    pub fn launcher_pid(&self) -> Option<u32> {
        self.launcher.as_ref().map(|c| c.id())
    }

    /// Lets nodes started with `start_paused` run (SIGUSR1).
    pub fn resume(&self) -> Result<()> {
        match self.launcher_pid() {
            Some(pid) => {
                for i in 0..self.opts.nodes {
                    self.node_pid(i)?; // children must exist before the signal
                }
                send_signal(pid, libc::SIGUSR1)
            }
            None => (0..self.opts.nodes)
                .filter(|&i| self.nodes[i].is_some())
                .try_for_each(|i| self.resume_node(i)),
        }
    }

    /// Lets node `i` (started with `start_paused`) run, alone (not in launcher mode). Waits
    /// first for the pid file the node writes once it blocks its signals: a SIGUSR1 any
    /// earlier would kill it.
    pub fn resume_node(&self, i: usize) -> Result<()> {
        if self.opts.launcher {
            bail!("resume_node: launcher mode resumes all nodes at once (resume)");
        }
        // Before its pid file, a node may not have blocked SIGUSR1 yet and would die of it (a
        // gRPC node takes tens of ms to load its libraries). The file must hold this very
        // process's pid: a restarted node's data dir still has its predecessor's.
        let pid = self.node_pid(i)?;
        let path = self.data_dir(i).join("pid");
        let deadline = Instant::now() + Duration::from_secs(5);
        while fs::read_to_string(&path).map_or(true, |s| s.trim() != pid.to_string()) {
            if Instant::now() > deadline {
                bail!("node {i} wrote no pid file at {}", path.display());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        send_signal(pid, libc::SIGUSR1)
    }

    /// Raft status of node `i`, asked over RPC.
    pub fn node_status(&self, i: usize) -> Result<NodeStatus> {
        if self.opts.variant.is_grpc() {
            return self
                .grpc_statuses()?
                .into_iter()
                .nth(i)
                .with_context(|| format!("no status line for node {i}"))?;
        }
        status::query(self.ports[i], Duration::from_millis(500))
    }

    /// gRPC nodes: every node's status from one run of the gRPC client (`--status`).
    fn grpc_statuses(&self) -> Result<Vec<Result<NodeStatus>>> {
        status::query_all_via_client(&self.bins.client, &self.config_path())
    }

    /// The current leader if exactly one node of the highest term says so.
    pub fn current_leader(&self) -> Option<usize> {
        let statuses: Vec<(usize, NodeStatus)> = if self.opts.variant.is_grpc() {
            let all = self.grpc_statuses().ok()?;
            all.into_iter()
                .enumerate()
                .filter_map(|(i, s)| s.ok().map(|s| (i, s)))
                .collect()
        } else {
            (0..self.opts.nodes)
                .filter_map(|i| self.node_status(i).ok().map(|s| (i, s)))
                .collect()
        };
        let max_term = statuses.iter().map(|(_, s)| s.term).max()?;
        let leaders: Vec<usize> = statuses
            .iter()
            .filter(|(_, s)| s.role == Role::Leader && s.term == max_term)
            .map(|(i, _)| *i)
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Polls the nodes until one leads; returns its node id.
    pub fn wait_for_leader(&self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.current_leader() {
                return Ok(l);
            }
            if Instant::now() > deadline {
                bail!(
                    "no leader within {timeout:?}; logs in {}",
                    self.dir().display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every running node has applied the leader's whole commit
    /// index (followers learn it from the next heartbeat); returns that index.
    pub fn wait_for_convergence(&self, timeout: Duration) -> Result<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            let leader =
                self.wait_for_leader(deadline.saturating_duration_since(Instant::now()))?;
            let commit = self.node_status(leader)?.commit_index;
            let running = (0..self.opts.nodes).filter(|&i| self.is_running(i));
            let statuses: Vec<Result<NodeStatus>> = running.map(|i| self.node_status(i)).collect();
            if statuses
                .iter()
                .all(|s| s.as_ref().is_ok_and(|s| s.last_applied >= commit))
            {
                return Ok(commit);
            }
            if Instant::now() > deadline {
                bail!("nodes did not converge on commit index {commit}: {statuses:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// False once node `i` was killed (launcher mode: once its pid is gone).
    pub fn is_running(&self, i: usize) -> bool {
        if self.opts.launcher {
            self.node_pid(i)
                .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists())
        } else {
            self.nodes[i].is_some()
        }
    }

    /// Runs `raftkv-client` against the cluster and returns its report.
    pub fn run_client(&self, opts: &ClientOpts) -> Result<ClientReport> {
        client::run(&self.bins.client, &self.config_path(), opts)
    }

    /// Starts a client in the background; `RunningClient::finish` waits for its report.
    pub fn spawn_client(&self, opts: &ClientOpts) -> Result<client::RunningClient> {
        client::spawn(&self.bins.client, &self.config_path(), opts)
    }

    /// SIGKILLs node `i` (no ground truth is written).
    pub fn kill_node(&mut self, i: usize) -> Result<()> {
        if self.opts.launcher {
            return send_signal(self.node_pid(i)?, libc::SIGKILL);
        }
        match self.nodes[i].take() {
            Some(mut c) => {
                kill_and_reap(&mut c);
                Ok(())
            }
            None => bail!("node {i} is not running"),
        }
    }

    /// Starts node `i` again on the same data dir and port (non-launcher).
    pub fn restart_node(&mut self, i: usize) -> Result<()> {
        if self.opts.launcher {
            bail!("restart_node is not supported in launcher mode");
        }
        if self.nodes[i].is_some() {
            bail!("node {i} is still running");
        }
        let _ = fs::remove_file(self.data_dir(i).join("ground_truth.json"));
        self.nodes[i] = Some(self.spawn_node(i)?);
        Ok(())
    }

    /// SIGTERMs every running node, waits for clean exits and returns their
    /// ground truth in node order (nodes killed earlier are left out).
    pub fn stop(mut self) -> Result<Vec<GroundTruth>> {
        self.stop_nodes()
    }

    /// [`Cluster::stop`], keeping the cluster's directory until the `Cluster` is dropped:
    /// for reading what the nodes write when they stop besides the ground truth (entry
    /// logs, per-save timings, stdout logs, state files).
    pub fn stop_nodes(&mut self) -> Result<Vec<GroundTruth>> {
        let stopped = if let Some(mut parent) = self.launcher.take() {
            let pids = self.pids();
            let alive: Vec<usize> = (0..self.opts.nodes)
                .filter(|&i| {
                    pids.get(i)
                        .is_some_and(|&p| Path::new(&format!("/proc/{p}")).exists())
                })
                .collect();
            send_signal(parent.id(), libc::SIGTERM)?;
            match wait_timeout(&mut parent, STOP_TIMEOUT)? {
                Some(_) => {}
                None => {
                    kill_and_reap(&mut parent);
                    bail!("launcher did not exit; log {}", self.log_path(0).display());
                }
            }
            alive
        } else {
            let running: Vec<usize> = (0..self.opts.nodes)
                .filter(|&i| self.nodes[i].is_some())
                .collect();
            for &i in &running {
                send_signal(self.nodes[i].as_ref().unwrap().id(), libc::SIGTERM)?;
            }
            for &i in &running {
                let mut child = self.nodes[i].take().unwrap();
                match wait_timeout(&mut child, STOP_TIMEOUT)? {
                    Some(st) if st.success() => {}
                    Some(st) => bail!(
                        "node {i} exited with {st}; log {}",
                        self.log_path(i).display()
                    ),
                    None => {
                        kill_and_reap(&mut child);
                        bail!(
                            "node {i} ignored SIGTERM; log {}",
                            self.log_path(i).display()
                        );
                    }
                }
            }
            running
        };
        stopped.into_iter().map(|i| self.ground_truth(i)).collect()
    }

    /// Reads `<data_dir(i)>/ground_truth.json` (written when node i stopped).
    pub fn ground_truth(&self, i: usize) -> Result<GroundTruth> {
        let path = self.data_dir(i).join("ground_truth.json");
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (log {})",
                path.display(),
                self.log_path(i).display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.launcher.is_some() {
            // Children die with the launcher (PR_SET_PDEATHSIG) but kill them
            // by pid too in case the launcher is already gone.
            for i in 0..self.opts.nodes {
                if let Ok(s) = fs::read_to_string(self.data_dir(i).join("pid")) {
                    if let Ok(pid) = s.trim().parse::<u32>() {
                        let _ = send_signal(pid, libc::SIGKILL);
                    }
                }
            }
        }
        for c in self
            .nodes
            .iter_mut()
            .flatten()
            .chain(self.launcher.as_mut())
        {
            kill_and_reap(c);
        }
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                eprintln!("cluster files kept for diagnosis: {}", dir.keep().display());
            }
        }
    }
}
