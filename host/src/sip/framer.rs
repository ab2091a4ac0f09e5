//! Framing SIP messages out of a stream (TCP, TLS; RFC 3261 §18.3): bytes
//! arrive in segments of any size, a message ends after its blank line and
//! Content-Length bytes of body. Each byte is searched once for the end of
//! the header section and each head is parsed once, however small the
//! segments (a peer sending one byte at a time costs linear work).

use super::message::Message;
use super::parse::{self, Head, ParseError, MAX_HEADER_BYTES};

/// What [`StreamFramer::next_frame`] found.
pub enum Framed {
    /// A complete message.
    Message(Message),
    /// A double-CRLF keep-alive ping (RFC 5626 §4.4.1): answer with CRLF.
    Ping,
}

/// Accumulates a stream's bytes and yields its messages.
#[derive(Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for the end of the headers.
    scanned: usize,
    /// Leading keep-alive bytes of the current message.
    skip: usize,
    /// The parsed head of the current message, once complete.
    head: Option<Head>,
    /// Total bytes examined (tests check that the work stays linear).
    examined: u64,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered, not yet part of a returned message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The bytes buffered (after an error: what could not be framed, to
    /// answer it).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes examined so far, over the framer's life.
    pub fn examined(&self) -> u64 {
        self.examined
    }

    /// The next message or ping, `Ok(None)` when more bytes are needed. An
    /// error means the stream cannot be framed any more (answer what can
    /// be answered, then close it).
    pub fn next_frame(&mut self) -> Result<Option<Framed>, ParseError> {
        if self.head.is_none() {
            if self.scanned == 0 {
                self.skip = parse::skip_leading_crlf(&self.buf);
                if self.skip == self.buf.len() {
                    // Only keep-alive bytes so far.
                    let ping = self.skip >= 4;
                    if ping || self.skip > 64 {
                        self.buf.clear();
                        self.skip = 0;
                    }
                    return Ok(ping.then_some(Framed::Ping));
                }
            }
            let data = &self.buf[self.skip..];
            let from = self.scanned;
            let found = parse::find_header_end_from(data, from);
            self.examined += (data.len() - from.saturating_sub(3)) as u64;
            let Some((hdr_len, body_start)) = found else {
                self.scanned = data.len().max(1);
                if data.len() > MAX_HEADER_BYTES {
                    return Err(ParseError {
                        status: 400,
                        reason: "header section too large".into(),
                        is_request: !data.starts_with(b"SIP/"),
                    });
                }
                return Ok(None);
            };
            self.head = Some(parse::parse_stream_head(data, hdr_len, body_start)?);
        }
        let Some(head) = &self.head else {
            return Ok(None);
        };
        let end = self.skip + head.body_start + head.body_len;
        if self.buf.len() < end {
            return Ok(None);
        }
        let body_from = self.skip + head.body_start;
        let head = self.head.take();
        let msg = head.map(|h| h.into_message(&self.buf[body_from..end]));
        self.buf.drain(..end);
        self.scanned = 0;
        self.skip = 0;
        Ok(msg.map(Framed::Message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 4\r\n\r\nbody";

    fn drain(f: &mut StreamFramer) -> Vec<Message> {
        let mut out = Vec::new();
        while let Ok(Some(x)) = f.next_frame() {
            if let Framed::Message(m) = x {
                out.push(m);
            }
        }
        out
    }

    #[test]
    fn frames_messages_split_anywhere_and_back_to_back() {
        let mut stream = b"\r\n".to_vec();
        stream.extend_from_slice(OPTIONS);
        stream.extend_from_slice(OPTIONS);
        for chunk in [1, 2, 7, 64, 1000] {
            let mut f = StreamFramer::new();
            let mut got = Vec::new();
            for c in stream.chunks(chunk) {
                f.push(c);
                got.extend(drain(&mut f));
            }
            assert_eq!(got.len(), 2, "chunk {chunk}");
            for m in got {
                let Message::Request(r) = m else {
                    panic!("a request")
                };
                assert_eq!(&r.body[..], b"body");
            }
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn a_byte_at_a_time_header_costs_linear_work() {
        let mut msg = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n".to_vec();
        for i in 0..2000 {
            msg.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "y".repeat(10)).as_bytes());
        }
        msg.extend_from_slice(b"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        assert!(msg.len() > 40_000);
        let mut f = StreamFramer::new();
        let mut got = 0;
        for b in &msg {
            f.push(std::slice::from_ref(b));
            got += drain(&mut f).len();
        }
        assert_eq!(got, 1);
        assert!(
            f.examined() < 5 * msg.len() as u64,
            "examined {} bytes for a {}-byte message",
            f.examined(),
            msg.len()
        );
    }

    #[test]
    fn pings_and_oversized_headers() {
        let mut f = StreamFramer::new();
        f.push(b"\r\n\r\n");
        assert!(matches!(f.next_frame(), Ok(Some(Framed::Ping))));
        assert_eq!(f.buffered(), 0);
        f.push(b"\r\n");
        assert!(matches!(f.next_frame(), Ok(None)));
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
        for _ in 0..(MAX_HEADER_BYTES / 10 + 1) {
            f.push(b"X-a: bbbb\r\n");
        }
        let e = f.next_frame().err().map(|e| e.reason);
        assert_eq!(e.as_deref(), Some("header section too large"));
    }
}
