//! The control socket: how the CLI talks to its running node.
//!
//! A Unix domain socket in the node's home directory, so that only the local user can reach it:
//! the socket is created 0600 inside a fresh 0700 directory and only then renamed into place, so
//! it is never reachable with looser permissions, whatever the umask (and the node refuses a home
//! that others may write to, see [`crate::home::Home::check_private`]). There is no
//! TCP port and no authentication token to leak. The protocol is newline-delimited JSON so that it
//! can be driven with `socat` when debugging:
//!
//! ```text
//! client → {"request":"status"}
//! node   → {"progress":{"what":"…","done":1,"total":2}}     (zero or more)
//! node   → {"ok":{"reply":"status",…}}  or  {"error":"message"}   (exactly one)
//! ```
//!
//! A connection may carry several requests one after another. Request lines are capped at
//! [`MAX_REQUEST_LINE`] so a misbehaving client cannot make the node buffer without bound.
//!
//! The transport knows nothing about what requests mean: [`serve`] hands each one to the node's
//! event loop as a [`ControlCall`] and streams back what the loop sends on its channels.

pub mod api;
pub use api::*;

use serde::{Deserialize, Serialize};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

/// Name of the socket file inside the node's home directory.
pub const SOCKET_FILE: &str = "control.sock";

/// The socket's name inside the staging directory of [`bind`].
const STAGED_NAME: &str = "s";

/// Longest request line the node accepts (256 MiB: publishing sends file contents inline).
pub const MAX_REQUEST_LINE: usize = 256 * 1024 * 1024;

/// Longest reply line the client accepts. Replies carry file contents, base64-encoded, so they may
/// be larger than requests; this only guards against a runaway peer on the socket.
pub const MAX_REPLY_LINE: usize = 4 * 1024 * 1024 * 1024;

fn home_of(socket: &Path) -> String {
    socket.parent().unwrap_or(socket).display().to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no node is running for home {} (start one with `allmenning node start`)", home_of(.socket))]
    NotRunning { socket: PathBuf },
    #[error("a node is already running for this home ({})", home_of(.socket))]
    AlreadyRunning { socket: PathBuf },
    #[error("{} exists and is not a socket; move it away before starting the node", .path.display())]
    NotASocket { path: PathBuf },
    #[error("cannot listen on {}: {source}", .path.display())]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The node answered with an error: its message, as is.
    #[error("{0}")]
    Node(String),
    #[error("control protocol error: {0}")]
    Protocol(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One request handed to the node's event loop. The loop may send progress any number of times,
/// then must answer on `reply`; dropping `reply` unanswered makes the client see an error.
#[derive(Debug)]
pub struct ControlCall {
    pub request: ControlRequest,
    pub progress: mpsc::UnboundedSender<Progress>,
    pub reply: oneshot::Sender<Result<ControlReply, String>>,
}

/// One line from the node to the client.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ServerLine {
    Progress(Progress),
    // Boxed: a status reply is much larger than a progress line.
    Ok(Box<ControlReply>),
    Error(String),
}

/// Removes the socket file when dropped, so a node that stops cleanly leaves no stale socket.
#[derive(Debug)]
struct SocketGuard {
    path: PathBuf,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        cleanup(&self.path);
    }
}

/// Removes a socket file, ignoring a file that is already gone.
pub fn cleanup(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("cannot remove control socket {}: {e}", path.display()),
    }
}

/// A bound control socket, ready for [`serve`]. Dropping it removes the socket file.
#[derive(Debug)]
pub struct ControlListener {
    listener: std::os::unix::net::UnixListener,
    guard: SocketGuard,
}

impl ControlListener {
    pub fn path(&self) -> &Path {
        &self.guard.path
    }
}

/// Binds the control socket at `socket`, 0600. A leftover socket file that nobody answers on is
/// stale (a node that crashed) and is replaced; one a node answers on means that node is running.
///
/// This is synchronous and needs no runtime, so the node can fail fast before starting anything.
pub fn bind(socket: &Path) -> Result<ControlListener, ControlError> {
    match std::fs::symlink_metadata(socket) {
        Ok(meta) => {
            if !meta.file_type().is_socket() {
                return Err(ControlError::NotASocket {
                    path: socket.to_path_buf(),
                });
            }
            match std::os::unix::net::UnixStream::connect(socket) {
                Ok(_) => {
                    return Err(ControlError::AlreadyRunning {
                        socket: socket.to_path_buf(),
                    })
                }
                Err(_) => {
                    tracing::info!("removing stale control socket {}", socket.display());
                    std::fs::remove_file(socket).map_err(|source| ControlError::Bind {
                        path: socket.to_path_buf(),
                        source,
                    })?;
                }
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(source) => {
            return Err(ControlError::Bind {
                path: socket.to_path_buf(),
                source,
            })
        }
    }
    let bind_err = |source| ControlError::Bind {
        path: socket.to_path_buf(),
        source,
    };
    // Created in a private directory beside it, made 0600 there, then renamed into place: a
    // socket with the umask's looser mode is never at a path anyone else could reach (chmod
    // after binding at the final path would leave that window open).
    // Short names: a socket path may not exceed about 100 bytes, and the staged path must not
    // be longer than the final one.
    let dir = socket.parent().unwrap_or(Path::new("."));
    let staging = dir.join(format!(".cs{}", std::process::id()));
    remove_staging(&staging);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(bind_err)?;
    let staged = staging.join(STAGED_NAME);
    let bound = std::os::unix::net::UnixListener::bind(&staged)
        .and_then(|listener| {
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
            std::fs::rename(&staged, socket)?;
            Ok(listener)
        })
        .map_err(bind_err);
    remove_staging(&staging);
    let listener = bound?;
    let guard = SocketGuard {
        path: socket.to_path_buf(),
    };
    listener
        .set_nonblocking(true)
        .map_err(|source| ControlError::Bind {
            path: socket.to_path_buf(),
            source,
        })?;
    Ok(ControlListener { listener, guard })
}

/// Removes a staging directory of [`bind`] and the socket in it, if present.
fn remove_staging(staging: &Path) {
    let _ = std::fs::remove_file(staging.join(STAGED_NAME));
    let _ = std::fs::remove_dir(staging);
}

/// Accepts connections until `calls` is closed (the event loop is gone), handing every request to
/// the loop and streaming its progress and reply back. One task per connection. The socket file
/// is removed when this returns or is cancelled.
pub async fn serve(listener: ControlListener, calls: mpsc::Sender<ControlCall>) {
    let ControlListener { listener, guard } = listener;
    let listener = match tokio::net::UnixListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("cannot use control socket {}: {e}", guard.path.display());
            return;
        }
    };
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = calls.closed() => break,
            // Reap finished connection tasks as we go.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(handle_connection(stream, calls.clone(), MAX_REQUEST_LINE));
                }
                Err(e) => {
                    tracing::warn!("control socket accept failed: {e}");
                    // Typically out of file descriptors: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    drop(guard);
    // The node has stopped taking requests: let answers already given (to `node stop`, say)
    // reach their clients, but do not wait on clients that merely keep a connection open.
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
        connections.abort_all();
    }
}

/// How long a stopping node waits for its control connections to finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// What reading one line gave.
enum Line {
    Complete(Vec<u8>),
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line of at most `limit` bytes (the newline excluded). A final line
/// without a newline counts as a line. On `TooLong` the stream is left mid-line.
async fn read_line_limited<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> std::io::Result<Line> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if line.is_empty() {
                Line::Eof
            } else {
                Line::Complete(line)
            });
        }
        let (chunk, found) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if line.len() + chunk.len() > limit {
            return Ok(Line::TooLong);
        }
        line.extend_from_slice(chunk);
        let used = found.unwrap_or(buf.len());
        reader.consume(used);
        if found.is_some() {
            return Ok(Line::Complete(line));
        }
    }
}

async fn write_line<W: tokio::io::AsyncWrite + Unpin, T: Serialize>(
    writer: &mut W,
    value: &T,
) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    writer.write_all(&bytes).await?;
    writer.flush().await
}

async fn handle_connection(stream: UnixStream, calls: mpsc::Sender<ControlCall>, limit: usize) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        // A stopping node takes no new requests: an idle connection ends at once.
        let read = tokio::select! {
            read = read_line_limited(&mut reader, limit) => read,
            _ = calls.closed() => return,
        };
        let line = match read {
            Ok(Line::Complete(line)) => line,
            Ok(Line::Eof) => return,
            Ok(Line::TooLong) => {
                let message = format!("request too long (the limit is {limit} bytes)");
                let _ = write_line(&mut write, &ServerLine::Error(message)).await;
                return;
            }
            Err(e) => {
                tracing::debug!("control connection read failed: {e}");
                return;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let request: ControlRequest = match serde_json::from_slice(&line) {
            Ok(request) => request,
            Err(e) => {
                let reply = ServerLine::Error(format!("malformed request: {e}"));
                if write_line(&mut write, &reply).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if let Err(e) = answer(request, &calls, &mut write).await {
            tracing::debug!("control connection write failed: {e}");
            return;
        }
    }
}

/// Hands one request to the event loop and writes its progress and final answer.
async fn answer<W: tokio::io::AsyncWrite + Unpin>(
    request: ControlRequest,
    calls: &mpsc::Sender<ControlCall>,
    write: &mut W,
) -> std::io::Result<()> {
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let (reply_tx, mut reply_rx) = oneshot::channel();
    let call = ControlCall {
        request,
        progress: progress_tx,
        reply: reply_tx,
    };
    if calls.send(call).await.is_err() {
        return write_line(
            write,
            &ServerLine::Error("the node is shutting down".into()),
        )
        .await;
    }
    let mut progress_open = true;
    let outcome = loop {
        tokio::select! {
            biased;
            progress = progress_rx.recv(), if progress_open => match progress {
                Some(progress) => write_line(write, &ServerLine::Progress(progress)).await?,
                None => progress_open = false,
            },
            outcome = &mut reply_rx => break outcome,
        }
    };
    // Progress sent before the reply goes out before it.
    while let Ok(progress) = progress_rx.try_recv() {
        write_line(write, &ServerLine::Progress(progress)).await?;
    }
    let last = match outcome {
        Ok(Ok(reply)) => ServerLine::Ok(Box::new(reply)),
        Ok(Err(message)) => ServerLine::Error(message),
        Err(_) => ServerLine::Error("the node dropped the request without answering".into()),
    };
    write_line(write, &last).await
}

/// A connection to a running node's control socket.
#[derive(Debug)]
pub struct ControlClient {
    stream: BufReader<UnixStream>,
}

impl ControlClient {
    /// Connects to the node; `NotRunning` if no node listens on `socket`.
    pub async fn connect(socket: &Path) -> Result<Self, ControlError> {
        match UnixStream::connect(socket).await {
            Ok(stream) => Ok(ControlClient {
                stream: BufReader::new(stream),
            }),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
                Err(ControlError::NotRunning {
                    socket: socket.to_path_buf(),
                })
            }
            Err(e) => Err(ControlError::Io(e)),
        }
    }

    /// Sends `request`, calls `on_progress` for every progress line, and returns the final reply.
    pub async fn call(
        &mut self,
        request: &ControlRequest,
        mut on_progress: impl FnMut(&Progress),
    ) -> Result<ControlReply, ControlError> {
        write_line(self.stream.get_mut(), request).await?;
        loop {
            let line = match read_line_limited(&mut self.stream, MAX_REPLY_LINE).await? {
                Line::Complete(line) => line,
                Line::TooLong => {
                    return Err(ControlError::Protocol(format!(
                        "the node's reply is longer than {} MiB",
                        MAX_REPLY_LINE >> 20
                    )))
                }
                Line::Eof => {
                    return Err(ControlError::Protocol(
                        "the node closed the connection before answering".into(),
                    ))
                }
            };
            let parsed: ServerLine = serde_json::from_slice(&line).map_err(|e| {
                ControlError::Protocol(format!("unreadable line from the node: {e}"))
            })?;
            match parsed {
                ServerLine::Progress(progress) => on_progress(&progress),
                ServerLine::Ok(reply) => return Ok(*reply),
                ServerLine::Error(message) => return Err(ControlError::Node(message)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn status() -> NodeStatus {
        NodeStatus {
            peer_id: "12D3KooWTest".into(),
            listen_addrs: vec!["/ip4/127.0.0.1/tcp/4646".into()],
            peers: 2,
            artefacts: 3,
            org: OrgInfo {
                name: "Bergen kommune".into(),
                number: "964338531".into(),
                kind: "kommune".into(),
            },
            home: "/tmp/home".into(),
            version: "0.1.0".into(),
            uptime_secs: 5,
            node_key: "ab".repeat(32),
            network: None,
            admitted: false,
            has_org_key: true,
            reachability: "private".into(),
            public_addrs: Vec::new(),
            relay: RelayStatus {
                reservations: vec!["12D3KooWRelay".into()],
                ..RelayStatus::default()
            },
            busy_answers: 0,
            requests_waiting: 0,
        }
    }

    /// A stand-in for the node's event loop.
    fn fake_node(mut rx: mpsc::Receiver<ControlCall>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(call) = rx.recv().await {
                let reply = match call.request {
                    ControlRequest::Status => Ok(ControlReply::Status(status())),
                    ControlRequest::List => {
                        for done in 1..=2 {
                            let _ = call.progress.send(Progress {
                                what: "listing".into(),
                                done,
                                total: 2,
                            });
                        }
                        Ok(ControlReply::List { artefacts: vec![] })
                    }
                    ControlRequest::Show { id, .. } => Err(format!("no artefact matches {id:?}")),
                    ControlRequest::Stop => {
                        drop(call.reply);
                        continue;
                    }
                    _ => Err("unsupported".into()),
                };
                let _ = call.reply.send(reply);
            }
        })
    }

    fn start(
        dir: &Path,
    ) -> (
        PathBuf,
        mpsc::Sender<ControlCall>,
        tokio::task::JoinHandle<()>,
    ) {
        let socket = dir.join(SOCKET_FILE);
        let listener = bind(&socket).unwrap();
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(serve(listener, tx.clone()));
        let node = fake_node(rx);
        (socket, tx, node)
    }

    #[tokio::test]
    async fn requests_progress_and_replies_travel_over_one_connection() {
        let tmp = tempfile::tempdir().unwrap();
        let (socket, _tx, _node) = start(tmp.path());
        let mut client = ControlClient::connect(&socket).await.unwrap();

        let mut seen = Vec::new();
        let reply = client
            .call(&ControlRequest::Status, |p| seen.push(p.clone()))
            .await
            .unwrap();
        assert!(matches!(reply, ControlReply::Status(s) if s == status()));
        assert!(seen.is_empty());

        let reply = client
            .call(&ControlRequest::List, |p| seen.push(p.clone()))
            .await
            .unwrap();
        assert!(matches!(reply, ControlReply::List { artefacts } if artefacts.is_empty()));
        assert_eq!(seen.iter().map(|p| p.done).collect::<Vec<_>>(), vec![1, 2]);

        let err = client
            .call(
                &ControlRequest::Show {
                    id: "abc".into(),
                    heads: None,
                },
                |_| {},
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ControlError::Node(m) if m == "no artefact matches \"abc\""),
            "{err}"
        );
        assert_eq!(err.to_string(), "no artefact matches \"abc\"");

        let err = client
            .call(&ControlRequest::Stop, |_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, ControlError::Node(_)));

        // Still usable after errors.
        assert!(client.call(&ControlRequest::Status, |_| {}).await.is_ok());
    }

    #[tokio::test]
    async fn wire_format_is_tagged_json_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let (socket, _tx, _node) = start(tmp.path());
        let mut stream = UnixStream::connect(&socket).await.unwrap();
        stream
            .write_all(b"{\"request\":\"list\"}\nnot json\n")
            .await
            .unwrap();
        stream.shutdown().await.unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0]["progress"]["done"], 1);
        assert_eq!(lines[1]["progress"]["done"], 2);
        assert_eq!(lines[2]["ok"]["reply"], "list");
        assert!(lines[3]["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed request"));
    }

    #[tokio::test]
    async fn over_long_request_gets_an_error_and_the_connection_closes() {
        let mut input: &[u8] = b"0123456789\n";
        assert!(matches!(
            read_line_limited(&mut input, 5).await.unwrap(),
            Line::TooLong
        ));
        let mut input: &[u8] = b"01234\n56";
        assert!(
            matches!(read_line_limited(&mut input, 5).await.unwrap(), Line::Complete(l) if l == b"01234")
        );
        assert!(
            matches!(read_line_limited(&mut input, 5).await.unwrap(), Line::Complete(l) if l == b"56")
        );
        assert!(matches!(
            read_line_limited(&mut input, 5).await.unwrap(),
            Line::Eof
        ));

        // End to end, with a small limit: a request that fits is answered, then an over-long one
        // gets an error line and the connection is closed.
        let (server_end, mut client_end) = UnixStream::pair().unwrap();
        let (tx, rx) = mpsc::channel(8);
        let _node = fake_node(rx);
        let conn = tokio::spawn(handle_connection(server_end, tx, 40));
        client_end
            .write_all(b"{\"request\":\"status\"}\n")
            .await
            .unwrap();
        client_end.write_all(&[b'x'; 100]).await.unwrap();
        client_end
            .write_all(b"\n{\"request\":\"status\"}\n")
            .await
            .unwrap();
        let mut text = String::new();
        client_end.read_to_string(&mut text).await.unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["ok"]["reply"], "status");
        assert!(
            lines[1]["error"]
                .as_str()
                .unwrap()
                .starts_with("request too long"),
            "{text}"
        );
        conn.await.unwrap();
    }

    #[tokio::test]
    async fn connecting_without_a_node_says_not_running() {
        let tmp = tempfile::tempdir().unwrap();
        let socket = tmp.path().join(SOCKET_FILE);
        let err = ControlClient::connect(&socket).await.unwrap_err();
        assert!(matches!(err, ControlError::NotRunning { .. }), "{err}");
        assert!(err.to_string().contains("allmenning node start"), "{err}");
        assert!(
            err.to_string().contains(&tmp.path().display().to_string()),
            "{err}"
        );

        // A stale socket file (nobody listening) also means not running.
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        let err = ControlClient::connect(&socket).await.unwrap_err();
        assert!(matches!(err, ControlError::NotRunning { .. }), "{err}");
    }

    #[tokio::test]
    async fn socket_is_private_stale_sockets_are_replaced_and_live_ones_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let socket = tmp.path().join(SOCKET_FILE);
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        assert!(socket.exists());

        let listener = bind(&socket).unwrap();
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            [std::ffi::OsString::from(SOCKET_FILE)],
            "no staging left"
        );

        let err = bind(&socket).unwrap_err();
        assert!(matches!(err, ControlError::AlreadyRunning { .. }), "{err}");
        assert!(err.to_string().contains("already running"));

        drop(listener);
        assert!(!socket.exists(), "dropping the listener removes the socket");

        std::fs::write(&socket, b"not a socket").unwrap();
        assert!(matches!(
            bind(&socket),
            Err(ControlError::NotASocket { .. })
        ));
    }

    #[tokio::test]
    async fn serve_ends_and_removes_the_socket_when_the_node_loop_is_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let socket = tmp.path().join(SOCKET_FILE);
        let listener = bind(&socket).unwrap();
        let (tx, rx) = mpsc::channel(8);
        let server = tokio::spawn(serve(listener, tx));
        drop(rx);
        tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert!(!socket.exists());
    }
}
