//! Reading msgpack in place: the master's hot path without a value tree.
//!
//! A master with thousands of workers gets a heartbeat per worker every second and a stats
//! report per worker every few seconds. Decoding each into a dynamic [`rmpv::Value`] tree
//! allocates for every map, string and number; this module reads the bytes where they are
//! instead: [`Cursor`] walks one msgpack value at a time (strings borrowed from the frame),
//! [`Envelope`] splits a frame into its type, data and node id without decoding the data, and
//! [`Heartbeat`] reads a heartbeat's fields. `crate::report::report_from_bytes` reads a stats
//! report straight into its typed form.
//!
//! The readers accept exactly what the [`rmpv::Value`] path accepts (the same limits: nesting
//! depth, sizes, trailing bytes), so the two paths agree on every input; tests compare them.

use crate::protocol::{DecodeError, MAX_DEPTH, MAX_MESSAGE_BYTES};

fn err(what: impl Into<String>) -> DecodeError {
    DecodeError(what.into())
}

/// A scalar read from msgpack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A non-negative integer.
    Uint(u64),
    /// A negative integer.
    Int(i64),
    /// float32.
    F32(f32),
    /// float64.
    F64(f64),
    /// A string's bytes (UTF-8 checked by [`text`] when the string is used: a key is
    /// compared as bytes).
    Str(&'a [u8]),
    /// Binary data.
    Bin(&'a [u8]),
    /// An array of this many values (not read yet).
    Array(usize),
    /// A map of this many pairs (not read yet).
    Map(usize),
    /// An extension value.
    Ext,
}

impl Scalar<'_> {
    /// As [`crate::protocol::as_f64`]: any number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::F64(f) => Some(f),
            Scalar::F32(f) => Some(f64::from(f)),
            Scalar::Uint(u) => Some(u as f64),
            Scalar::Int(i) => Some(i as f64),
            _ => None,
        }
    }

    /// As [`crate::protocol::as_u64`]: a non-negative integer, or a float64 without fraction.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Scalar::Uint(u) => Some(u),
            Scalar::F64(f) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Some(f as u64),
            _ => None,
        }
    }

    /// An integer as i64 (as `rmpv::Integer::as_i64`).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Scalar::Uint(u) => i64::try_from(u).ok(),
            Scalar::Int(i) => Some(i),
            _ => None,
        }
    }
}

/// A position in a msgpack buffer.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| err("not a msgpack message: truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len16(&mut self) -> Result<usize, DecodeError> {
        Ok(usize::from(u16::from_be_bytes(self.be()?)))
    }

    fn len32(&mut self) -> Result<usize, DecodeError> {
        Ok(u32::from_be_bytes(self.be()?) as usize)
    }

    fn str_of(&mut self, n: usize) -> Result<Scalar<'a>, DecodeError> {
        Ok(Scalar::Str(self.take(n)?))
    }

    /// Reads the next value's head: a scalar whole, an array's or map's length (their items
    /// follow), an extension skipped.
    pub fn head(&mut self) -> Result<Scalar<'a>, DecodeError> {
        let m = self.u8()?;
        Ok(match m {
            0x00..=0x7f => Scalar::Uint(u64::from(m)),
            0x80..=0x8f => Scalar::Map(usize::from(m & 0x0f)),
            0x90..=0x9f => Scalar::Array(usize::from(m & 0x0f)),
            0xa0..=0xbf => return self.str_of(usize::from(m & 0x1f)),
            0xc0 => Scalar::Nil,
            0xc1 => return Err(err("not a msgpack message: reserved marker 0xc1")),
            0xc2 => Scalar::Bool(false),
            0xc3 => Scalar::Bool(true),
            0xc4 => {
                let n = usize::from(self.u8()?);
                Scalar::Bin(self.take(n)?)
            }
            0xc5 => {
                let n = self.len16()?;
                Scalar::Bin(self.take(n)?)
            }
            0xc6 => {
                let n = self.len32()?;
                Scalar::Bin(self.take(n)?)
            }
            0xc7 => {
                let n = usize::from(self.u8()?);
                self.take(1 + n)?;
                Scalar::Ext
            }
            0xc8 => {
                let n = self.len16()?;
                self.take(1 + n)?;
                Scalar::Ext
            }
            0xc9 => {
                let n = self.len32()?;
                self.take(1 + n)?;
                Scalar::Ext
            }
            0xca => Scalar::F32(f32::from_be_bytes(self.be()?)),
            0xcb => Scalar::F64(f64::from_be_bytes(self.be()?)),
            0xcc => Scalar::Uint(u64::from(self.u8()?)),
            0xcd => Scalar::Uint(u64::from(u16::from_be_bytes(self.be()?))),
            0xce => Scalar::Uint(u64::from(u32::from_be_bytes(self.be()?))),
            0xcf => Scalar::Uint(u64::from_be_bytes(self.be()?)),
            0xd0 => int(i64::from(i8::from_be_bytes(self.be()?))),
            0xd1 => int(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => int(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => int(i64::from_be_bytes(self.be()?)),
            0xd4..=0xd8 => {
                self.take(1 + (1usize << (m - 0xd4)))?;
                Scalar::Ext
            }
            0xd9 => {
                let n = usize::from(self.u8()?);
                return self.str_of(n);
            }
            0xda => {
                let n = self.len16()?;
                return self.str_of(n);
            }
            0xdb => {
                let n = self.len32()?;
                return self.str_of(n);
            }
            0xdc => Scalar::Array(self.len16()?),
            0xdd => Scalar::Array(self.len32()?),
            0xde => Scalar::Map(self.len16()?),
            0xdf => Scalar::Map(self.len32()?),
            0xe0..=0xff => Scalar::Int(i64::from(m as i8)),
        })
    }

    /// Skips the rest of a value whose head was `head`, nested at most `depth` more levels.
    pub fn skip_rest(&mut self, head: Scalar<'a>, depth: usize) -> Result<(), DecodeError> {
        let items = match head {
            Scalar::Array(n) => n,
            Scalar::Map(n) => n
                .checked_mul(2)
                .ok_or_else(|| err("not a msgpack message: map too large"))?,
            _ => return Ok(()),
        };
        if depth == 0 {
            return Err(err("not a msgpack message: nested too deeply"));
        }
        // Every item takes at least one byte: a length beyond the buffer is refused at once.
        if items > self.remaining() {
            return Err(err("not a msgpack message: truncated"));
        }
        for _ in 0..items {
            let h = self.head()?;
            self.skip_rest(h, depth - 1)?;
        }
        Ok(())
    }

    /// Skips one whole value.
    pub fn skip(&mut self, depth: usize) -> Result<(), DecodeError> {
        let h = self.head()?;
        self.skip_rest(h, depth)
    }

    /// The bytes of the next whole value (checked as [`Cursor::skip`] does).
    pub fn raw(&mut self, depth: usize) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        self.skip(depth)?;
        Ok(&self.buf[start..self.pos])
    }

    /// Walks a map whose head was read: `f` gets each string key with the cursor at its value
    /// and must consume the value (or return `false` to have it skipped); non-string keys are
    /// skipped with their values, and only the first occurrence of a key counts (as
    /// [`crate::protocol::get`]).
    pub fn map_fields(
        &mut self,
        len: usize,
        depth: usize,
        seen: &mut u64,
        keys: &[&str],
        mut f: impl FnMut(usize, &mut Cursor<'a>) -> Result<bool, DecodeError>,
    ) -> Result<(), DecodeError> {
        if depth == 0 {
            return Err(err("not a msgpack message: nested too deeply"));
        }
        if len > self.remaining() {
            return Err(err("not a msgpack message: truncated"));
        }
        for _ in 0..len {
            let key = self.head()?;
            let slot = match key {
                Scalar::Str(k) => keys.iter().position(|c| c.as_bytes() == k),
                other => {
                    self.skip_rest(other, depth - 1)?;
                    None
                }
            };
            match slot {
                Some(i) if *seen & (1 << i) == 0 => {
                    *seen |= 1 << i;
                    if !f(i, self)? {
                        self.skip(depth - 1)?;
                    }
                }
                _ => self.skip(depth - 1)?,
            }
        }
        Ok(())
    }
}

/// A string's bytes as text, when they are UTF-8.
pub fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// The nesting left inside a container read with `depth` left (refused at 0).
pub fn deeper(depth: usize) -> Result<usize, DecodeError> {
    depth
        .checked_sub(1)
        .ok_or_else(|| err("not a msgpack message: nested too deeply"))
}

fn int(i: i64) -> Scalar<'static> {
    if i >= 0 {
        Scalar::Uint(i as u64)
    } else {
        Scalar::Int(i)
    }
}

/// One frame split into `[type, data, node_id]`, the data left encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Envelope<'a> {
    /// The message type.
    pub kind: &'a str,
    /// The data's msgpack bytes (checked: well formed, not nested too deeply).
    pub data: &'a [u8],
    /// The node id ("" for nil).
    pub node_id: &'a str,
}

impl<'a> Envelope<'a> {
    /// Splits a frame, refusing what [`crate::protocol::Message::decode`] refuses.
    pub fn parse(bytes: &'a [u8]) -> Result<Envelope<'a>, DecodeError> {
        let mut f = Frame::open(bytes)?;
        f.data().skip(DATA_DEPTH)?;
        let data = f.data_bytes();
        let kind = f.kind;
        let node_id = f.close()?;
        Ok(Envelope {
            kind,
            data,
            node_id,
        })
    }
}

/// Nesting allowed in a message's data (the frame's array is one level).
pub const DATA_DEPTH: usize = MAX_DEPTH - 1;

/// A frame being read in one pass: its type is known, the cursor is at its data; the caller
/// reads the data (at most [`DATA_DEPTH`] deep), then [`Frame::close`] checks the node id and
/// that nothing follows.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// The message type.
    pub kind: &'a str,
    cursor: Cursor<'a>,
    data_start: usize,
}

impl<'a> Frame<'a> {
    /// Reads a frame's head: the size limit, the 3-element array, the type.
    pub fn open(bytes: &'a [u8]) -> Result<Frame<'a>, DecodeError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(err(format!(
                "message of {} bytes exceeds the {} byte limit",
                bytes.len(),
                MAX_MESSAGE_BYTES
            )));
        }
        let mut cursor = Cursor::new(bytes);
        match cursor.head()? {
            Scalar::Array(3) => {}
            Scalar::Array(n) => {
                return Err(err(format!(
                    "message has {n} parts instead of [type, data, node_id]"
                )))
            }
            _ => return Err(err("message is not a msgpack array")),
        }
        let kind = match cursor.head()? {
            Scalar::Str(s) => text(s).ok_or_else(|| err("message type is not valid UTF-8"))?,
            _ => return Err(err("message type is not a string")),
        };
        let data_start = cursor.pos;
        Ok(Frame {
            kind,
            cursor,
            data_start,
        })
    }

    /// The cursor at the data (then after what was read of it).
    pub fn data(&mut self) -> &mut Cursor<'a> {
        &mut self.cursor
    }

    /// The bytes read from the data so far (all of it once read).
    pub fn data_bytes(&self) -> &'a [u8] {
        &self.cursor.buf[self.data_start..self.cursor.pos]
    }

    /// After the data: the node id ("" for nil), refusing anything after it.
    pub fn close(mut self) -> Result<&'a str, DecodeError> {
        let node = match self.cursor.head()? {
            Scalar::Str(s) => text(s).ok_or_else(|| err("node id is not valid UTF-8"))?,
            Scalar::Nil => "",
            _ => return Err(err("node id is not a string")),
        };
        check_end(&self.cursor)?;
        Ok(node)
    }
}

fn check_end(c: &Cursor<'_>) -> Result<(), DecodeError> {
    if c.remaining() > 0 {
        return Err(err(format!(
            "{} bytes of extra data after the message",
            c.remaining()
        )));
    }
    Ok(())
}

/// What a heartbeat says: the worker's state, CPU and memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Heartbeat<'a> {
    /// `state`, when it is a string.
    pub state: Option<&'a str>,
    /// `current_cpu_usage` (0 when absent or not a finite number).
    pub cpu: f64,
    /// `current_memory_usage` (0 when absent or not a count).
    pub memory: u64,
}

impl<'a> Heartbeat<'a> {
    /// Reads a heartbeat's data at the cursor, nested at most `depth` deep; anything but a map
    /// reads as no fields, as the value path does.
    pub fn read(c: &mut Cursor<'a>, depth: usize) -> Result<Heartbeat<'a>, DecodeError> {
        let mut hb = Heartbeat::default();
        let n = match c.head()? {
            Scalar::Map(n) => n,
            other => {
                c.skip_rest(other, depth)?;
                return Ok(hb);
            }
        };
        let inner = deeper(depth)?;
        let mut seen = 0;
        c.map_fields(
            n,
            depth,
            &mut seen,
            &["state", "current_cpu_usage", "current_memory_usage"],
            |i, c| {
                let v = c.head()?;
                match (i, v) {
                    (0, Scalar::Str(s)) => hb.state = text(s),
                    (1, v) => hb.cpu = v.as_f64().filter(|f| f.is_finite()).unwrap_or(0.0),
                    (2, v) => hb.memory = v.as_u64().unwrap_or(0),
                    _ => {}
                }
                c.skip_rest(v, inner)?;
                Ok(true)
            },
        )?;
        Ok(hb)
    }

    /// The same fields from a decoded value (the [`crate::master::Master::handle`] path).
    pub fn from_value(data: &'a rmpv::Value) -> Heartbeat<'a> {
        use crate::protocol::{as_f64, as_u64, get};
        Heartbeat {
            state: get(data, "state").and_then(|s| s.as_str()),
            cpu: get(data, "current_cpu_usage")
                .and_then(as_f64)
                .filter(|c| c.is_finite())
                .unwrap_or(0.0),
            memory: get(data, "current_memory_usage")
                .and_then(as_u64)
                .unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{map, Message};
    use rmpv::Value;

    fn same_verdict(bytes: &[u8]) {
        let a = Message::decode(bytes);
        let b = Envelope::parse(bytes);
        assert_eq!(a.is_ok(), b.is_ok(), "{bytes:?}: {a:?} vs {b:?}");
        if let (Ok(m), Ok(e)) = (a, b) {
            assert_eq!(m.kind, e.kind);
            assert_eq!(m.node_id, e.node_id);
            let mut rd = e.data;
            assert_eq!(
                rmpv::decode::read_value(&mut rd).expect("data"),
                m.data,
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn envelope_agrees_with_message_decode() {
        let ok = Message::new(
            "heartbeat",
            map(vec![
                ("state", "running".into()),
                ("current_cpu_usage", 12.5.into()),
                ("current_memory_usage", 1234u64.into()),
            ]),
            "w1",
        )
        .encode();
        same_verdict(&ok);
        let mut extra = ok.clone();
        extra.push(0);
        same_verdict(&extra);
        for cut in 0..ok.len() {
            same_verdict(&ok[..cut]);
        }
        for bytes in [
            &b""[..],
            &[0xc1],
            &[0x80],
            &[0x93, 0x01, 0xc0, 0xa1, b'x'],
            &[0x92, 0xa1, b'x', 0xc0],
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0x93, 0xa1, b'x', 0xc0, 0xc0],
            &[0x93, 0xa1, b'x', 0xc0, 0x05],
            &[0x93, 0xa2, 0xff, 0xfe, 0xc0, 0xa1, b'n'],
            &[0x93, 0xa1, b'x', 0xd4, 0x01, 0x02, 0xa1, b'n'],
            &[0x93, 0xa1, b'x', 0xc4, 0x01, 0x02, 0xa1, b'n'],
        ] {
            same_verdict(bytes);
        }
        let mut deep = vec![0x93, 0xa1, b'x'];
        deep.extend(std::iter::repeat_n(0x91, 10_000));
        deep.push(0xc0);
        same_verdict(&deep);
        for depth in [MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1] {
            let mut d = vec![0x93, 0xa1, b'x'];
            d.extend(std::iter::repeat_n(0x91, depth));
            d.push(0xc0);
            d.extend_from_slice(&[0xa1, b'n']);
            same_verdict(&d);
        }
    }

    #[test]
    fn heartbeat_fields_agree_with_the_value_path() {
        for data in [
            Value::Nil,
            map(vec![("state", "ready".into())]),
            map(vec![
                ("state", 5.into()),
                ("current_cpu_usage", 3u64.into()),
                ("current_memory_usage", 7.0.into()),
            ]),
            map(vec![
                ("current_cpu_usage", f64::NAN.into()),
                ("current_memory_usage", Value::from(-4)),
                ("state", "a".into()),
                ("state", "b".into()),
            ]),
            Value::Map(vec![(1.into(), 2.into()), ("state".into(), "x".into())]),
        ] {
            let mut bytes = Vec::new();
            rmpv::encode::write_value(&mut bytes, &data).expect("encode");
            let fast = Heartbeat::read(&mut Cursor::new(&bytes), DATA_DEPTH).expect("parse");
            let slow = Heartbeat::from_value(&data);
            assert_eq!(fast.state, slow.state, "{data}");
            assert_eq!(fast.memory, slow.memory, "{data}");
            assert!(fast.cpu == slow.cpu, "{data}");
        }
    }
}
