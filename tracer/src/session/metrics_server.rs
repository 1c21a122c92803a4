//! The `--metrics HOST:PORT` endpoint: serves `GET /metrics` from a body the run loop
//! replaces after every window.
//!
//! It stays answerable while clients misbehave:
//! - every connection gets its own short-lived thread, so a slow client delays only itself;
//! - every connection has a **total** deadline ([`Limits::deadline`]) covering the request
//!   and the answer: each read and write gets only the time left, so a client that sends one
//!   byte every second is cut at the deadline, not kept alive by a per-read timeout;
//! - at most [`Limits::max_connections`] are served at once; one more is answered `503` at
//!   once by the accepting thread (which never reads or waits on a client) and closed.
//!
//! Why not `tiny_http`: its 0.12 server spawns an unbounded thread per connection, has no
//! timeout of any kind and does not expose the sockets, so neither the deadline nor the cap
//! can be added from outside. Prometheus needs nothing but a status line, a content type and
//! the body, which is what the few lines below write.
//!
//! It binds exactly the address the user gave (no default of all interfaces): the figures name
//! processes and functions of the host.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::output::metrics::CONTENT_TYPE;

/// Requests larger than this (headers included) are cut off: a scrape is a few hundred bytes.
const MAX_REQUEST: usize = 16 * 1024;
/// Stack of a connection thread: it reads a request head and copies the body out.
const CONNECTION_STACK: usize = 256 * 1024;

/// What keeps the endpoint answerable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Total time one connection may take, from accept to the last byte of the answer.
    pub deadline: Duration,
    /// Connections served at once; more are refused with `503 Service Unavailable`.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 10 s is Prometheus's default `scrape_timeout`: a scrape still unanswered by then has
    /// been abandoned by Prometheus anyway. A scrape on a LAN takes milliseconds, so 32 slots
    /// are many times what a few Prometheus servers need, and leave room for stuck clients.
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(10),
            max_connections: 32,
        }
    }
}

/// A running endpoint; it stops accepting (and its port is freed) when dropped. Connections
/// already accepted finish on their own within the deadline.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` (`HOST:PORT`; port 0 picks a free port, see [`Self::local_addr`]) and
    /// serves the current content of `body` on `GET /metrics`, with the default [`Limits`].
    pub fn start(addr: &str, body: Arc<Mutex<String>>) -> Result<MetricsServer> {
        Self::start_with(addr, body, Limits::default())
    }

    /// [`Self::start`] with other limits.
    pub fn start_with(
        addr: &str,
        body: Arc<Mutex<String>>,
        limits: Limits,
    ) -> Result<MetricsServer> {
        let listener = bind(addr)?;
        let local = listener.local_addr().context("metrics listener address")?;
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, open) = (stop.clone(), open.clone());
            std::thread::Builder::new()
                .name("metrics".into())
                .spawn(move || accept_loop(listener, body, limits, stop, open))
                .context("starting the metrics thread")?
        };
        Ok(MetricsServer {
            addr: local,
            stop,
            open,
            thread: Some(thread),
        })
    }

    /// The address actually bound (the chosen port when started with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections being served now (refused ones are not counted).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

fn bind(addr: &str) -> Result<TcpListener> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| {
            anyhow::anyhow!(
                "invalid metrics address {addr:?} ({e}): expected HOST:PORT, e.g. 127.0.0.1:9464"
            )
        })?
        .collect();
    if addrs.is_empty() {
        bail!("metrics address {addr:?} resolves to no address");
    }
    TcpListener::bind(&addrs[..]).map_err(|e| match e.kind() {
        ErrorKind::AddrInUse => anyhow::anyhow!(
            "metrics address {addr} is already in use (another tracer or exporter listening \
             there?); pick another port with --metrics"
        ),
        ErrorKind::AddrNotAvailable => {
            anyhow::anyhow!("metrics address {addr} is not an address of this host ({e})")
        }
        _ => anyhow::anyhow!("cannot listen on metrics address {addr}: {e}"),
    })
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

/// Counts a connection as open until dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(
    listener: TcpListener,
    body: Arc<Mutex<String>>,
    limits: Limits,
    stop: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else { continue };
        let accepted = Instant::now();
        if open.fetch_add(1, Ordering::SeqCst) >= limits.max_connections {
            open.fetch_sub(1, Ordering::SeqCst);
            refuse(stream);
            continue;
        }
        let slot = Slot(open.clone());
        let body = body.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-conn".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                let _slot = slot;
                let mut conn = Deadline {
                    stream,
                    end: accepted + limits.deadline,
                };
                // A client that misbehaves only loses its own answer.
                let _ = answer(&mut conn, &body);
            });
        // No thread (the host is out of them): the closure, the stream and the slot are
        // dropped, which closes the connection and frees the slot.
        drop(spawned);
    }
}

/// `503` without waiting: the socket is non-blocking, the answer fits in any send buffer, and
/// what the client already sent (up to a request's size) is read and discarded, so closing
/// sends FIN rather than a reset that could destroy the answer before the client reads it.
fn refuse(mut stream: TcpStream) {
    const BODY: &str = "too many connections to the metrics endpoint; retry\n";
    let _ = stream.set_nonblocking(true);
    let _ = write!(
        stream,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 1024];
    for _ in 0..MAX_REQUEST / sink.len() {
        if !matches!(stream.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
}

/// A connection whose every read and write may use only the time left before `end`.
struct Deadline {
    stream: TcpStream,
    end: Instant,
}

impl Deadline {
    fn left(&self) -> std::io::Result<Duration> {
        let left = self.end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                ErrorKind::TimedOut,
                "metrics request deadline passed",
            ));
        }
        Ok(left)
    }
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.left()?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for Deadline {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let left = self.left()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn answer(conn: &mut Deadline, body: &Mutex<String>) -> std::io::Result<()> {
    let request = read_head(conn)?;
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
    conn.write_all(out.as_bytes())?;
    if !head_only {
        conn.write_all(content.as_bytes())?;
    }
    conn.flush()?;
    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// The request up to the blank line that ends its headers (a scrape has no body).
fn read_head(conn: &mut Deadline) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
