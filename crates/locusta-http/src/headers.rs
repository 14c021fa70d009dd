//! Response headers that become a `HeaderMap` only when somebody reads them.
//!
//! Most requests of a load test never look at their response headers, yet building a
//! `HeaderMap` (two allocations, a hash and a reference-counted slice per header line, and as
//! much again to drop it) cost about as much as parsing the whole response head. The lean driver
//! keeps the head's bytes instead, answers the few questions the client itself asks while it
//! parses (body framing, keep-alive, whether cookies or a content coding are there), and the map
//! is built from the kept bytes on first use, exactly as it would have been built at once.

use std::fmt;
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Most header lines accepted in a response head (hyper's default too).
pub(crate) const MAX_HEADERS: usize = 100;

/// The headers of a response. Dereferences to a [`HeaderMap`], built on first use.
#[derive(Clone, Default)]
pub struct ResponseHeaders {
    map: OnceLock<HeaderMap>,
    /// The response head (status line, header lines, empty line) the map is built from; empty
    /// when the map was given.
    head: Bytes,
    /// A `Set-Cookie` line may be there.
    has_cookies: bool,
    /// A `Content-Encoding` line may be there.
    has_coding: bool,
}

impl ResponseHeaders {
    /// Headers already in a map (hyper's driver).
    pub fn from_map(map: HeaderMap) -> Self {
        let has_cookies = map.contains_key(http::header::SET_COOKIE);
        let has_coding = map.contains_key(http::header::CONTENT_ENCODING);
        ResponseHeaders {
            map: OnceLock::from(map),
            head: Bytes::new(),
            has_cookies,
            has_coding,
        }
    }

    /// Headers of `head`, a complete response head that httparse accepted, whose header names
    /// were noted in `seen`.
    pub(crate) fn from_head(head: Bytes, seen: NamesSeen) -> Self {
        ResponseHeaders {
            map: OnceLock::new(),
            head,
            has_cookies: seen.cookies,
            has_coding: seen.coding,
        }
    }

    /// The headers as a map.
    pub fn map(&self) -> &HeaderMap {
        self.map.get_or_init(|| map_of_head(&self.head))
    }

    /// The headers as a map, owned.
    pub fn into_map(mut self) -> HeaderMap {
        self.map.take().unwrap_or_else(|| map_of_head(&self.head))
    }

    /// False when no `Set-Cookie` line is there (then the map need not be built to know).
    pub(crate) fn may_set_cookies(&self) -> bool {
        self.has_cookies
    }

    /// False when no `Content-Encoding` line is there.
    pub(crate) fn may_be_encoded(&self) -> bool {
        self.has_coding
    }
}

impl Deref for ResponseHeaders {
    type Target = HeaderMap;

    fn deref(&self) -> &HeaderMap {
        self.map()
    }
}

impl From<HeaderMap> for ResponseHeaders {
    fn from(map: HeaderMap) -> Self {
        ResponseHeaders::from_map(map)
    }
}

impl fmt::Debug for ResponseHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.map().fmt(f)
    }
}

/// Which of the header names the client looks for itself a head has (noted while it is parsed).
#[derive(Clone, Copy, Default)]
pub(crate) struct NamesSeen {
    cookies: bool,
    coding: bool,
}

impl NamesSeen {
    pub(crate) fn note(&mut self, name: &[u8]) {
        self.cookies |= name.eq_ignore_ascii_case(b"set-cookie");
        self.coding |= name.eq_ignore_ascii_case(b"content-encoding");
    }
}

/// Whether `value` is kept by `HeaderValue` (no control characters but tab).
pub(crate) fn valid_value(value: &[u8]) -> bool {
    value.iter().all(|&b| (b >= 32 && b != 127) || b == b'\t')
}

/// The map of a response head: every line with a valid name and value, in order; values share
/// `head`'s bytes.
fn map_of_head(head: &Bytes) -> HeaderMap {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    if head.is_empty()
        || httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut res, head, &mut slots)
            .is_err()
    {
        return HeaderMap::new();
    }
    let mut map = HeaderMap::with_capacity(res.headers.len());
    for h in res.headers.iter() {
        let Ok(name) = HeaderName::from_bytes(h.name.as_bytes()) else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_maybe_shared(head.slice_ref(h.value)) {
            map.append(name, value);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(head: &'static [u8]) -> ResponseHeaders {
        let mut slots = [httparse::EMPTY_HEADER; 16];
        let mut res = httparse::Response::new(&mut slots);
        assert!(res.parse(head).expect("head").is_complete());
        let mut seen = NamesSeen::default();
        for h in res.headers.iter() {
            seen.note(h.name.as_bytes());
        }
        ResponseHeaders::from_head(Bytes::from_static(head), seen)
    }

    #[test]
    fn the_map_is_built_from_the_head_on_first_use() {
        let h = of(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nSet-Cookie: a=b\r\nx-a: 2\r\n\r\n");
        assert!(h.may_set_cookies());
        assert!(!h.may_be_encoded());
        assert_eq!(h.get_all("x-a").iter().count(), 2);
        assert_eq!(
            h.get("set-cookie").map(HeaderValue::as_bytes),
            Some(&b"a=b"[..])
        );
        assert_eq!(h.clone().into_map().len(), 3);
        let plain = of(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n");
        assert!(!plain.may_set_cookies());
        assert!(plain.may_be_encoded());
    }

    #[test]
    fn a_given_map_is_kept() {
        let mut m = HeaderMap::new();
        m.insert("content-encoding", HeaderValue::from_static("gzip"));
        let h = ResponseHeaders::from(m.clone());
        assert!(h.may_be_encoded() && !h.may_set_cookies());
        assert_eq!(h.map(), &m);
        assert!(ResponseHeaders::default().is_empty());
    }

    #[test]
    fn invalid_values_are_left_out_as_headermap_would() {
        assert!(valid_value(b"a\tb c"));
        assert!(!valid_value(b"a\x01"));
        assert!(!valid_value(b"a\x7f"));
    }
}
