//! An HTTP/1.1 proxy on loopback in front of the S3 server: it counts every request (method,
//! path, `Range` header, bytes answered) and injects the faults a test queues. Requests pass
//! through unchanged, `Host` included, since SigV4 signs it.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    /// Body bytes answered to the client.
    pub body_bytes: u64,
}

/// What the proxy does to the next request instead of passing it through.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers with this status and an S3 error body (`503` with `SlowDown` is throttling).
    Status(u16, &'static str),
    /// Passes the request on, sends the answer's head and half its body, then closes.
    Truncate,
    /// Waits this long before passing the request on.
    Delay(Duration),
}

pub struct Proxy {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let (thread_seen, thread_faults) = (seen.clone(), faults.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (seen, faults) = (thread_seen.clone(), thread_faults.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, upstream, &seen, &faults);
                });
            }
        });
        Proxy { addr, seen, faults }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn queue(&self, fault: Fault) {
        self.faults.lock().unwrap().push_back(fault);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
        self.faults.lock().unwrap().clear();
    }
}

fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    seen: &Mutex<Vec<Seen>>,
    faults: &Mutex<VecDeque<Fault>>,
) -> io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let mut server: Option<(BufReader<TcpStream>, TcpStream)> = None;
    loop {
        let Some(head) = read_head(&mut from_client)? else { return Ok(()) };
        let request_line = head.lines().next().unwrap_or_default().to_owned();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let range = header(&head, "range");
        let mut body = vec![0; header(&head, "content-length").and_then(|len| len.parse().ok()).unwrap_or(0)];
        from_client.read_exact(&mut body)?;
        let fault = faults.lock().unwrap().pop_front();
        let mut record = Seen { method: method.clone(), path, range, body_bytes: 0 };
        if let Some(Fault::Status(status, code)) = fault {
            let text = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected</Message></Error>");
            write!(
                to_client,
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{text}",
                text.len()
            )?;
            seen.lock().unwrap().push(record);
            continue;
        }
        if let Some(Fault::Delay(wait)) = fault {
            std::thread::sleep(wait);
        }
        if server.is_none() {
            let stream = TcpStream::connect(upstream)?;
            server = Some((BufReader::new(stream.try_clone()?), stream));
        }
        let (from_server, to_server) = server.as_mut().expect("connected above");
        to_server.write_all(head.as_bytes())?;
        to_server.write_all(&body)?;
        let Some(answer_head) = read_head(from_server)? else { return Ok(()) };
        let status: u16 = answer_head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        let no_body = method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
        let answer_body = if no_body {
            Vec::new()
        } else if header(&answer_head, "transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
            read_chunked(from_server)?
        } else {
            let mut body =
                vec![0; header(&answer_head, "content-length").and_then(|len| len.parse().ok()).unwrap_or(0)];
            from_server.read_exact(&mut body)?;
            body
        };
        let chunked = header(&answer_head, "transfer-encoding").is_some();
        let answer_head = if chunked {
            // Passed on with a length instead: the body was read whole.
            let kept: Vec<&str> = answer_head
                .trim_end()
                .lines()
                .filter(|line| !line.to_ascii_lowercase().starts_with("transfer-encoding"))
                .collect();
            format!("{}\r\nContent-Length: {}\r\n\r\n", kept.join("\r\n"), answer_body.len())
        } else {
            answer_head
        };
        if let Some(Fault::Truncate) = fault {
            to_client.write_all(answer_head.as_bytes())?;
            to_client.write_all(&answer_body[..answer_body.len() / 2])?;
            record.body_bytes = (answer_body.len() / 2) as u64;
            seen.lock().unwrap().push(record);
            let _ = to_client.shutdown(Shutdown::Both);
            return Ok(());
        }
        to_client.write_all(answer_head.as_bytes())?;
        to_client.write_all(&answer_body)?;
        record.body_bytes = answer_body.len() as u64;
        seen.lock().unwrap().push(record);
    }
}

/// A request or response head, up to and including the blank line; `None` at end of stream.
fn read_head(from: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if from.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        head.push_str(&line);
        if line == "\r\n" {
            return Ok(Some(head));
        }
    }
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}

fn read_chunked(from: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        from.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        if size == 0 {
            // Trailers, then the blank line.
            while read_line_is_not_blank(from)? {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        from.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        from.read_exact(&mut crlf)?;
    }
}

fn read_line_is_not_blank(from: &mut impl BufRead) -> io::Result<bool> {
    let mut line = String::new();
    Ok(from.read_line(&mut line)? > 0 && line != "\r\n")
}
