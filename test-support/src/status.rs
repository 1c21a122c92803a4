//! Asks a node for its Raft role over the fixture's own RPC protocol
//! (u32 length + u32 method id 5 = Status), the way a client finds a leader.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const METHOD_STATUS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub role: Role,
    pub term: i64,
    /// Config id of the leader this node knows of, if any.
    pub leader_id: Option<usize>,
    pub commit_index: u64,
    pub last_applied: u64,
}

pub(crate) fn query(port: u16, timeout: Duration) -> Result<NodeStatus> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut req = 4u32.to_le_bytes().to_vec();
    req.extend_from_slice(&METHOD_STATUS.to_le_bytes());
    s.write_all(&req)?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut body).context("reading status reply")?;
    parse(&body)
}

fn parse(b: &[u8]) -> Result<NodeStatus> {
    if b.len() != 1 + 8 * 4 {
        bail!("status reply has {} bytes", b.len());
    }
    let word = |i: usize| i64::from_le_bytes(b[1 + 8 * i..9 + 8 * i].try_into().unwrap());
    let role = match b[0] {
        0 => Role::Follower,
        1 => Role::Candidate,
        2 => Role::Leader,
        r => bail!("unknown role {r}"),
    };
    Ok(NodeStatus {
        role,
        term: word(0),
        leader_id: usize::try_from(word(1)).ok(),
        commit_index: word(2) as u64,
        last_applied: word(3) as u64,
    })
}
