//! Accepting connections: a limit on how many are open, a deadline for each request's
//! headers, and a graceful drain on shutdown.
//!
//! `axum::serve` has none of these: a client that opens connections and sends nothing (or
//! half a request) holds a file descriptor for ever, and about 20,000 of them stopped the
//! server from accepting anything, `/healthz` included. Here each connection is served by
//! hyper's HTTP/1 connection with a header read timeout, and counted against
//! `max_connections`. hyper starts that timer whenever it waits for a request's head: on
//! a new connection, and after every answer on a kept-alive one, so the same deadline is
//! also the idle keep-alive timeout. Past the limit a connection is answered `503` with
//! `Connection: close` at once, without reading it, and closed: refused fast, while the
//! connections already open keep being served.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// How connections are limited (`shimkit serve` flags and config keys).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionLimits {
    /// Connections served at once; past it new ones are refused with a 503.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, counted from the connection's
    /// start or from the end of the previous answer: so also the idle keep-alive timeout.
    pub header_timeout: Duration,
    /// After a shutdown signal, how long in-flight requests may take to finish.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Connections being refused at once; beyond them a connection is closed without an answer.
const REFUSING: usize = 256;

const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 99\r\n\r\n{\"error\":{\"code\":\"unavailable\",\"message\":\"the server is at its connection limit; try again later\"}}";

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets the
/// requests in flight finish (up to the drain timeout), and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    on_connection_refused: impl Fn() + Send + Sync + 'static,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(REFUSING));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) if transient(&e) => continue,
                Err(e) => {
                    // Out of file descriptors (EMFILE, ENFILE) or buffers: the listener
                    // stays readable, so retrying at once would spin; pause instead.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            on_connection_refused();
            if let Ok(slot) = refusing.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(tcp).await;
                    drop(slot);
                });
            }
            continue;
        };
        // Small answers go out at once: Nagle's algorithm would hold them for the ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let connection = graceful
            .watch(http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app.clone())));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection {peer}: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.drain_timeout) => {
            tracing::warn!("drain timeout: closing the connections still open");
        }
    }
    Ok(())
}

fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Answers 503 without reading the request, then drains what the client sends for a
/// moment: closing with unread data would reset the connection, and the client could lose
/// the answer.
async fn refuse(mut tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    if tcp.write_all(REFUSAL).await.is_err() {
        return;
    }
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        let mut total = 0usize;
        while let Ok(n) = tcp.read(&mut sink).await {
            total += n;
            if n == 0 || total > 1 << 16 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

#[cfg(test)]
mod tests {
    use super::REFUSAL;

    #[test]
    fn the_refusal_is_a_whole_http_answer() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, body.len());
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }
}
