//! The `--metrics HOST:PORT` endpoint: serves `GET /metrics` from a body the run loop
//! replaces after every window.
//!
//! A plain `std::net` listener on one thread, not an HTTP framework: Prometheus scrapes once
//! every few seconds and needs nothing but a status line, a content type and the body, and the
//! tracer should stay small and cheap while it watches a cluster. Requests are answered one at a
//! time with short timeouts, so a stuck client delays a scrape by at most those timeouts. It
//! binds exactly the address the user gave (no default of all interfaces): the figures name
//! processes and functions of the host.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::output::metrics::CONTENT_TYPE;

/// How long one client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests larger than this (headers included) are cut off: a scrape is a few hundred bytes.
const MAX_REQUEST: usize = 16 * 1024;

/// A running endpoint; it stops (and its port is freed) when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` (`HOST:PORT`; port 0 picks a free port, see [`Self::local_addr`]) and
    /// serves the current content of `body` on `GET /metrics`.
    pub fn start(addr: &str, body: Arc<Mutex<String>>) -> Result<MetricsServer> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| {
                anyhow::anyhow!(
                    "invalid metrics address {addr:?} ({e}): expected HOST:PORT, \
                     e.g. 127.0.0.1:9464"
                )
            })?
            .collect();
        if addrs.is_empty() {
            bail!("metrics address {addr:?} resolves to no address");
        }
        let listener = TcpListener::bind(&addrs[..]).map_err(|e| match e.kind() {
            ErrorKind::AddrInUse => anyhow::anyhow!(
                "metrics address {addr} is already in use (another tracer or exporter \
                 listening there?); pick another port with --metrics"
            ),
            ErrorKind::AddrNotAvailable => {
                anyhow::anyhow!("metrics address {addr} is not an address of this host ({e})")
            }
            _ => anyhow::anyhow!("cannot listen on metrics address {addr}: {e}"),
        })?;
        let local = listener.local_addr().context("metrics listener address")?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("metrics".into())
                .spawn(move || serve(listener, body, stop))
                .context("starting the metrics thread")?
        };
        Ok(MetricsServer {
            addr: local,
            stop,
            thread: Some(thread),
        })
    }

    /// The address actually bound (the chosen port when started with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own; an unspecified bind address
        // (0.0.0.0 / ::) is reached through loopback.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let woke = TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok();
        if let Some(t) = self.thread.take() {
            // Without the wake-up the thread would block forever: leave it (it exits with the
            // process) rather than hang the caller.
            if woke {
                let _ = t.join();
            }
        }
    }
}

fn serve(listener: TcpListener, body: Arc<Mutex<String>>, stop: Arc<AtomicBool>) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(stream) = conn {
            // A client that misbehaves only loses its own answer.
            let _ = answer(stream, &body);
        }
    }
}

fn answer(mut stream: TcpStream, body: &Mutex<String>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let request = read_head(&mut stream)?;
    let line = request.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");

    let (status, ctype, content, head_only) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let b = body.lock().unwrap_or_else(|p| p.into_inner()).clone();
            ("200 OK", CONTENT_TYPE, b, method == "HEAD")
        }
        (_, "/metrics") => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".to_string(),
            false,
        ),
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: metrics are at /metrics\n".to_string(),
            method == "HEAD",
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        content.len()
    );
    if status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes())?;
    if !head_only {
        stream.write_all(content.as_bytes())?;
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// The request up to the blank line that ends its headers (a scrape has no body).
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
