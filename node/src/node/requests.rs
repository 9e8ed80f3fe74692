//! Outbound requests per peer: a few in flight, the rest waiting their turn.
//!
//! The engine asks for whatever it needs at once: a node that connects to a peer holding 500
//! artefacts wants 500 pulls. libp2p's request-response fails every request beyond the streams
//! a connection may hold ("max sub-streams reached"), so sending them all would lose most of
//! them, and would crowd out the peer's own requests on that connection. Requests therefore go
//! out at most [`MAX_IN_FLIGHT_PER_PEER`] at a time per peer, in the order the engine made them;
//! the rest wait here, up to [`MAX_QUEUED_PER_PEER`], beyond which they fail at once (the
//! engine then treats them as any failed request and asks again later).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Requests to one peer on the wire at once. Well below the streams a connection allows
/// (`net::MAX_CONCURRENT_STREAMS`), which the peer's requests to us share.
pub(crate) const MAX_IN_FLIGHT_PER_PEER: usize = 8;
/// Requests to one peer waiting to be sent; more fail at once.
pub(crate) const MAX_QUEUED_PER_PEER: usize = 10_000;

/// What to do with a request the engine made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Submitted<R> {
    /// Send it now.
    Send(R),
    /// It waits for an earlier request to the same peer to finish.
    Queued,
    /// Too many wait already: report it failed.
    Overflow(R),
}

#[derive(Debug)]
pub(crate) struct PeerRequests<P, R> {
    in_flight: HashMap<P, usize>,
    queued: HashMap<P, VecDeque<R>>,
    max_in_flight: usize,
    max_queued: usize,
}

impl<P: Eq + Hash + Clone, R> PeerRequests<P, R> {
    pub(crate) fn new(max_in_flight: usize, max_queued: usize) -> Self {
        PeerRequests {
            in_flight: HashMap::new(),
            queued: HashMap::new(),
            max_in_flight: max_in_flight.max(1),
            max_queued,
        }
    }

    pub(crate) fn submit(&mut self, peer: &P, request: R) -> Submitted<R> {
        let in_flight = self.in_flight.entry(peer.clone()).or_default();
        if *in_flight < self.max_in_flight {
            *in_flight += 1;
            return Submitted::Send(request);
        }
        let queue = self.queued.entry(peer.clone()).or_default();
        if queue.len() >= self.max_queued {
            return Submitted::Overflow(request);
        }
        queue.push_back(request);
        Submitted::Queued
    }

    /// A request to `peer` finished (answered or failed): the next waiting one, to send now.
    pub(crate) fn finished(&mut self, peer: &P) -> Option<R> {
        let next = self.queued.get_mut(peer).and_then(VecDeque::pop_front);
        if self.queued.get(peer).is_some_and(VecDeque::is_empty) {
            self.queued.remove(peer);
        }
        match next {
            // One finished, one goes out: the count stays.
            Some(next) => Some(next),
            None => {
                if let Some(n) = self.in_flight.get_mut(peer) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.in_flight.remove(peer);
                    }
                }
                None
            }
        }
    }

    /// `peer` went away: the requests still waiting, to report failed. Those in flight fail
    /// through the network layer and are then [`finished`](Self::finished) as usual.
    pub(crate) fn disconnected(&mut self, peer: &P) -> Vec<R> {
        self.queued.remove(peer).map(Vec::from).unwrap_or_default()
    }

    /// Requests waiting, over all peers.
    pub(crate) fn waiting(&self) -> usize {
        self.queued.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_beyond_the_window_wait_and_go_out_in_order() {
        let mut q: PeerRequests<&str, u32> = PeerRequests::new(2, 100);
        assert_eq!(q.submit(&"a", 1), Submitted::Send(1));
        assert_eq!(q.submit(&"a", 2), Submitted::Send(2));
        assert_eq!(q.submit(&"a", 3), Submitted::Queued);
        assert_eq!(q.submit(&"a", 4), Submitted::Queued);
        assert_eq!(
            q.submit(&"b", 9),
            Submitted::Send(9),
            "other peers are not held up"
        );
        assert_eq!(q.waiting(), 2);
        assert_eq!(q.finished(&"a"), Some(3));
        assert_eq!(q.finished(&"a"), Some(4));
        assert_eq!(q.finished(&"a"), None);
        assert_eq!(q.finished(&"a"), None);
        // Two finished without successors: the window is open again.
        assert_eq!(q.submit(&"a", 5), Submitted::Send(5));
        assert_eq!(q.submit(&"a", 6), Submitted::Send(6));
        assert_eq!(q.submit(&"a", 7), Submitted::Queued);
    }

    #[test]
    fn a_full_queue_overflows_and_a_disconnect_hands_back_the_waiting() {
        let mut q: PeerRequests<&str, u32> = PeerRequests::new(1, 2);
        assert_eq!(q.submit(&"a", 1), Submitted::Send(1));
        assert_eq!(q.submit(&"a", 2), Submitted::Queued);
        assert_eq!(q.submit(&"a", 3), Submitted::Queued);
        assert_eq!(q.submit(&"a", 4), Submitted::Overflow(4));
        assert_eq!(q.disconnected(&"a"), vec![2, 3]);
        assert_eq!(q.waiting(), 0);
        // The one in flight fails afterwards; nothing is left to send.
        assert_eq!(q.finished(&"a"), None);
        assert_eq!(q.submit(&"a", 5), Submitted::Send(5));
    }
}
