//! The wire of `wsa-lint lsp`: `Content-Length` framing and the JSON-RPC envelope. Takes bytes,
//! returns requests, notifications or the error a malformed message is owed; knows no LSP method.
//!
//! Whatever arrives, reading goes on: a frame whose body is too large is skipped, bytes that are
//! not a header are skipped up to the next `Content-Length:`, and only the end of input (or an
//! I/O error) ends the stream.

use serde_json::{json, Value};
use std::io::{self, BufRead, Read, Write};

/// The largest message body read; a larger one is skipped (a 64 MiB document still arrives).
pub(crate) const MAX_MESSAGE_BYTES: u64 = 64 << 20;
/// Header lines are short (`Content-Length: 123`): a longer one is not a header.
const MAX_HEADER_LINE: usize = 1024;
/// Headers per frame; LSP defines two.
const MAX_HEADER_LINES: usize = 16;
/// Where a lost reader picks the stream up again, spelt as clients write it. No valid JSON body holds it followed by
/// digits and a line end (strings cannot hold raw line breaks), so a false match inside a body
/// fails as a header and the search goes on.
const HEADER_START: &[u8] = b"Content-Length:";

// JSON-RPC 2.0 error codes (LSP adds `SERVER_NOT_INITIALIZED`).
pub(crate) const PARSE_ERROR: i32 = -32700;
pub(crate) const INVALID_REQUEST: i32 = -32600;
pub(crate) const METHOD_NOT_FOUND: i32 = -32601;
pub(crate) const INVALID_PARAMS: i32 = -32602;
pub(crate) const SERVER_NOT_INITIALIZED: i32 = -32002;

pub(crate) enum Frame {
    /// A whole body, at most `MAX_MESSAGE_BYTES` long.
    Body(Vec<u8>),
    /// A header announced this many bytes, more than `MAX_MESSAGE_BYTES`; the body was skipped.
    TooLarge(u64),
    /// Bytes that were not a frame header, skipped up to the next `Content-Length:`.
    BadHeader(String),
}

/// Reads frames from `inner`, resynchronising after anything that is not one.
pub(crate) struct Reader<R> {
    src: Source<R>,
    /// A resync stopped just after `Content-Length:`: the next header's name is already read.
    resumed: bool,
}

impl<R: BufRead> Reader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Reader {
            src: Source {
                inner,
                back: Vec::new(),
                pos: 0,
            },
            resumed: false,
        }
    }

    /// The next frame, or `None` at the end of input.
    pub(crate) fn read_frame(&mut self) -> io::Result<Option<Frame>> {
        let mut length = None;
        let mut headers = 0;
        if std::mem::take(&mut self.resumed) {
            let Some(raw) = self.read_line()? else {
                return Ok(None);
            };
            match header_text(&raw).and_then(parse_length) {
                Some(n) => length = Some(n),
                // The match may have been text inside a body: look again from just after it.
                None => return self.bad(raw, 0, "a `Content-Length` value that is not a number"),
            }
            headers = 1;
        }
        loop {
            let Some(raw) = self.read_line()? else {
                return Ok(None);
            };
            let Some(line) = header_text(&raw) else {
                return self.bad(raw, 1, "a header line that is too long or not UTF-8");
            };
            if line.is_empty() {
                // A stray line end between frames is harmless; a blank line ends the headers.
                if headers == 0 {
                    continue;
                }
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return self.bad(raw, 1, "a header line without `:`");
            };
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return self.bad(raw, 1, "a header line with a malformed name");
            }
            if name.eq_ignore_ascii_case("content-length") {
                match parse_length(value) {
                    Some(n) => length = Some(n),
                    None => {
                        return self.bad(raw, 1, "a `Content-Length` value that is not a number")
                    }
                }
            }
            // Other headers (`Content-Type`) change nothing: bodies are read as UTF-8 JSON.
            headers += 1;
            if headers > MAX_HEADER_LINES {
                return self.bad(raw, 1, "too many header lines");
            }
        }
        let Some(length) = length else {
            return self.bad(Vec::new(), 0, "headers without `Content-Length`");
        };
        if length > MAX_MESSAGE_BYTES {
            // A body shorter than its header claims ends at the next `Content-Length:`, so a
            // lying header costs one message, not the rest of the session.
            self.find_header_start(length)?;
            return Ok(Some(Frame::TooLarge(length)));
        }
        // Bounded by the check above, so the capacity is at most `MAX_MESSAGE_BYTES`.
        let mut body = Vec::with_capacity(length as usize);
        (&mut self.src).take(length).read_to_end(&mut body)?;
        if (body.len() as u64) < length {
            // The input ended inside the body: there is no message to answer.
            return Ok(None);
        }
        Ok(Some(Frame::Body(body)))
    }

    /// One raw header line, its line end included unless it is longer than `MAX_HEADER_LINE`
    /// (then the rest of it is left unread); `None` at the end of input.
    fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut raw = Vec::new();
        (&mut self.src)
            .take(MAX_HEADER_LINE as u64 + 1)
            .read_until(b'\n', &mut raw)?;
        if raw.last() != Some(&b'\n') && raw.len() <= MAX_HEADER_LINE {
            return Ok(None);
        }
        Ok(Some(raw))
    }

    /// Skips what is not a header: the bytes of `raw` after `skip` are searched again, since a
    /// frame may start inside them, then the input up to the next `Content-Length:`.
    fn bad(&mut self, raw: Vec<u8>, skip: usize, what: &str) -> io::Result<Option<Frame>> {
        self.src.push_back(raw.get(skip..).unwrap_or_default());
        self.find_header_start(u64::MAX)?;
        Ok(Some(Frame::BadHeader(format!(
            "skipped {what}, up to the next `Content-Length:`"
        ))))
    }

    /// Consumes input, in bounded chunks, up to and including the next `Content-Length:` (then
    /// sets `resumed`), or `limit` bytes, or to the end of input.
    fn find_header_start(&mut self, mut limit: u64) -> io::Result<()> {
        let mut matched = 0;
        while limit > 0 {
            let buf = match self.src.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
            let mut used = n;
            for (i, &b) in buf[..n].iter().enumerate() {
                // `HEADER_START` has no prefix that is also its suffix ('C' occurs once), so on
                // a mismatch the match can only restart at this byte.
                matched = if b == HEADER_START[matched] {
                    matched + 1
                } else {
                    usize::from(b == HEADER_START[0])
                };
                if matched == HEADER_START.len() {
                    used = i + 1;
                    self.resumed = true;
                    break;
                }
            }
            self.src.consume(used);
            if self.resumed {
                return Ok(());
            }
            limit -= used as u64;
        }
        Ok(())
    }
}

/// A header line without its line end, if it is a whole line of UTF-8.
fn header_text(raw: &[u8]) -> Option<&str> {
    let line = raw.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).ok()
}

/// The input, after bytes pushed back to be read again.
struct Source<R> {
    inner: R,
    back: Vec<u8>,
    pos: usize,
}

impl<R> Source<R> {
    fn push_back(&mut self, bytes: &[u8]) {
        let mut back = bytes.to_vec();
        back.extend_from_slice(self.back.get(self.pos..).unwrap_or_default());
        self.back = back;
        self.pos = 0;
    }
}

impl<R: BufRead> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Source<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos < self.back.len() {
            return Ok(&self.back[self.pos..]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.pos < self.back.len() {
            self.pos += n;
            if self.pos >= self.back.len() {
                self.back.clear();
                self.pos = 0;
            }
        } else {
            self.inner.consume(n);
        }
    }
}

/// A `Content-Length` value; one too large for `u64` saturates, so it is skipped as too large.
fn parse_length(value: &str) -> Option<u64> {
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// A well-formed JSON-RPC message from the client.
#[derive(Debug)]
pub(crate) enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    /// A response to a request of ours (we send none) is read and dropped.
    Response,
}

/// A message that is not valid JSON-RPC, and the error response it is owed.
#[derive(Debug)]
pub(crate) struct Invalid {
    /// The request's id if it could be read, else `null` as JSON-RPC requires.
    pub(crate) id: Value,
    pub(crate) code: i32,
    pub(crate) message: String,
}

/// Checks the envelope of a body: JSON, an object, `"jsonrpc": "2.0"`, a string `method`, an
/// integer or string `id`, structured `params`. The params' content is the handler's business.
pub(crate) fn decode(body: &[u8]) -> Result<Incoming, Invalid> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Invalid {
        id: Value::Null,
        code: PARSE_ERROR,
        message: format!("invalid JSON: {e}"),
    })?;
    let Value::Object(mut obj) = value else {
        // LSP has no batches, so an array is as invalid as a number.
        return Err(invalid(Value::Null, "a message must be a JSON object"));
    };
    let id = match obj.remove("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => return Err(invalid(Value::Null, "`id` must be a number or a string")),
    };
    let id_or_null = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(id_or_null, "`jsonrpc` must be \"2.0\""));
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => return Err(invalid(id_or_null, "`method` must be a string")),
        None if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) => {
            return Ok(Incoming::Response)
        }
        None => return Err(invalid(id_or_null, "`method` is missing")),
    };
    let params = match obj.remove("params") {
        None => Value::Null,
        Some(p @ (Value::Object(_) | Value::Array(_) | Value::Null)) => p,
        Some(_) => {
            return Err(invalid(
                id_or_null,
                "`params` must be an object or an array",
            ))
        }
    };
    Ok(match id {
        Some(id) => Incoming::Request { id, method, params },
        None => Incoming::Notification { method, params },
    })
}

fn invalid(id: Value, message: &str) -> Invalid {
    Invalid {
        id,
        code: INVALID_REQUEST,
        message: message.to_string(),
    }
}

pub(crate) fn response_ok(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

pub(crate) fn response_err(id: Value, code: i32, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

pub(crate) fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

/// Writes one framed message and flushes it, so the client sees it at once.
pub(crate) fn write_message(w: &mut impl Write, msg: &Value) -> io::Result<()> {
    let body = serde_json::to_vec(msg)?;
    write!(w, "Content-Length: {}\r\n\r\n", body.len())?;
    w.write_all(&body)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<String> {
        let mut r = Reader::new(io::BufReader::with_capacity(7, input));
        let mut out = Vec::new();
        while let Some(f) = r.read_frame().expect("reading a slice does not fail") {
            out.push(match f {
                Frame::Body(b) => String::from_utf8_lossy(&b).into_owned(),
                Frame::TooLarge(n) => format!("too large {n}"),
                Frame::BadHeader(_) => "bad".to_string(),
            });
        }
        out
    }

    #[test]
    fn well_formed_frames_are_read_in_order() {
        assert_eq!(
            frames(b"Content-Length: 2\r\n\r\n{}content-length:3\r\nContent-Type: x\r\n\r\n[1]"),
            ["{}", "[1]"]
        );
    }

    #[test]
    fn a_lying_huge_length_costs_one_frame() {
        assert_eq!(
            frames(b"Content-Length: 99999999999999\r\n\r\n{}Content-Length: 2\r\n\r\n{}"),
            ["too large 99999999999999", "{}"]
        );
        assert_eq!(
            frames(b"Content-Length: 99999999999999999999999\r\n\r\nContent-Length: 1\r\n\r\n1"),
            [format!("too large {}", u64::MAX).as_str(), "1"]
        );
    }

    #[test]
    fn junk_is_skipped_up_to_the_next_header() {
        assert_eq!(
            frames(b"hello\r\n\r\nContent-Length: x\r\n\r\n{}Content-Length: 1\r\n\r\n1"),
            ["bad", "bad", "1"]
        );
        let long = format!("X-{}\r\nContent-Length: 1\r\n\r\n2", "a".repeat(5000));
        assert_eq!(frames(long.as_bytes()), ["bad", "2"]);
        assert_eq!(frames(b"\r\n\r\n"), Vec::<String>::new());
    }

    #[test]
    fn a_header_inside_a_skipped_body_is_not_taken_for_a_frame() {
        let body = format!(
            r#"{{"text":"Content-Length: 5","pad":"{}"}}"#,
            "x".repeat(100)
        );
        let input = format!(
            "Content-Length: {}\r\n\r\n{body}Content-Length: 1\r\n\r\n7",
            MAX_MESSAGE_BYTES + 1
        );
        assert_eq!(
            frames(input.as_bytes()),
            [
                format!("too large {}", MAX_MESSAGE_BYTES + 1).as_str(),
                "bad",
                "7"
            ]
        );
    }

    #[test]
    fn a_truncated_body_ends_the_stream() {
        assert_eq!(
            frames(b"Content-Length: 10\r\n\r\n{}"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_envelope_is_checked() {
        let code = |s: &str| decode(s.as_bytes()).map(|_| 0).unwrap_or_else(|e| e.code);
        assert_eq!(code("{not json}"), PARSE_ERROR);
        assert_eq!(code("[]"), INVALID_REQUEST);
        assert_eq!(code(r#"{"id":1,"method":"x"}"#), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":5}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","method":"x","params":3}"#),
            INVALID_REQUEST
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"result":null}"#), 0);
        let e = decode(br#"{"id":"a","method":"x"}"#).expect_err("no jsonrpc");
        assert_eq!(e.id, json!("a"));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":7,"method":"m"}"#),
            Ok(Incoming::Request { method, params: Value::Null, .. }) if method == "m"
        ));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","method":"n","params":{}}"#),
            Ok(Incoming::Notification { .. })
        ));
    }
}
