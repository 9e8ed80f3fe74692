//! Checking peers' replies off the event loop, with a time limit.
//!
//! A reply can carry Automerge data whose cost the peer chooses: changes and snapshots to
//! decode, origins to recompute. The protocol bounds that work with a budget per message
//! (`allmenning_protocol::signed::DecodeBudget`), but even bounded work is seconds of CPU, and
//! the event loop also answers every other peer and the control socket. So the loop hands each
//! reply to [`Checker::submit`], which runs `Engine::prepare_response` (pure: it needs no
//! engine state) on a blocking worker and sends the result back to the loop, which then lets
//! the engine admit it. At most [`WORKERS`] replies are checked at once, and one that takes
//! longer than [`TIME_LIMIT`] is given up on: the request counts as failed and the peer is
//! penalised. A worker cannot be stopped, but the budget bounds how long it runs on, and it
//! keeps its slot until it ends, so timed-out work never piles up beyond [`WORKERS`].

use crate::net::Frame;
use allmenning_protocol::engine::{Engine, PreparedResponse};
use allmenning_protocol::wire::Request;
use allmenning_protocol::MemStore;
use libp2p::PeerId;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// Replies checked at the same time (the machine's cores are shared with the event loop).
pub(super) const WORKERS: usize = 2;
/// How long checking one reply may take before the node gives up on it.
pub(super) const TIME_LIMIT: Duration = Duration::from_secs(10);

/// A reply whose checking ended.
pub(super) struct Checked {
    pub peer: PeerId,
    pub request: Request,
    /// `Err`: why checking gave up (too slow, or the worker failed).
    pub outcome: Result<PreparedResponse, String>,
    pub took: Duration,
}

/// The work a worker does on a reply.
type CheckFn = fn(&[u8]) -> PreparedResponse;

/// Hands replies to workers and their results back to the event loop.
pub(super) struct Checker {
    done: mpsc::UnboundedSender<Checked>,
    slots: Arc<Semaphore>,
    time_limit: Duration,
    check: CheckFn,
}

/// The engine's check of a reply (the store type does not matter: it touches no engine state).
fn prepare(bytes: &[u8]) -> PreparedResponse {
    Engine::<MemStore, PeerId>::prepare_response(bytes)
}

impl Checker {
    /// A checker and the receiving end the event loop listens on.
    pub fn new() -> (Checker, mpsc::UnboundedReceiver<Checked>) {
        Self::with(TIME_LIMIT, prepare)
    }

    fn with(time_limit: Duration, check: CheckFn) -> (Checker, mpsc::UnboundedReceiver<Checked>) {
        let (done, rx) = mpsc::unbounded_channel();
        let checker = Checker {
            done,
            slots: Arc::new(Semaphore::new(WORKERS)),
            time_limit,
            check,
        };
        (checker, rx)
    }

    /// Checks `bytes`, the reply of `peer` to `request`, on a worker.
    pub fn submit(&self, peer: PeerId, request: Request, frame: Frame) {
        let done = self.done.clone();
        let slots = self.slots.clone();
        let time_limit = self.time_limit;
        let check = self.check;
        tokio::spawn(async move {
            // Closed only when the node stops; then nobody waits for the answer.
            let Ok(slot) = slots.acquire_owned().await else {
                return;
            };
            let started = Instant::now();
            let work = tokio::task::spawn_blocking(move || {
                // The slot is held until the work really ends, even after a time-out.
                let _slot = slot;
                // The frame keeps its share of the inbound budget until it is checked.
                check(frame.bytes())
            });
            let outcome = match tokio::time::timeout(time_limit, work).await {
                Ok(Ok(prepared)) => Ok(prepared),
                Ok(Err(e)) => Err(format!("checking the reply failed: {e}")),
                Err(_) => Err(format!(
                    "the reply took longer than {} s to check",
                    time_limit.as_secs_f32()
                )),
            };
            let _ = done.send(Checked {
                peer,
                request,
                outcome,
                took: started.elapsed(),
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allmenning_protocol::wire::Response;

    fn peer() -> PeerId {
        PeerId::random()
    }

    #[tokio::test]
    async fn a_reply_is_checked_on_a_worker_and_handed_back() {
        let (checker, mut rx) = Checker::new();
        let reply = Response::Ack.encode();
        checker.submit(peer(), Request::Inventory, Frame::outbound(reply));
        let done = rx.recv().await.expect("an answer");
        let prepared = done.outcome.expect("checked");
        assert_eq!(prepared.refusal(), None);
    }

    #[tokio::test]
    async fn a_malformed_reply_is_refused_with_its_reason() {
        let (checker, mut rx) = Checker::new();
        checker.submit(
            peer(),
            Request::Inventory,
            Frame::outbound(vec![0xff, 1, 2, 3]),
        );
        let done = rx.recv().await.expect("an answer");
        let refusal = done.outcome.expect("checked").refusal();
        assert!(refusal.is_some_and(|r| r.contains("malformed")));
    }

    /// A check as slow as a reply that costs its whole budget.
    fn slow(bytes: &[u8]) -> PreparedResponse {
        std::thread::sleep(Duration::from_millis(300));
        prepare(bytes)
    }

    #[tokio::test]
    async fn checking_that_takes_too_long_is_given_up_on() {
        let (checker, mut rx) = Checker::with(Duration::from_millis(20), slow);
        let started = Instant::now();
        checker.submit(
            peer(),
            Request::Inventory,
            Frame::outbound(Response::Ack.encode()),
        );
        let done = rx.recv().await.expect("an answer");
        let err = done.outcome.err().expect("given up");
        assert!(err.contains("longer than"), "{err}");
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "not waited out"
        );
    }

    #[tokio::test]
    async fn timed_out_work_keeps_its_slot_until_it_ends() {
        let (checker, mut rx) = Checker::with(Duration::from_millis(20), slow);
        let started = Instant::now();
        for _ in 0..WORKERS + 1 {
            checker.submit(
                peer(),
                Request::Inventory,
                Frame::outbound(Response::Ack.encode()),
            );
        }
        for _ in 0..WORKERS + 1 {
            rx.recv().await.expect("an answer");
        }
        // The last one could only start once a slow one had really finished.
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
