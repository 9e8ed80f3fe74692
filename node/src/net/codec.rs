//! Framing for the sync request-response protocol.
//!
//! The frame is deliberately dumb (a length and opaque bytes) so that every decision about the
//! *contents* stays in `allmenning_protocol::wire`, which is sans-IO and tested on its own. What
//! this layer must get right is memory: a peer chooses the length prefix, so the limit is checked
//! before any buffer exists, and the buffer then grows only as bytes actually arrive. A peer that
//! claims 64 MiB and sends four bytes costs us four bytes, not 64 MiB.

use std::io;
use std::sync::Arc;

use allmenning_protocol::wire::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use futures::prelude::*;
use libp2p::{request_response, StreamProtocol};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes reserved up front when reading a frame. Larger frames grow the buffer as data arrives,
/// so the allocation tracks what the peer has really sent rather than what it promised.
const INITIAL_CAPACITY: usize = 64 * 1024;

/// Bytes of inbound requests a node holds at once, from all peers together.
pub(crate) const INBOUND_REQUEST_BUDGET: usize = 16 * 1024 * 1024;
/// Bytes of inbound responses a node holds at once, from all peers together: room for one
/// response of the largest size and several ordinary ones.
pub(crate) const INBOUND_RESPONSE_BUDGET: usize = 96 * 1024 * 1024;
/// The budget's unit (a semaphore permit).
const UNIT: usize = 1024;

/// How many bytes of inbound frames this node holds at once, whoever sent them. A peer chooses
/// a frame's size (up to the per-frame limits), and libp2p reads frames of many streams and
/// connections at the same time; without a bound across all of them, a few peers answering
/// every request with the largest frame would make the node hold gigabytes. A frame takes its
/// share before it is read and holds it until the node has done with it (the [`Frame`] is
/// dropped), so frames beyond the budget wait, in order, instead of piling up in memory.
#[derive(Clone, Debug)]
pub(crate) struct FrameBudget {
    requests: Arc<Semaphore>,
    responses: Arc<Semaphore>,
}

impl FrameBudget {
    pub fn new(request_bytes: usize, response_bytes: usize) -> Self {
        FrameBudget {
            requests: Arc::new(Semaphore::new(request_bytes.div_ceil(UNIT))),
            responses: Arc::new(Semaphore::new(response_bytes.div_ceil(UNIT))),
        }
    }

    /// Bytes of inbound responses not held by any frame now.
    #[cfg(test)]
    pub fn responses_free(&self) -> usize {
        self.responses.available_permits() * UNIT
    }

    async fn take(&self, kind: FrameKind, len: usize) -> io::Result<OwnedSemaphorePermit> {
        let semaphore = match kind {
            FrameKind::Request => &self.requests,
            FrameKind::Response => &self.responses,
        };
        // Every frame, even an empty one, takes a unit: a flood of tiny frames is bounded too.
        let units = u32::try_from(len.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
        semaphore
            .clone()
            .acquire_many_owned(units)
            .await
            .map_err(|_| io::Error::other("the node is stopping"))
    }
}

impl Default for FrameBudget {
    fn default() -> Self {
        Self::new(INBOUND_REQUEST_BUDGET, INBOUND_RESPONSE_BUDGET)
    }
}

/// One request or response as it travels. An inbound frame holds its share of the
/// [`FrameBudget`] until it is dropped.
pub(crate) struct Frame {
    bytes: Vec<u8>,
    _held: Option<OwnedSemaphorePermit>,
}

impl Frame {
    /// A frame this node sends (holds no budget).
    pub fn outbound(bytes: Vec<u8>) -> Self {
        Frame { bytes, _held: None }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({} bytes)", self.bytes.len())
    }
}

/// Which side of the exchange a frame belongs to; only used to make errors readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Request,
    Response,
}

impl FrameKind {
    fn limit(self) -> usize {
        match self {
            FrameKind::Request => MAX_REQUEST_BYTES,
            FrameKind::Response => MAX_RESPONSE_BYTES,
        }
    }
}

impl std::fmt::Display for FrameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FrameKind::Request => "request",
            FrameKind::Response => "response",
        })
    }
}

/// Why a frame was refused. Carried inside the `io::Error` that the request-response machinery
/// demands, so the event loop can `downcast_ref` it to tell a hostile peer from a flaky link.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FrameError {
    #[error("sync {kind} of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        kind: FrameKind,
        len: u64,
        limit: usize,
    },
    #[error("sync {kind} truncated: the frame announced {expected} bytes but the stream ended after {got}")]
    Truncated {
        kind: FrameKind,
        expected: usize,
        got: usize,
    },
}

/// Request-response codec carrying opaque byte frames: a u32 big-endian length prefix, then the
/// bytes. Requests above `wire::MAX_REQUEST_BYTES` and responses above `wire::MAX_RESPONSE_BYTES`
/// are refused with `io::ErrorKind::InvalidData` before a buffer is allocated, in both directions
/// (sending an oversized frame would only make the peer refuse it after we paid to transmit it).
/// Inbound frames draw on one [`FrameBudget`], shared by every connection of the swarm.
#[derive(Clone, Debug, Default)]
pub(crate) struct SyncCodec {
    budget: FrameBudget,
}

impl SyncCodec {
    pub fn new(budget: FrameBudget) -> Self {
        SyncCodec { budget }
    }
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Frame;
    type Response = Frame;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_budgeted(io, FrameKind::Request, &self.budget).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_budgeted(io, FrameKind::Response, &self.budget).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Frame,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, FrameKind::Request, &req.bytes).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Frame,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, FrameKind::Response, &res.bytes).await
    }
}

/// Reads one frame after taking its share of the budget (the length is checked against the
/// per-frame limit first, so a refused frame takes nothing).
async fn read_budgeted<T>(io: &mut T, kind: FrameKind, budget: &FrameBudget) -> io::Result<Frame>
where
    T: AsyncRead + Unpin + Send,
{
    let len = read_prefix(io, kind).await?;
    let held = budget.take(kind, len).await?;
    let bytes = read_body(io, kind, len).await?;
    Ok(Frame {
        bytes,
        _held: Some(held),
    })
}

/// The announced length of a frame, refused when over the limit of its kind.
async fn read_prefix<T>(io: &mut T, kind: FrameKind) -> io::Result<usize>
where
    T: AsyncRead + Unpin + Send,
{
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let announced = u64::from(u32::from_be_bytes(prefix));
    let limit = kind.limit();
    match usize::try_from(announced) {
        Ok(len) if len <= limit => Ok(len),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            FrameError::TooLarge {
                kind,
                len: announced,
                limit,
            },
        )),
    }
}

/// The `len` bytes of a frame's body.
async fn read_body<T>(io: &mut T, kind: FrameKind, len: usize) -> io::Result<Vec<u8>>
where
    T: AsyncRead + Unpin + Send,
{
    let mut buf = Vec::with_capacity(len.min(INITIAL_CAPACITY));
    // `take` stops at the announced length, so trailing bytes cannot grow the buffer either.
    (&mut *io).take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            FrameError::Truncated {
                kind,
                expected: len,
                got: buf.len(),
            },
        ));
    }
    Ok(buf)
}

async fn write_frame<T>(io: &mut T, kind: FrameKind, bytes: &[u8]) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    let limit = kind.limit();
    let len = match u32::try_from(bytes.len()) {
        Ok(len) if bytes.len() <= limit => len,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                FrameError::TooLarge {
                    kind,
                    len: bytes.len() as u64,
                    limit,
                },
            ))
        }
    };
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;
    use libp2p::request_response::Codec as _;
    use std::time::Duration;

    const P: StreamProtocol = super::super::SYNC_PROTOCOL;
    /// The codec never waits on an in-memory cursor, so anything slower means it is trying to
    /// read or allocate far more than it should.
    const QUICK: Duration = Duration::from_secs(5);

    fn frame(prefix: u32, body: &[u8]) -> Cursor<Vec<u8>> {
        let mut v = prefix.to_be_bytes().to_vec();
        v.extend_from_slice(body);
        Cursor::new(v)
    }

    fn frame_error(e: &io::Error) -> &FrameError {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<FrameError>())
            .expect("the io::Error carries a FrameError")
    }

    #[tokio::test]
    async fn round_trip_request_and_response() {
        let mut codec = SyncCodec::default();
        for body in [Vec::new(), b"hei".to_vec(), vec![7u8; 200_000]] {
            let mut out = Cursor::new(Vec::new());
            codec
                .write_request(&P, &mut out, Frame::outbound(body.clone()))
                .await
                .unwrap();
            assert_eq!(out.get_ref().len(), 4 + body.len());
            let mut input = Cursor::new(out.into_inner());
            assert_eq!(
                codec.read_request(&P, &mut input).await.unwrap().bytes(),
                body
            );

            let mut out = Cursor::new(Vec::new());
            codec
                .write_response(&P, &mut out, Frame::outbound(body.clone()))
                .await
                .unwrap();
            let mut input = Cursor::new(out.into_inner());
            assert_eq!(
                codec.read_response(&P, &mut input).await.unwrap().bytes(),
                body
            );
        }
    }

    #[tokio::test]
    async fn oversized_request_prefix_is_refused_before_reading_the_body() {
        let mut codec = SyncCodec::default();
        for prefix in [MAX_REQUEST_BYTES as u32 + 1, u32::MAX] {
            // Only four bytes follow the prefix: if the codec allocated or waited for the
            // announced length it would fail differently (Truncated) or take far longer.
            let mut input = frame(prefix, b"abcd");
            let err = tokio::time::timeout(QUICK, codec.read_request(&P, &mut input))
                .await
                .expect("refusal is immediate")
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert_eq!(
                frame_error(&err),
                &FrameError::TooLarge {
                    kind: FrameKind::Request,
                    len: u64::from(prefix),
                    limit: MAX_REQUEST_BYTES
                }
            );
            // Nothing past the prefix was consumed.
            assert_eq!(input.position(), 4);
        }
    }

    #[tokio::test]
    async fn request_at_the_limit_is_accepted_but_response_limit_is_separate() {
        let mut codec = SyncCodec::default();
        // A request one byte over its limit is still a legal response.
        let len = MAX_REQUEST_BYTES + 1;
        let mut input = frame(len as u32, &vec![1u8; len]);
        assert_eq!(
            codec
                .read_response(&P, &mut input)
                .await
                .unwrap()
                .bytes()
                .len(),
            len
        );

        let mut input = frame(MAX_REQUEST_BYTES as u32, &vec![1u8; MAX_REQUEST_BYTES]);
        assert_eq!(
            codec
                .read_request(&P, &mut input)
                .await
                .unwrap()
                .bytes()
                .len(),
            MAX_REQUEST_BYTES
        );

        let mut input = frame(MAX_RESPONSE_BYTES as u32 + 1, b"");
        let err = codec.read_response(&P, &mut input).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(
            frame_error(&err),
            FrameError::TooLarge {
                kind: FrameKind::Response,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn truncated_frames_error() {
        let mut codec = SyncCodec::default();

        // Body shorter than announced.
        let mut input = frame(100, &[0u8; 10]);
        let err = tokio::time::timeout(QUICK, codec.read_request(&P, &mut input))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            frame_error(&err),
            &FrameError::Truncated {
                kind: FrameKind::Request,
                expected: 100,
                got: 10
            }
        );

        // Prefix itself cut short, and an empty stream.
        for bytes in [vec![0u8, 0], Vec::new()] {
            let mut input = Cursor::new(bytes);
            let err = codec.read_response(&P, &mut input).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        }
    }

    #[tokio::test]
    async fn trailing_bytes_are_not_read_into_the_frame() {
        let mut codec = SyncCodec::default();
        let mut input = frame(3, b"abcdef");
        assert_eq!(
            codec.read_request(&P, &mut input).await.unwrap().bytes(),
            b"abc"
        );
    }

    #[tokio::test]
    async fn oversized_frames_are_not_sent() {
        let mut codec = SyncCodec::default();
        let mut out = Cursor::new(Vec::new());
        let err = codec
            .write_request(
                &P,
                &mut out,
                Frame::outbound(vec![0u8; MAX_REQUEST_BYTES + 1]),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(out.get_ref().is_empty(), "nothing written");
    }

    #[tokio::test]
    async fn frames_beyond_the_budget_wait_until_earlier_ones_are_dropped() {
        // Room for one 1 MiB response at a time, across every codec of the swarm.
        let budget = FrameBudget::new(64 * 1024, 1024 * 1024);
        let mut first_codec = SyncCodec::new(budget.clone());
        let mut second_codec = SyncCodec::new(budget.clone());
        let body = vec![9u8; 1024 * 1024];
        let mut input = frame(body.len() as u32, &body);
        let first = first_codec.read_response(&P, &mut input).await.unwrap();
        assert_eq!(
            budget.responses_free(),
            0,
            "the first frame holds the budget"
        );

        let mut input = frame(body.len() as u32, &body);
        let waiting = tokio::time::timeout(
            Duration::from_millis(200),
            second_codec.read_response(&P, &mut input),
        )
        .await;
        assert!(waiting.is_err(), "the second frame waits for room");

        drop(first);
        assert_eq!(budget.responses_free(), 1024 * 1024);
        let mut input = frame(body.len() as u32, &body);
        let second = tokio::time::timeout(QUICK, second_codec.read_response(&P, &mut input))
            .await
            .expect("room again")
            .unwrap();
        assert_eq!(second.bytes().len(), body.len());
        // Outbound frames hold nothing.
        let _ = Frame::outbound(body);
        drop(second);
        assert_eq!(budget.responses_free(), 1024 * 1024);
    }

    #[tokio::test]
    async fn a_refused_frame_takes_no_budget() {
        let budget = FrameBudget::new(64 * 1024, 1024 * 1024);
        let mut codec = SyncCodec::new(budget.clone());
        let mut input = frame(MAX_RESPONSE_BYTES as u32 + 1, b"");
        assert!(codec.read_response(&P, &mut input).await.is_err());
        let mut input = frame(100, &[0u8; 10]);
        assert!(codec.read_response(&P, &mut input).await.is_err());
        assert_eq!(
            budget.responses_free(),
            1024 * 1024,
            "a truncated frame gives its share back"
        );
    }
}
