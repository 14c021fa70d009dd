//! gRPC's message framing on HTTP/2 data: each message is a 1-byte compressed flag, a 4-byte
//! big-endian length and the encoded message. HTTP/2 data frames split and join messages at
//! will, so [`MessageReader`] collects bytes until a whole message is there.

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

/// Cuts the messages out of the data as it arrives.
#[derive(Debug)]
pub struct MessageReader {
    buf: BytesMut,
    max_message: usize,
}

impl MessageReader {
    /// A reader that refuses messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> MessageReader {
        MessageReader {
            buf: BytesMut::new(),
            max_message,
        }
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
        if compressed != 0 {
            return Err(Status::new(
                Code::Internal,
                "the server sent a compressed message, which this client does not decompress \
                 (it asks for none: check the server's grpc-encoding settings)",
            ));
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
        Ok(Some(self.buf.split_to(len).freeze()))
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
    }
}
