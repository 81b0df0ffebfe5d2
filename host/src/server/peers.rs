//! Open connections per peer, so that one client cannot hold every slot of
//! the listener (idle or half-sent requests) while others wait.
//!
//! A peer is an IPv4 address or an IPv6 /64 (one machine usually has a
//! whole /64 to pick addresses from); an IPv4-mapped address counts as its
//! IPv4 address.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// How many connections each peer holds now.
pub struct PeerConnections {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of a peer; counted until dropped.
pub struct PeerSlot {
    peers: Arc<PeerConnections>,
    key: IpAddr,
}

impl PeerConnections {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for a new connection from `ip`, unless the peer holds the
    /// most it may already.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<PeerSlot> {
        let key = peer_of(ip);
        let mut open = self.open.lock().expect("peer table");
        let count = open.entry(key).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            peers: self.clone(),
            key,
        })
    }

    /// Connections `ip`'s peer holds now.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().expect("peer table");
        open.get(&peer_of(ip)).copied().unwrap_or(0)
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.open.lock().expect("peer table");
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

fn peer_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

/// At most this much of what a refused client already sent is read away.
const DRAINED: usize = 64 << 10;

/// Answers a connection over its peer's cap with a 503 and closes it,
/// without waiting for anything: what the client sent so far (up to
/// [`DRAINED`], so a client that keeps sending cannot hold the accept loop)
/// is read away first, so that closing does not reset the connection
/// before the answer is read; a client that reads nothing loses only its
/// answer.
pub fn refuse_busy(stream: tokio::net::TcpStream) {
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < DRAINED {
        match stream.try_read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    let text = "Too many open connections from your address; close some and try again\n";
    let mut answer = Vec::new();
    let _ = write!(
        answer,
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         retry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.try_write(&answer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_peer_holds_at_most_its_share() {
        let peers = Arc::new(PeerConnections::new(2));
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let first = peers.admit(a).unwrap();
        let _second = peers.admit(a).unwrap();
        assert!(peers.admit(a).is_none());
        // The same address in IPv4-mapped form is the same peer.
        assert!(peers.admit("::ffff:127.0.0.2".parse().unwrap()).is_none());
        // Others are not affected.
        let _other = peers.admit(b).unwrap();
        drop(first);
        assert_eq!(peers.open(a), 1);
        let _again = peers.admit(a).unwrap();
        assert_eq!(peers.open(a), 2);
    }

    #[test]
    fn an_ipv6_peer_is_its_64() {
        let peers = Arc::new(PeerConnections::new(1));
        let _one = peers.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(
            peers
                .admit("2001:db8:1:2:ffff::9".parse().unwrap())
                .is_none()
        );
        assert!(peers.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
    }
}
