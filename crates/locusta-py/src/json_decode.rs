//! `response.json()` decoded in Rust, straight from the response body into Python objects.
//!
//! Locustfiles that check what they receive call `.json()` on most responses, and with Python's
//! `json` module the decoding is often the largest single cost of a task. This decoder builds the
//! same objects as `json.loads` (dicts in document order with the last duplicate key's value,
//! lists, str, int, float, True/False/None) without first copying the body into a Python `str`.
//!
//! It decodes only what it can decode exactly as `json.loads` does and answers
//! [`Decoded::Unsupported`] for everything else: invalid JSON (so Python's `json` raises its own
//! `JSONDecodeError` with its message and position), `NaN`/`Infinity`, integers of more than 18
//! digits, lone surrogate escapes, control characters inside strings, nesting deeper than
//! [`MAX_DEPTH`]. The caller then runs `json.loads` on the text; results and exceptions are the
//! same either way.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

/// Deeper documents are left to `json.loads` (which raises RecursionError near Python's
/// recursion limit); this keeps the Rust stack small.
pub const MAX_DEPTH: usize = 200;

/// Integers with more digits may not fit in an i64; `json.loads` makes them arbitrary-precision
/// ints (or refuses them beyond Python's int digit limit).
const MAX_INT_DIGITS: usize = 18;

/// What decoding a text gave.
pub enum Decoded<'py> {
    /// The object `json.loads` returns.
    Value(Bound<'py, PyAny>),
    /// A text only `json.loads` can judge exactly (see the module doc).
    Unsupported,
}

/// The body as the text `response.text` would give, when that text is the body's bytes as they
/// are: UTF-8 (the charset of `content_type`, or none for a type that is not `text/*`) and valid,
/// or a Latin-1/ASCII charset with an all-ASCII body. None otherwise (another charset, invalid
/// UTF-8 that `.text` would replace): then `.text` must decode it in Python.
pub fn body_text<'a>(content_type: Option<&[u8]>, body: &'a [u8]) -> Option<&'a str> {
    let ascii_only = |body: &'a [u8]| {
        body.is_ascii()
            .then(|| std::str::from_utf8(body).ok())
            .flatten()
    };
    let Some(content_type) = content_type else {
        return std::str::from_utf8(body).ok();
    };
    match charset(content_type) {
        Some(Charset::Utf8) => std::str::from_utf8(body).ok(),
        Some(Charset::Latin1) => ascii_only(body),
        Some(Charset::Other) => None,
        // as `.text`: a text/* type without charset is ISO-8859-1, anything else UTF-8
        None if content_type.len() >= 5 && content_type[..5].eq_ignore_ascii_case(b"text/") => {
            ascii_only(body)
        }
        None => std::str::from_utf8(body).ok(),
    }
}

enum Charset {
    Utf8,
    Latin1,
    Other,
}

/// The `charset=` parameter of a Content-Type, found as `.text` finds it (the first
/// `charset=` anywhere, case-insensitive, up to `;` or whitespace, quotes stripped).
fn charset(content_type: &[u8]) -> Option<Charset> {
    const KEY: &[u8] = b"charset=";
    let at = content_type
        .windows(KEY.len())
        .position(|w| w.eq_ignore_ascii_case(KEY))?;
    let rest = &content_type[at + KEY.len()..];
    let end = rest
        .iter()
        .position(|&b| b == b';' || b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    let mut name = &rest[..end];
    while let [b'"' | b'\'', inner @ ..] = name {
        name = inner;
    }
    while let [inner @ .., b'"' | b'\''] = name {
        name = inner;
    }
    let is = |known: &[&[u8]]| known.iter().any(|k| name.eq_ignore_ascii_case(k));
    Some(if end == 0 {
        Charset::Other // an empty value: Python's search looks further; let it
    } else if is(&[b"utf-8", b"utf8"]) {
        Charset::Utf8
    } else if is(&[b"iso-8859-1", b"latin-1", b"latin1", b"us-ascii", b"ascii"]) {
        Charset::Latin1
    } else {
        Charset::Other
    })
}

/// Why decoding stopped early.
enum Stop {
    Unsupported,
    Python(PyErr),
}

impl From<PyErr> for Stop {
    fn from(e: PyErr) -> Self {
        Stop::Python(e)
    }
}

type Parsed<'py> = Result<Bound<'py, PyAny>, Stop>;

/// Decodes `text` as `json.loads(text)` would; an error only when Python cannot allocate.
pub fn decode<'py>(py: Python<'py>, text: &str) -> PyResult<Decoded<'py>> {
    let mut parser = Parser {
        py,
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        keys: Vec::new(),
        next_key: 0,
    };
    let value = match parser.value() {
        Ok(v) => v,
        Err(Stop::Unsupported) => return Ok(Decoded::Unsupported),
        Err(Stop::Python(e)) => return Err(e),
    };
    parser.skip_whitespace();
    if parser.pos != parser.bytes.len() {
        return Ok(Decoded::Unsupported); // "Extra data": json.loads says where
    }
    Ok(Decoded::Value(value))
}

struct Parser<'a, 'py> {
    py: Python<'py>,
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    /// Object keys already made in this document (json.loads shares equal keys too): a list
    /// of a thousand records makes each key once. Records repeat their keys in the same order,
    /// so the key after the last one found is tried first; then the (few) others.
    keys: Vec<(&'a str, Bound<'py, PyString>)>,
    /// Where the next key is expected in `keys`.
    next_key: usize,
}

impl<'a, 'py> Parser<'a, 'py> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// JSON's whitespace, the same four characters json.loads skips.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Parsed<'py> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => {
                self.pos += 1;
                Ok(self.string()?.into_any())
            }
            Some(b't') => self.literal("true", PyBool::new(self.py, true).to_owned().into_any()),
            Some(b'f') => self.literal("false", PyBool::new(self.py, false).to_owned().into_any()),
            Some(b'n') => self.literal("null", self.py.None().into_bound(self.py)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Stop::Unsupported), // NaN, Infinity, or not JSON
        }
    }

    fn literal(&mut self, word: &str, value: Bound<'py, PyAny>) -> Parsed<'py> {
        if !self.bytes[self.pos..].starts_with(word.as_bytes()) {
            return Err(Stop::Unsupported);
        }
        self.pos += word.len();
        Ok(value)
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Parsed<'py>) -> Parsed<'py> {
        if self.depth >= MAX_DEPTH {
            return Err(Stop::Unsupported);
        }
        self.depth += 1;
        self.pos += 1; // the opening bracket
        let parsed = parse(self);
        self.depth -= 1;
        parsed
    }

    fn object(&mut self) -> Parsed<'py> {
        let dict = PyDict::new(self.py);
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(dict.into_any());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(Stop::Unsupported);
            }
            self.pos += 1;
            let key = self.key()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(Stop::Unsupported);
            }
            self.pos += 1;
            let value = self.value()?;
            dict.set_item(key, value)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(dict.into_any());
                }
                _ => return Err(Stop::Unsupported),
            }
        }
    }

    fn array(&mut self) -> Parsed<'py> {
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(PyList::empty(self.py).into_any());
        }
        loop {
            items.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(PyList::new(self.py, items)?.into_any());
                }
                _ => return Err(Stop::Unsupported),
            }
        }
    }

    /// The end of a string without escapes starting at `self.pos` (the index of its closing
    /// quote), or None when it has escapes or control characters.
    fn plain_string_end(&self) -> Option<usize> {
        let at = self.pos + string_run(&self.bytes[self.pos..]);
        (self.bytes.get(at) == Some(&b'"')).then_some(at)
    }

    /// An object key (after its opening quote): the same object for equal keys.
    fn key(&mut self) -> Result<Bound<'py, PyString>, Stop> {
        let Some(end) = self.plain_string_end() else {
            return self.string();
        };
        let text = self.slice(self.pos, end)?;
        self.pos = end + 1;
        let expected = self.keys.get(self.next_key).or_else(|| self.keys.first());
        let found = match expected {
            Some((known, _)) if *known == text => Some(self.next_key % self.keys.len()),
            _ => self.keys.iter().position(|(known, _)| *known == text),
        };
        if let Some(at) = found {
            self.next_key = at + 1;
            return Ok(self.keys[at].1.clone());
        }
        let key = PyString::new(self.py, text);
        if self.keys.len() < MAX_SHARED_KEYS {
            self.keys.push((text, key.clone()));
            self.next_key = self.keys.len();
        }
        Ok(key)
    }

    /// A string (after its opening quote).
    fn string(&mut self) -> Result<Bound<'py, PyString>, Stop> {
        if let Some(end) = self.plain_string_end() {
            let text = self.slice(self.pos, end)?;
            self.pos = end + 1;
            return Ok(PyString::new(self.py, text));
        }
        let mut out = String::new();
        loop {
            let at = self.pos + string_run(&self.bytes[self.pos..]);
            out.push_str(self.slice(self.pos, at)?);
            self.pos = at + 1;
            match self.bytes.get(at) {
                Some(b'"') => return Ok(PyString::new(self.py, &out)),
                Some(b'\\') => self.escape(&mut out)?,
                // json.loads is strict about control characters; or the text ended
                _ => return Err(Stop::Unsupported),
            }
        }
    }

    /// One escape sequence (after its backslash), appended to `out`.
    fn escape(&mut self, out: &mut String) -> Result<(), Stop> {
        let c = self.peek().ok_or(Stop::Unsupported)?;
        self.pos += 1;
        let plain = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                let ch = if (0xD800..0xDC00).contains(&unit) {
                    // a high surrogate: only a following low one makes a character
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err(Stop::Unsupported);
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(Stop::Unsupported);
                    }
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                // a lone low surrogate is no char: json.loads keeps it, we cannot
                char::from_u32(ch).ok_or(Stop::Unsupported)?
            }
            _ => return Err(Stop::Unsupported),
        };
        out.push(plain);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Stop> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or(Stop::Unsupported)?;
        let mut unit = 0;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or(Stop::Unsupported)?;
            unit = unit * 16 + v;
        }
        self.pos += 4;
        Ok(unit)
    }

    /// A number with JSON's grammar: an int without fraction and exponent, else a float.
    fn number(&mut self) -> Parsed<'py> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Stop::Unsupported), // "-Infinity" or not a number
        }
        let int_digits = self.pos - int_start;
        let mut float = false;
        if self.peek() == Some(b'.') && self.bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit)
        {
            self.pos += 1;
            self.digits();
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            let mut at = self.pos + 1;
            if let Some(b'+' | b'-') = self.bytes.get(at) {
                at += 1;
            }
            if self.bytes.get(at).is_some_and(u8::is_ascii_digit) {
                self.pos = at;
                self.digits();
                float = true;
            }
        }
        let text = self.slice(start, self.pos)?;
        if float {
            // Rust's parse rounds correctly, as Python's float() does: the same double
            let v: f64 = text.parse().map_err(|_| Stop::Unsupported)?;
            return Ok(PyFloat::new(self.py, v).into_any());
        }
        if int_digits > MAX_INT_DIGITS {
            return Err(Stop::Unsupported);
        }
        let v: i64 = text.parse().map_err(|_| Stop::Unsupported)?;
        Ok(PyInt::new(self.py, v).into_any())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// `text[from..to]`; both ends sit next to ASCII delimiters, so always on char boundaries.
    fn slice(&self, from: usize, to: usize) -> Result<&'a str, Stop> {
        self.text.get(from..to).ok_or(Stop::Unsupported)
    }
}

/// Keys shared within a document, at most (records rarely have more fields; a document with
/// many distinct keys gets new objects for the rest, as its keys rarely repeat).
const MAX_SHARED_KEYS: usize = 48;

/// The length of the run of plain string characters at the start of `bytes`: up to the first
/// `"`, `\\` or control character (or the end). Strings in API responses are mostly short, where
/// a plain loop beats a vectorised search's set-up.
fn string_run(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len())
}

/// `_core.json_loads_or(data, fallback)`: `json.loads(data)` decoded in Rust (`data` a str, or
/// UTF-8 bytes), or `fallback` when only Python's json module can decide. For tests and for
/// bodies read in Python (streamed responses).
#[pyfunction]
pub fn json_loads_or<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    fallback: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let decoded = if let Ok(text) = data.cast::<PyString>() {
        match text.to_cow() {
            Ok(text) => decode(py, &text)?,
            Err(_) => Decoded::Unsupported, // lone surrogates: not UTF-8
        }
    } else if let Ok(bytes) = data.cast::<pyo3::types::PyBytes>() {
        match std::str::from_utf8(bytes.as_bytes()) {
            Ok(text) => decode(py, text)?,
            Err(_) => Decoded::Unsupported,
        }
    } else {
        Decoded::Unsupported
    };
    Ok(match decoded {
        Decoded::Value(v) => v,
        Decoded::Unsupported => fallback,
    })
}
