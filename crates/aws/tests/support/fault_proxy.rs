//! A loopback HTTP proxy in front of moto that answers some requests itself with S3's
//! throttling and server errors (503 SlowDown, 500 InternalError), the way S3 does
//! under load, and forwards the rest. Each connection carries one request.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Which requests fail.
#[derive(Debug, Clone, Copy)]
pub enum Faults {
    /// Every `n`-th request (alternating 503 SlowDown and 500 InternalError).
    EveryNth(usize),
    /// Every PUT to a key containing this text (a request that can never succeed).
    PutsTo(&'static str),
}

pub struct FaultProxy {
    pub endpoint: String,
    pub injected: Arc<AtomicUsize>,
    pub forwarded: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let injected = Arc::new(AtomicUsize::new(0));
        let forwarded = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let (i, f, s) = (injected.clone(), forwarded.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (upstream, i, f, count) =
                    (upstream.clone(), i.clone(), f.clone(), count.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, faults, &count, &i, &f);
                });
            }
        });
        FaultProxy {
            endpoint,
            injected,
            forwarded,
            stop,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

fn serve(
    client: TcpStream,
    upstream: &str,
    faults: Faults,
    count: &AtomicUsize,
    injected: &AtomicUsize,
    forwarded: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut content_length = 0usize;
    let mut chunked = false;
    let mut request_line = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if request_line.is_empty() {
            request_line = line.clone();
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            head.extend_from_slice(b"connection: close\r\n\r\n");
            break;
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            body.extend_from_slice(size.as_bytes());
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if n == 0 {
                break;
            }
        }
    } else {
        body.resize(content_length, 0);
        reader.read_exact(&mut body)?;
    }
    let n = count.fetch_add(1, Ordering::Relaxed) + 1;
    let fail = match faults {
        Faults::EveryNth(every) => n.is_multiple_of(every),
        Faults::PutsTo(text) => request_line.starts_with("PUT ") && request_line.contains(text),
    };
    let mut client = client;
    if fail {
        let k = injected.fetch_add(1, Ordering::Relaxed);
        let (status, code) = if k.is_multiple_of(2) {
            ("503 Slow Down", "SlowDown")
        } else {
            ("500 Internal Server Error", "InternalError")
        };
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the test</Message></Error>"
        );
        write!(
            client,
            "HTTP/1.1 {status}\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{xml}",
            xml.len()
        )?;
        return client.flush();
    }
    forwarded.fetch_add(1, Ordering::Relaxed);
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&head)?;
    server.write_all(&body)?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    client.write_all(&response)?;
    client.flush()
}
