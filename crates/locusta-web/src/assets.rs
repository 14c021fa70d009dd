//! The built page (HTML, JavaScript, CSS), embedded at compile time by `build.rs` so the binary
//! serves the UI with no files beside it and no CDN.

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The bytes of a built file by its path (`index.html`, `assets/index-abc123.js`).
pub fn get(path: &str) -> Option<&'static [u8]> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// The Content-Type to serve a file with.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// Paths of every embedded file.
pub fn list() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(p, _)| *p)
}
