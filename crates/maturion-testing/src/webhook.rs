//! A webhook receiver on a free local port: it answers every request with a chosen status and
//! hands each request's body to the test.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One received request.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// `POST /hook`
    pub request_line: String,
    pub content_type: Option<String>,
    pub body: String,
}

pub struct WebhookReceiver {
    pub url: String,
    pub requests: mpsc::UnboundedReceiver<ReceivedRequest>,
}

impl WebhookReceiver {
    /// Answers `status` (e.g. 200, or 500 for a receiver in trouble) until dropped with the test.
    pub async fn start(status: u16) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let (sender, requests) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                tokio::spawn(async move {
                    if let Some(request) = answer(stream, status).await {
                        let _ = sender.send(request);
                    }
                });
            }
        });
        Self {
            url: format!("http://{address}/hook"),
            requests,
        }
    }

    /// The next request, waiting at most `seconds`.
    pub async fn next(&mut self, seconds: u64) -> Option<ReceivedRequest> {
        tokio::time::timeout(
            std::time::Duration::from_secs(seconds),
            self.requests.recv(),
        )
        .await
        .ok()
        .flatten()
    }
}

/// A port nothing listens on: a receiver that is down.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/hook")
}

async fn answer(mut stream: TcpStream, status: u16) -> Option<ReceivedRequest> {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    let header_end = loop {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        bytes.extend_from_slice(&buffer[..read]);
        if let Some(end) = find(&bytes, b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..header_end]).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while bytes.len() < header_end + length {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            break;
        }
        bytes.extend_from_slice(&buffer[..read]);
    }
    let response = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
    Some(ReceivedRequest {
        request_line: head.lines().next().unwrap_or_default().to_owned(),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&bytes[header_end..]).into_owned(),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
