//! gRPC's message framing on HTTP/2 data: each message is a 1-byte compressed flag, a 4-byte
//! big-endian length and the encoded message. HTTP/2 data frames split and join messages at
//! will, so [`MessageReader`] collects bytes until a whole message is there.
//!
//! A message with the compressed flag is decoded by the response's `grpc-encoding`: `gzip` is
//! decompressed (at most the message size limit), any other encoding is refused with a status
//! that names it. Requests are never compressed.

use std::io::Read;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::status::{Code, Status};

/// Largest message accepted by default (grpcio's default receive limit, 4 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// `message` framed for the wire (not compressed).
pub fn encode(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(0);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
    out.freeze()
}

/// The encodings this client decodes, as offered in `grpc-accept-encoding`.
pub const ACCEPT_ENCODING: &str = "identity,gzip";

/// Cuts the messages out of the data as it arrives.
#[derive(Debug)]
pub struct MessageReader {
    buf: BytesMut,
    max_message: usize,
    /// The response's `grpc-encoding` (None: identity).
    encoding: Option<String>,
}

impl MessageReader {
    /// A reader that refuses messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> MessageReader {
        MessageReader {
            buf: BytesMut::new(),
            max_message,
            encoding: None,
        }
    }

    /// The response's `grpc-encoding`, for its compressed messages (`identity` or none: they
    /// are not compressed).
    pub fn set_encoding(&mut self, encoding: Option<&str>) {
        self.encoding = encoding
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty() && e != "identity");
    }

    /// Adds data received.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message, if one has arrived.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, Status> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let compressed = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if compressed != 0 && self.encoding.as_deref() != Some("gzip") {
            let message = match &self.encoding {
                None => "the server sent a compressed message without saying how it is \
                         compressed (no grpc-encoding in the response head)"
                    .to_string(),
                Some(e) => format!(
                    "the server compressed a message with {e:?}, which this client does not \
                     decode (it accepts {ACCEPT_ENCODING}): set the server's compression to gzip \
                     or none"
                ),
            };
            return Err(Status::new(Code::Internal, message));
        }
        if len > self.max_message {
            return Err(Status::new(
                Code::ResourceExhausted,
                format!(
                    "received message larger than max ({len} vs. {})",
                    self.max_message
                ),
            ));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        self.buf.advance(5);
        let message = self.buf.split_to(len).freeze();
        if compressed == 0 {
            return Ok(Some(message));
        }
        self.gunzip(&message).map(Some)
    }

    /// A gzip-compressed message, decompressed up to the size limit.
    fn gunzip(&self, data: &[u8]) -> Result<Bytes, Status> {
        let mut out = Vec::new();
        let limit = self.max_message as u64 + 1;
        flate2::read::GzDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| {
                Status::new(
                    Code::Internal,
                    format!("a gzip-compressed message could not be decompressed: {e}"),
                )
            })?;
        if out.len() > self.max_message {
            return Err(Status::new(
                Code::ResourceExhausted,
                format!(
                    "received message larger than max (more than {} bytes once decompressed)",
                    self.max_message
                ),
            ));
        }
        Ok(Bytes::from(out))
    }

    /// Bytes received that are not (yet) a whole message.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_and_joined_across_pieces_come_out_whole() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&encode(b"hello"));
        wire.extend_from_slice(&encode(b""));
        wire.extend_from_slice(&encode(&[7u8; 300]));
        let mut r = MessageReader::new(1024);
        let mut got = Vec::new();
        for piece in wire.chunks(3) {
            r.push(piece);
            while let Ok(Some(m)) = r.next_message() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(&got[0][..], b"hello");
        assert!(got[1].is_empty());
        assert_eq!(got[2].len(), 300);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn oversized_and_compressed_messages_are_refused() {
        let mut r = MessageReader::new(4);
        r.push(&encode(b"12345"));
        assert_eq!(
            r.next_message().map_err(|s| s.code),
            Err(Code::ResourceExhausted)
        );
        let mut r = MessageReader::new(64);
        r.push(&[1, 0, 0, 0, 1, 9]);
        assert_eq!(r.next_message().map_err(|s| s.code), Err(Code::Internal));
        let mut r = MessageReader::new(64);
        r.set_encoding(Some("deflate"));
        r.push(&[1, 0, 0, 0, 1, 9]);
        let err = r
            .next_message()
            .err()
            .map(|s| s.message)
            .unwrap_or_default();
        assert!(err.contains("\"deflate\"") && err.contains("gzip"), "{err}");
    }

    fn gzipped(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).expect("in memory");
        z.finish().expect("in memory")
    }

    #[test]
    fn gzip_messages_are_decompressed_within_the_limit() {
        let packed = gzipped(&[7u8; 300]);
        let mut wire = vec![1u8];
        wire.extend_from_slice(&(packed.len() as u32).to_be_bytes());
        wire.extend_from_slice(&packed);
        wire.extend_from_slice(&encode(b"plain")); // uncompressed messages may follow
        let mut r = MessageReader::new(1024);
        r.set_encoding(Some("gzip"));
        r.push(&wire);
        assert_eq!(r.next_message().ok().flatten().map(|m| m.len()), Some(300));
        assert_eq!(
            r.next_message().ok().flatten(),
            Some(Bytes::from_static(b"plain"))
        );
        // larger than the limit once decompressed
        let mut r = MessageReader::new(100);
        r.set_encoding(Some("GZIP"));
        r.push(&wire);
        assert_eq!(
            r.next_message().map_err(|s| s.code),
            Err(Code::ResourceExhausted)
        );
        // not gzip at all
        let mut r = MessageReader::new(100);
        r.set_encoding(Some("gzip"));
        r.push(&[1, 0, 0, 0, 2, 1, 2]);
        assert_eq!(r.next_message().map_err(|s| s.code), Err(Code::Internal));
    }
}
