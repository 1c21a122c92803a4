//! Asks a node for its Raft role over the fixture's own RPC protocol
//! (u32 length + u32 method id 5 = Status), the way a client finds a leader;
//! gRPC nodes through `raftkv-client --status` (the gRPC build's client).

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
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

/// Every node's status, in config order, from one `raftkv-client --config FILE --status` run
/// (each node gets 500 ms to answer; a node that did not is an error in its slot).
pub(crate) fn query_all_via_client(
    client: &Path,
    config: &Path,
) -> Result<Vec<Result<NodeStatus>>> {
    let out = Command::new(client)
        .arg("--config")
        .arg(config)
        .arg("--status")
        .output()
        .with_context(|| format!("running {} --status", client.display()))?;
    if !out.status.success() {
        bail!(
            "{} --status failed ({}): {}",
            client.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(parse_client_line)
        .collect())
}

#[derive(serde::Deserialize)]
struct ClientStatusLine {
    node: i64,
    ok: bool,
    role: Option<u8>,
    term: Option<i64>,
    leader: Option<i64>,
    commit: Option<u64>,
    applied: Option<u64>,
}

fn parse_client_line(line: &str) -> Result<NodeStatus> {
    let l: ClientStatusLine =
        serde_json::from_str(line).with_context(|| format!("parsing status line {line}"))?;
    let (Some(role), Some(term), Some(leader), Some(commit), Some(applied)) =
        (l.role, l.term, l.leader, l.commit, l.applied)
    else {
        bail!("node {} did not answer its status (ok={})", l.node, l.ok);
    };
    let role = match role {
        0 => Role::Follower,
        1 => Role::Candidate,
        2 => Role::Leader,
        r => bail!("unknown role {r}"),
    };
    Ok(NodeStatus {
        role,
        term,
        leader_id: usize::try_from(leader).ok(),
        commit_index: commit,
        last_applied: applied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_status_lines_parse() {
        let s = parse_client_line(
            r#"{"node":1,"ok":true,"role":2,"term":3,"leader":1,"commit":40,"applied":39}"#,
        )
        .unwrap();
        assert_eq!(s.role, Role::Leader);
        assert_eq!((s.term, s.leader_id), (3, Some(1)));
        assert_eq!((s.commit_index, s.last_applied), (40, 39));
        let none = parse_client_line(
            r#"{"node":0,"ok":true,"role":0,"term":3,"leader":-1,"commit":0,"applied":0}"#,
        )
        .unwrap();
        assert_eq!(none.leader_id, None);
        let err = parse_client_line(r#"{"node":2,"ok":false}"#).unwrap_err();
        assert!(err.to_string().contains("node 2 did not answer"), "{err}");
    }
}
