//! Locust's wire format: a msgpack array `[type, data, node_id]` per ZeroMQ frame.
//!
//! This module exists so that every byte that crosses the network is parsed in one place,
//! with limits: a frame larger than [`MAX_MESSAGE_BYTES`], nested deeper than
//! [`MAX_DEPTH`], not a 3-element array, or with a non-string type or node id is refused with
//! an error the caller logs (and the message is dropped). Encoding uses the same msgpack
//! representations as Python's `msgpack.dumps` (smallest integer width, float64, str8 strings,
//! maps with integer keys for `response_times`), so our bytes equal Locust's for the same
//! values — the fixture tests compare them byte for byte. Locust's custom datetime encoding
//! (`{"__datetime__": True, "as_str": ...}`) is just a map on the wire and passes through.

use rmpv::Value;

/// Largest message accepted from the network. Locust's biggest messages are stats reports
/// (about 1-2 KiB per stats entry, at most `--max-stats-entries` entries) and locustfiles.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;
/// Deepest nesting accepted in a message's data.
pub const MAX_DEPTH: usize = 64;

/// One protocol message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `client_ready`, `spawn`, `stats`, ... or a custom type.
    pub kind: String,
    /// The payload (msgpack `nil` when there is none).
    pub data: Value,
    /// Worker → master: the sender's id; master → worker: the target's id.
    pub node_id: String,
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Message {
    /// A message with the given type, data and node id.
    pub fn new(kind: &str, data: Value, node_id: &str) -> Message {
        Message {
            kind: kind.to_owned(),
            data,
            node_id: node_id.to_owned(),
        }
    }

    /// The msgpack bytes (Locust's `Message.serialize`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.kind.len() + self.node_id.len());
        self.encode_into(&mut out);
        out
    }

    /// Parses one frame (Locust's `Message.unserialize`), refusing anything malformed (the
    /// checks are [`crate::wire::Envelope::parse`]'s; the data is then decoded whole).
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let env = crate::wire::Envelope::parse(bytes)?;
        let mut rd = env.data;
        // The envelope checked the nesting (one level per array or map); rmpv counts up to
        // three per level, so its own limit is set where it cannot refuse what passed.
        let data = rmpv::decode::read_value_with_max_depth(&mut rd, 4 * MAX_DEPTH)
            .map_err(|e| DecodeError(format!("not a msgpack message: {e}")))?;
        Ok(Message {
            kind: env.kind.to_owned(),
            data,
            node_id: env.node_id.to_owned(),
        })
    }

    /// Appends the msgpack bytes to `out` (what [`Message::encode`] returns).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(0x93);
        // Writing into a Vec cannot fail.
        let _ = rmp::encode::write_str(out, &self.kind);
        let _ = rmpv::encode::write_value(out, &self.data);
        let _ = rmp::encode::write_str(out, &self.node_id);
    }
}

/// Appends the master's answer to a heartbeat, `["heartbeat", nil, node_id]`, to `out`: the
/// bytes of `Message::new("heartbeat", Value::Nil, node_id).encode()` without building it.
pub fn encode_heartbeat_reply(node_id: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\x93\xa9heartbeat\xc0");
    // Writing into a Vec cannot fail.
    let _ = rmp::encode::write_str(out, node_id);
}

/// Looks up a string key in a msgpack map.
pub fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    match map {
        Value::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// A msgpack map with string keys.
pub fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// A number as f64 (msgpack ints and floats).
pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::F64(f) => Some(*f),
        Value::F32(f) => Some(f64::from(*f)),
        Value::Integer(i) => i.as_f64(),
        _ => None,
    }
}

/// A non-negative integer (msgpack int, or a float with no fraction as Python may send).
pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => i.as_u64(),
        Value::F64(f) if *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19 => Some(*f as u64),
        _ => None,
    }
}

/// `{class name: count}` from a msgpack map; entries that are not `str: int` are refused.
pub fn class_counts(v: &Value) -> Result<Vec<(String, u64)>, DecodeError> {
    let Value::Map(pairs) = v else {
        return Err(DecodeError("user_classes_count is not a map".into()));
    };
    pairs
        .iter()
        .map(|(k, v)| match (k.as_str(), as_u64(v)) {
            (Some(k), Some(n)) => Ok((k.to_owned(), n)),
            _ => Err(DecodeError(format!(
                "bad user_classes_count entry {k}: {v}"
            ))),
        })
        .collect()
}

/// `{class: count}` as a msgpack map.
pub fn class_counts_value(counts: &[(String, u64)]) -> Value {
    Value::Map(
        counts
            .iter()
            .map(|(k, n)| (Value::from(k.as_str()), Value::from(*n)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_reply_bytes_equal_the_message() {
        for id in ["", "w", &"x".repeat(40), &"y".repeat(300)] {
            let mut out = Vec::new();
            encode_heartbeat_reply(id, &mut out);
            assert_eq!(out, Message::new("heartbeat", Value::Nil, id).encode());
        }
    }

    #[test]
    fn refuses_malformed_frames() {
        assert!(Message::decode(b"").is_err());
        assert!(Message::decode(&[0xc1]).is_err());
        // a map instead of an array
        assert!(Message::decode(&[0x80]).is_err());
        // [1, nil, "x"]: type not a string
        assert!(Message::decode(&[0x93, 0x01, 0xc0, 0xa1, b'x']).is_err());
        // two elements
        assert!(Message::decode(&[0x92, 0xa1, b'x', 0xc0]).is_err());
        // trailing bytes
        let mut ok = Message::new("heartbeat", Value::Nil, "n").encode();
        assert!(Message::decode(&ok).is_ok());
        ok.push(0);
        assert!(Message::decode(&ok).is_err());
        // an array header claiming 4 billion elements with no body
        assert!(Message::decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        // deep nesting
        let mut deep = vec![0x93, 0xa1, b'x'];
        deep.extend(std::iter::repeat_n(0x91, 10_000));
        deep.push(0xc0);
        assert!(Message::decode(&deep).is_err());
        // oversized
        let big = vec![0u8; MAX_MESSAGE_BYTES + 1];
        assert!(Message::decode(&big).is_err());
    }
}
