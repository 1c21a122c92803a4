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
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts {
            threads: 2,
            ops_per_thread: Some(2000),
            duration: None,
            mode: ClientMode::Put,
            value_bytes: 0,
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
    let mut cmd = Command::new(client);
    cmd.arg("--config")
        .arg(config)
        .args(["--threads", &opts.threads.to_string()])
        .args(["--mode", opts.mode.as_arg()])
        .args(["--value-bytes", &opts.value_bytes.to_string()]);
    match (opts.ops_per_thread, opts.duration) {
        (Some(n), None) => cmd.args(["--ops", &n.to_string()]),
        (None, Some(d)) => cmd.args(["--duration-s", &d.as_secs_f64().to_string()]),
        _ => bail!("ClientOpts needs exactly one of ops_per_thread and duration"),
    };
    let out = cmd.output().context("running raftkv-client")?;
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
