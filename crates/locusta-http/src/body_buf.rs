//! A response body gathered from the pieces it arrived in (hyper's HTTP/1.1 frames, HTTP/2 data
//! frames), within the client's size limit. A body that came in one piece, as most small
//! responses do, is kept as that piece without a copy.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::HttpError;

pub(crate) struct BodyBuffer {
    first: Option<Bytes>,
    rest: Option<BytesMut>,
    read: u64,
    limit: u64,
}

impl BodyBuffer {
    /// An empty body that may grow to `limit` bytes.
    pub(crate) fn new(limit: u64) -> Self {
        BodyBuffer {
            first: None,
            rest: None,
            read: 0,
            limit,
        }
    }

    /// Bytes added so far.
    pub(crate) fn read(&self) -> u64 {
        self.read
    }

    /// Adds the next piece; fails once the body would exceed the limit.
    pub(crate) fn push(&mut self, data: Bytes) -> Result<(), HttpError> {
        self.read += data.len() as u64;
        if self.read > self.limit {
            return Err(HttpError::BodyTooLarge { limit: self.limit });
        }
        match (&mut self.first, &mut self.rest) {
            (None, _) => self.first = Some(data),
            (Some(f0), None) => {
                let mut m = BytesMut::with_capacity(f0.len() + data.len());
                m.extend_from_slice(f0);
                m.extend_from_slice(&data);
                self.rest = Some(m);
            }
            (Some(_), Some(m)) => m.extend_from_slice(data.chunk()),
        }
        Ok(())
    }

    /// The whole body.
    pub(crate) fn finish(self) -> Bytes {
        match (self.first, self.rest) {
            (_, Some(m)) => m.freeze(),
            (Some(f), None) => f,
            (None, None) => Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_pieces_and_enforces_the_limit() {
        let mut b = BodyBuffer::new(10);
        assert_eq!(BodyBuffer::new(10).finish(), Bytes::new());
        let one = Bytes::from_static(b"abc");
        b.push(one.clone()).unwrap();
        let mut single = BodyBuffer::new(10);
        single.push(one.clone()).unwrap();
        assert_eq!(single.finish().as_ptr(), one.as_ptr(), "one piece: no copy");
        b.push(Bytes::from_static(b"de")).unwrap();
        b.push(Bytes::from_static(b"fgh")).unwrap();
        assert_eq!(b.read(), 8);
        assert!(matches!(
            b.push(Bytes::from_static(b"ijk")),
            Err(HttpError::BodyTooLarge { limit: 10 })
        ));
        let mut c = BodyBuffer::new(10);
        for piece in [&b"ab"[..], b"cd", b"ef"] {
            c.push(Bytes::from_static(piece)).unwrap();
        }
        assert_eq!(&c.finish()[..], b"abcdef");
    }
}
