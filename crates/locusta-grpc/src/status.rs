//! gRPC status codes and the status a call ended with.
//!
//! A call's outcome is a [`Status`] whatever went wrong: the server's `grpc-status` trailer, an
//! HTTP-level refusal mapped as the gRPC spec says, a deadline, or a transport failure
//! (`UNAVAILABLE`), as grpcio reports them. Its text reads like grpcio's `RpcError`, so the
//! failures table shows the same thing for Rust-native and Python users.

use std::fmt;

/// The gRPC status codes (`grpc.StatusCode` in grpcio).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Ok,
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

const ALL: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

impl Code {
    /// The code with this number; numbers outside 0..=16 are `UNKNOWN`, as the spec says.
    pub fn from_i32(n: i32) -> Code {
        usize::try_from(n)
            .ok()
            .and_then(|i| ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }

    /// Its number on the wire.
    pub fn as_i32(self) -> i32 {
        ALL.iter().position(|c| *c == self).unwrap_or(2) as i32
    }

    /// Its name as in the spec and grpcio (`NOT_FOUND`).
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The code for a response whose HTTP status is not 200 (the spec's HTTP to gRPC status
    /// mapping, used when the server sent no `grpc-status`).
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502..=504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a call ended when it did not end well: a code other than `OK` and its details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "<RpcError of RPC that terminated with: status = StatusCode.{code} details = \"{message}\">"
)]
pub struct Status {
    /// The status code.
    pub code: Code,
    /// The details (`grpc-message`, percent-decoded; or what the client saw).
    pub message: String,
}

impl Status {
    /// A status with this code and details.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
        }
    }

    /// The status a set of response headers or trailers carries: `None` without `grpc-status`,
    /// `Some(Ok(()))` for `OK`, `Some(Err(status))` otherwise.
    pub fn from_fields(fields: &http::HeaderMap) -> Option<Result<(), Status>> {
        let raw = fields.get("grpc-status")?;
        let code = raw
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .map_or(Code::Unknown, Code::from_i32);
        if code == Code::Ok {
            return Some(Ok(()));
        }
        let message = fields
            .get("grpc-message")
            .map(|v| percent_decode(v.as_bytes()))
            .unwrap_or_default();
        Some(Err(Status::new(code, message)))
    }
}

/// Decodes `grpc-message`'s percent-encoding (invalid escapes are kept as they are).
pub fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (raw[i], raw.get(i + 1).copied(), raw.get(i + 2).copied()) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes text for `grpc-message` (percent-encodes everything outside printable ASCII and `%`).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_numbers_are_unknown() {
        for (i, c) in ALL.iter().enumerate() {
            assert_eq!(Code::from_i32(i as i32), *c);
            assert_eq!(c.as_i32(), i as i32);
        }
        assert_eq!(Code::from_i32(17), Code::Unknown);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
        assert_eq!(Code::from_http_status(404), Code::Unimplemented);
        assert_eq!(Code::from_http_status(503), Code::Unavailable);
    }

    #[test]
    fn status_from_trailers() {
        let mut t = http::HeaderMap::new();
        assert!(Status::from_fields(&t).is_none());
        t.insert("grpc-status", http::HeaderValue::from_static("0"));
        assert_eq!(Status::from_fields(&t), Some(Ok(())));
        t.insert("grpc-status", http::HeaderValue::from_static("5"));
        t.insert(
            "grpc-message",
            http::HeaderValue::from_static("no product 99 %E2%9C%93 100%"),
        );
        let st = Status::from_fields(&t).and_then(Result::err);
        assert_eq!(
            st,
            Some(Status::new(Code::NotFound, "no product 99 \u{2713} 100%"))
        );
        let text = st.map(|s| s.to_string()).unwrap_or_default();
        assert!(text.contains("StatusCode.NOT_FOUND"), "{text}");
        t.insert("grpc-status", http::HeaderValue::from_static("x"));
        assert!(matches!(
            Status::from_fields(&t),
            Some(Err(Status {
                code: Code::Unknown,
                ..
            }))
        ));
    }

    #[test]
    fn percent_encoding_round_trips() {
        let text = "50% off \u{2713}\n";
        assert_eq!(percent_decode(percent_encode(text).as_bytes()), text);
    }
}
