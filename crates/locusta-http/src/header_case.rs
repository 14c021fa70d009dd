//! How request header names are spelled on the wire.
//!
//! HTTP/1.1 header names are case-insensitive, but some servers, proxies and signature schemes
//! are not: requests (Locust's HttpUser) sends a name exactly as the user wrote it, and its own
//! headers in Title-Case (`User-Agent`, `Content-Type`). `http::HeaderName` keeps only the
//! lower-case form, so the spellings that differ from Title-Case are kept beside the header map
//! and looked up when the head is encoded.

use http::HeaderName;

/// Header names as written where they differ from Title-Case (usually none, and then no
/// allocation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Spellings(Vec<Box<str>>);

impl Spellings {
    /// Remembers how `written` was spelled (nothing to remember when it is Title-Case).
    pub(crate) fn remember(&mut self, written: &str) {
        if is_title_case(written) {
            self.forget(written);
            return;
        }
        match self.0.iter_mut().find(|s| s.eq_ignore_ascii_case(written)) {
            Some(s) => *s = written.into(),
            None => self.0.push(written.into()),
        }
    }

    /// Forgets the spelling of `name` (the header went away, or is spelled in Title-Case now).
    pub(crate) fn forget(&mut self, name: &str) {
        self.0.retain(|s| !s.eq_ignore_ascii_case(name));
    }

    /// Whether nothing is remembered.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `self`'s spellings, then `other`'s where `self` has none for a name.
    pub(crate) fn merged(&self, other: &Spellings) -> Spellings {
        if other.is_empty() {
            return self.clone();
        }
        let mut out = self.clone();
        for s in &other.0 {
            if !out.0.iter().any(|o| o.eq_ignore_ascii_case(s)) {
                out.0.push(s.clone());
            }
        }
        out
    }

    /// Appends `name` to `buf` as it was written, or in Title-Case.
    pub(crate) fn write_name(&self, buf: &mut impl Extend<u8>, name: &HeaderName) {
        let lower = name.as_str();
        if let Some(s) = self.0.iter().find(|s| s.eq_ignore_ascii_case(lower)) {
            buf.extend(s.bytes());
        } else {
            write_title_case(buf, lower);
        }
    }
}

/// `content-type` → `Content-Type`: upper case at the start and after each `-`.
fn write_title_case(buf: &mut impl Extend<u8>, lower: &str) {
    let mut upper_next = true;
    buf.extend(lower.bytes().map(|b| {
        let out = if upper_next {
            b.to_ascii_uppercase()
        } else {
            b
        };
        upper_next = b == b'-';
        out
    }));
}

fn is_title_case(name: &str) -> bool {
    let mut upper_next = true;
    name.bytes().all(|b| {
        let ok = if upper_next {
            !b.is_ascii_lowercase()
        } else {
            !b.is_ascii_uppercase()
        };
        upper_next = b == b'-';
        ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(s: &Spellings, name: &str) -> String {
        let mut buf = Vec::new();
        s.write_name(&mut buf, &HeaderName::from_bytes(name.as_bytes()).unwrap());
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn names_go_out_as_written_else_in_title_case() {
        let mut s = Spellings::default();
        assert_eq!(spelled(&s, "content-type"), "Content-Type");
        assert_eq!(spelled(&s, "x-request-id"), "X-Request-Id");
        s.remember("x-lower-case");
        s.remember("X-API-KEY");
        s.remember("Content-Type");
        assert_eq!(spelled(&s, "x-lower-case"), "x-lower-case");
        assert_eq!(spelled(&s, "x-api-key"), "X-API-KEY");
        assert_eq!(spelled(&s, "content-type"), "Content-Type");
        assert_eq!(s.0.len(), 2, "Title-Case spellings need no entry");
        s.remember("X-Api-Key");
        assert_eq!(spelled(&s, "x-api-key"), "X-Api-Key");
        s.forget("X-LOWER-CASE");
        assert_eq!(spelled(&s, "x-lower-case"), "X-Lower-Case");
        assert!(s.is_empty());
    }

    #[test]
    fn a_requests_spelling_wins_over_the_sessions() {
        let mut request = Spellings::default();
        request.remember("x-team");
        let mut session = Spellings::default();
        session.remember("X-TEAM");
        session.remember("x-other");
        let m = request.merged(&session);
        assert_eq!(spelled(&m, "x-team"), "x-team");
        assert_eq!(spelled(&m, "x-other"), "x-other");
    }
}
