//! Free loopback ports, found by binding :0 and releasing.

use anyhow::Result;
use std::net::TcpListener;

/// `n` distinct ports that were free a moment ago on 127.0.0.1. All are held
/// open together while collecting so the kernel cannot hand one out twice.
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}
