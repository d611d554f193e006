//! The little HTTP/1.1 the admin endpoint speaks: one `GET` per connection (parsed by
//! `httparse`), answered with `Connection: close`. Requests are bounded in size and time,
//! so a client that sends garbage or nothing cannot hold the endpoint.

use std::io::{self, Read, Write};
use std::time::Duration;

/// The largest request head taken.
const MAX_HEAD: usize = 8 << 10;
/// How long a client may take to send its request, and to read the answer.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed request: its method and path (without the query), and the query.
#[derive(Debug, PartialEq)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl Response {
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: format!("{value:#}\n"),
        }
    }

    pub(crate) fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Reads one request head from `stream`: `Ok(Err(response))` for a request that cannot be
/// served (malformed, too large), `Err` when the connection failed or timed out.
pub(crate) fn read_request(stream: &mut impl Read) -> io::Result<Result<Request, Response>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client closed before sending a whole request",
            ));
        }
        head.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                let method = request.method.unwrap_or_default().to_owned();
                let target = request.path.unwrap_or_default();
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                return Ok(Ok(Request {
                    method,
                    path: path.to_owned(),
                    query: query.to_owned(),
                }));
            }
            Ok(httparse::Status::Partial) if head.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) => {
                return Ok(Err(Response::text(
                    431,
                    format!("the request head is over {MAX_HEAD} bytes\n"),
                )));
            }
            Err(e) => {
                return Ok(Err(Response::text(
                    400,
                    format!("malformed HTTP request: {e}\n"),
                )));
            }
        }
    }
}

/// Writes `response` (the body left out for `HEAD`).
pub(crate) fn write_response(
    stream: &mut impl Write,
    response: &Response,
    head_only: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(response.body.as_bytes())?;
    }
    stream.flush()
}

/// An answer read by [`fetch`].
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body.
    pub body: String,
}

/// `GET`s `path` from the admin endpoint at `address` (TCP or Unix socket), within 2 s
/// per read or write: what `rpcctl` and tests use.
pub fn fetch(address: &crate::transport::Address, path: &str) -> io::Result<Fetched> {
    use crate::transport::Address;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: ringrpc-admin\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    match address {
        Address::Tcp(addr) => {
            let mut s = std::net::TcpStream::connect_timeout(addr, IO_TIMEOUT)?;
            s.set_read_timeout(Some(IO_TIMEOUT))?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            s.write_all(request.as_bytes())?;
            s.take(MAX_ANSWER).read_to_end(&mut answer)?;
        }
        Address::Unix(path) => {
            let mut s = std::os::unix::net::UnixStream::connect(path)?;
            s.set_read_timeout(Some(IO_TIMEOUT))?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            s.write_all(request.as_bytes())?;
            s.take(MAX_ANSWER).read_to_end(&mut answer)?;
        }
    }
    parse_answer(&answer)
}

/// The largest answer [`fetch`] reads.
const MAX_ANSWER: u64 = 64 << 20;

fn parse_answer(answer: &[u8]) -> io::Result<Fetched> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let body_at = match response.parse(answer) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return Err(bad("the answer ended inside its header".into()));
        }
        Err(e) => return Err(bad(format!("not an HTTP answer: {e}"))),
    };
    let content_type = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-type"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .unwrap_or_default();
    Ok(Fetched {
        status: response.code.unwrap_or_default(),
        content_type,
        body: String::from_utf8_lossy(&answer[body_at..]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_is_split_into_path_and_query() {
        let mut input: &[u8] = b"GET /metrics?format=json HTTP/1.1\r\nHost: x\r\n\r\n";
        let request = read_request(&mut input).unwrap().unwrap();
        assert_eq!(
            request,
            Request {
                method: "GET".into(),
                path: "/metrics".into(),
                query: "format=json".into()
            }
        );
    }

    #[test]
    fn bad_and_oversized_requests_get_an_error_answer() {
        let mut garbage: &[u8] = b"\x00\x01 nonsense\r\n\r\n";
        assert_eq!(read_request(&mut garbage).unwrap().unwrap_err().status, 400);
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        let mut big = big.as_bytes();
        assert_eq!(read_request(&mut big).unwrap().unwrap_err().status, 431);
        let mut cut: &[u8] = b"GET / HTTP/1.1\r\n";
        assert!(read_request(&mut cut).is_err());
    }

    #[test]
    fn an_answer_parses_back() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::text(503, "down\n"), false).unwrap();
        let fetched = parse_answer(&out).unwrap();
        assert_eq!((fetched.status, fetched.body.as_str()), (503, "down\n"));
        assert!(fetched.content_type.starts_with("text/plain"));
        assert!(parse_answer(b"SSH-2.0\r\n").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn a_response_has_its_length_and_closes() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::text(404, "no\n"), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(text.contains("Content-Length: 3\r\nConnection: close\r\n\r\nno\n"));
    }
}
