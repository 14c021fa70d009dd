//! `json=` request bodies encoded in Rust, byte for byte what requests sends:
//! `json.dumps(obj, allow_nan=False)` (separators `", "` and `": "`, non-ASCII escaped as
//! `\uXXXX`, keys in insertion order).
//!
//! For the small bodies load tests post, most of `json.dumps`' cost is the Python around its C
//! encoder (a new encoder object per call). This encoder handles the types such bodies are made
//! of (dict, list, tuple, str, int, float, bool, None) and answers [`Encoded::Unsupported`] for
//! anything else: other types (Python's `TypeError`, or a `default`), dict subclasses (their
//! `items()` may differ), keys that are not str, NaN and infinities (`ValueError`), strings with
//! lone surrogates, nesting deeper than [`MAX_DEPTH`] (a circular reference, or Python's own
//! limit). The caller then encodes with Python's `json`, so results and exceptions are the same.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Deeper structures are left to Python (which detects circular references).
pub const MAX_DEPTH: usize = 64;

/// What encoding an object gave.
pub enum Encoded {
    /// The UTF-8 (ASCII) text `json.dumps` gives.
    Text(Vec<u8>),
    /// An object only Python's `json` can encode exactly (see the module doc).
    Unsupported,
}

struct Unsupported;

/// Encodes `obj` as `json.dumps(obj, allow_nan=False)`; an error only when a float's repr fails.
pub fn encode(obj: &Bound<'_, PyAny>) -> PyResult<Encoded> {
    let mut out = Vec::with_capacity(64);
    match value(obj, &mut out, 0)? {
        Ok(()) => Ok(Encoded::Text(out)),
        Err(Unsupported) => Ok(Encoded::Unsupported),
    }
}

fn value(
    obj: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    depth: usize,
) -> PyResult<Result<(), Unsupported>> {
    if obj.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(s) = obj.cast::<PyString>() {
        return Ok(string(s, out));
    } else if let Ok(b) = obj.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(i) = obj.cast::<PyInt>() {
        match i.extract::<i64>() {
            Ok(v) => out.extend_from_slice(v.to_string().as_bytes()),
            Err(_) => return Ok(Err(Unsupported)), // beyond i64: Python's int repr
        }
    } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
        let v = f.value();
        if !v.is_finite() {
            return Ok(Err(Unsupported)); // allow_nan=False: Python raises ValueError
        }
        // float.__repr__: the shortest text that reads back as the same double, Python's way
        out.extend_from_slice(f.repr()?.to_cow()?.as_bytes());
    } else if depth >= MAX_DEPTH {
        return Ok(Err(Unsupported));
    } else if let Ok(d) = obj.cast_exact::<PyDict>() {
        out.push(b'{');
        for (n, (k, v)) in d.iter().enumerate() {
            if n > 0 {
                out.extend_from_slice(b", ");
            }
            let Ok(k) = k.cast::<PyString>() else {
                return Ok(Err(Unsupported)); // int/float/bool/None keys: Python's conversions
            };
            if string(k, out).is_err() {
                return Ok(Err(Unsupported));
            }
            out.extend_from_slice(b": ");
            if value(&v, out, depth + 1)?.is_err() {
                return Ok(Err(Unsupported));
            }
        }
        out.push(b'}');
    } else if let Ok(l) = obj.cast::<PyList>() {
        return sequence(l.iter(), out, depth);
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        return sequence(t.iter(), out, depth);
    } else {
        return Ok(Err(Unsupported));
    }
    Ok(Ok(()))
}

fn sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> PyResult<Result<(), Unsupported>> {
    out.push(b'[');
    for (n, item) in items.enumerate() {
        if n > 0 {
            out.extend_from_slice(b", ");
        }
        if value(&item, out, depth + 1)?.is_err() {
            return Ok(Err(Unsupported));
        }
    }
    out.push(b']');
    Ok(Ok(()))
}

/// A string as `json.dumps` writes it with `ensure_ascii=True`: printable ASCII as is, `"` and
/// `\` and the usual control characters with their short escapes, everything else as `\uXXXX`
/// (lowercase hex; characters beyond the BMP as a surrogate pair).
fn string(s: &Bound<'_, PyString>, out: &mut Vec<u8>) -> Result<(), Unsupported> {
    let text = s.to_cow().map_err(|_| Unsupported)?; // lone surrogates: not UTF-8
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            ' '..='~' => out.push(c as u8),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    escape_unit(*unit, out);
                }
            }
        }
    }
    out.push(b'"');
    Ok(())
}

fn escape_unit(unit: u16, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)]);
    }
}

/// `_core.json_dumps_or(obj, fallback)`: `json.dumps(obj, allow_nan=False).encode()` made in
/// Rust (as bytes), or `fallback` when only Python's json module can encode `obj` exactly.
#[pyfunction]
pub fn json_dumps_or<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    fallback: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match encode(obj)? {
        Encoded::Text(text) => pyo3::types::PyBytes::new(py, &text).into_any(),
        Encoded::Unsupported => fallback,
    })
}
