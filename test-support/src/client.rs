//! Runs `raftkv-client` and parses its final JSON line.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    Put,
    Get,
    Mixed,
}

impl ClientMode {
    fn as_arg(self) -> &'static str {
        match self {
            ClientMode::Put => "put",
            ClientMode::Get => "get",
            ClientMode::Mixed => "mixed",
        }
    }
}

/// Load shape. Exactly one of `ops_per_thread` / `duration` must be set.
#[derive(Debug, Clone)]
pub struct ClientOpts {
    pub threads: u32,
    pub ops_per_thread: Option<u64>,
    pub duration: Option<Duration>,
    pub mode: ClientMode,
    /// Pad PUT values to this many bytes; >= 1024 makes followers persist
    /// with writev (libstdc++ bypasses its buffer for large writes).
    pub value_bytes: usize,
    /// Operations per second per thread, paced (latency counted from each op's scheduled
    /// time); `None`: closed loop, as fast as the cluster answers.
    pub rate_per_thread: Option<u32>,
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts {
            threads: 2,
            ops_per_thread: Some(2000),
            duration: None,
            mode: ClientMode::Put,
            value_bytes: 0,
            rate_per_thread: None,
        }
    }
}

/// The client's summary; `ops` counts successful operations only.
#[derive(Debug, Clone, Deserialize)]
pub struct ClientReport {
    pub ops: u64,
    /// Operations abandoned after 10 s of retrying.
    pub errors: u64,
    /// Attempts redirected or failed (leader changes, timeouts).
    pub retries: u64,
    pub elapsed_s: f64,
    pub ops_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

pub(crate) fn run(client: &Path, config: &Path, opts: &ClientOpts) -> Result<ClientReport> {
    spawn(client, config, opts)?.finish()
}

/// A client running in the background (a soak's steady load).
pub struct RunningClient {
    /// Taken by `finish`.
    child: Option<std::process::Child>,
}

pub(crate) fn spawn(client: &Path, config: &Path, opts: &ClientOpts) -> Result<RunningClient> {
    let mut cmd = Command::new(client);
    cmd.arg("--config")
        .arg(config)
        .args(["--threads", &opts.threads.to_string()])
        .args(["--mode", opts.mode.as_arg()])
        .args(["--value-bytes", &opts.value_bytes.to_string()]);
    if let Some(r) = opts.rate_per_thread {
        cmd.args(["--rate", &r.to_string()]);
    }
    match (opts.ops_per_thread, opts.duration) {
        (Some(n), None) => cmd.args(["--ops", &n.to_string()]),
        (None, Some(d)) => cmd.args(["--duration-s", &d.as_secs_f64().to_string()]),
        _ => bail!("ClientOpts needs exactly one of ops_per_thread and duration"),
    };
    let child = crate::proc_util::spawn_tracked(
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    )
    .context("running raftkv-client")?;
    Ok(RunningClient { child: Some(child) })
}

impl RunningClient {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Waits for the client to finish its load and returns its summary.
    pub fn finish(mut self) -> Result<ClientReport> {
        let mut child = self.child.take().context("client already finished")?;
        // Read both pipes to their end (the client has exited or closed them), then forget
        // the pid and reap it: once reaped its number may be reused.
        let mut err_pipe = child.stderr.take().context("client stderr")?;
        let err_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err_pipe, &mut v);
            v
        });
        let mut stdout_bytes = Vec::new();
        if let Some(mut o) = child.stdout.take() {
            std::io::Read::read_to_end(&mut o, &mut stdout_bytes)
                .context("reading client stdout")?;
        }
        let stderr_bytes = err_reader.join().unwrap_or_default();
        crate::reaper::untrack(child.id());
        let status = child.wait().context("waiting for raftkv-client")?;
        let out = std::process::Output {
            status,
            stdout: stdout_bytes,
            stderr: stderr_bytes,
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .with_context(|| {
                format!(
                    "raftkv-client printed no JSON ({}); stderr:\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
        serde_json::from_str(line).with_context(|| format!("parsing client report {line}"))
    }
}

impl Drop for RunningClient {
    fn drop(&mut self) {
        // Only reached when `finish` was not called (an error path): do not leave it running.
        if let Some(mut c) = self.child.take() {
            crate::proc_util::kill_and_reap(&mut c);
        }
    }
}
