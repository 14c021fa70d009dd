//! `locusta._core.WsConn` and `ws_connect`: the WebSocket connections of Python users
//! (`locust.contrib.websocket.WebSocketUser`), run by the HTTP I/O runtime like requests.
//!
//! Each operation is a job of [`HttpIo`] ([`HttpIo::queue_future`]): the calling greenlet parks
//! until it completes, and the hub hands it a plain tuple. Connection, frames and timing live
//! in Rust (`locusta_http::WebSocket`); recording is left to the Python side, which fires
//! Locust's `events.request` (the statistics are one of its listeners) with the times measured
//! here. A connection is shared by the greenlets of its user: a receive waiting in one does not
//! hold up a send from another.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use locusta_http::{WebSocket, WsConnectOptions, WsError, WsMessage};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::http_io::{HttpIo, OtherOutput, SessionCore};

/// One open WebSocket connection of a Python user.
#[pyclass(module = "locusta._core", frozen)]
pub struct WsConn {
    inner: Arc<WebSocket>,
}

/// What the Python side needs of a failure: the exception kind and its message.
fn error_parts(e: &WsError) -> (&'static str, String) {
    match e {
        WsError::Connect(h) if h.is_timeout() => ("connect_timeout", h.to_string()),
        WsError::Connect(h) if h.is_invalid_url() => ("invalid_url", h.to_string()),
        WsError::Connect(h) => ("connect", h.to_string()),
        WsError::Handshake { status, reason } => {
            ("handshake", format!("Handshake status {status} {reason}"))
        }
        WsError::Timeout(t) => (
            "timeout",
            format!("no message within {:.3} s", t.as_secs_f64()),
        ),
        WsError::Closed { .. } => {
            let text = e.to_string();
            let plain = text.strip_prefix("WebSocketClosed: ").unwrap_or(&text);
            ("closed", plain.to_owned())
        }
        WsError::Protocol(m) => ("protocol", m.clone()),
        WsError::Io(m) => ("io", m.clone()),
    }
}

/// Seconds as a duration; `None` for none, an error for a negative or non-finite value.
fn limit(what: &str, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{what} must be a non-negative number of seconds, not {s}"
        ))),
    }
}

/// `(elapsed seconds, value, error kind or None, error message or None)` for the hub.
fn tuple_output<T>(elapsed: Duration, result: Result<T, WsError>) -> OtherOutput
where
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    Box::new(move |py| {
        let secs = elapsed.as_secs_f64();
        let out = match result {
            Ok(value) => (secs, value, None::<&str>, None::<String>).into_pyobject(py)?,
            Err(e) => {
                let (kind, message) = error_parts(&e);
                (secs, py.None(), Some(kind), Some(message)).into_pyobject(py)?
            }
        };
        Ok(out.into_any().unbind())
    })
}

/// Queues opening a connection to `url` (a path joined to the session's host, or `ws://` /
/// `wss://`) for `waiter`; it completes with `(elapsed, WsConn or None, kind, message)`.
#[pyfunction]
#[pyo3(signature = (io, session, waiter, url, headers=Vec::new(), subprotocols=Vec::new(), timeout=None))]
pub fn ws_connect(
    io: &HttpIo,
    session: &SessionCore,
    waiter: Py<PyAny>,
    url: String,
    headers: Vec<(String, String)>,
    subprotocols: Vec<String>,
    timeout: Option<f64>,
) -> PyResult<u64> {
    let options = WsConnectOptions {
        headers,
        subprotocols,
        timeout: limit("timeout", timeout)?,
    };
    let session = Arc::clone(session.session());
    Ok(io.queue_future(waiter, async move {
        let started = Instant::now();
        let result = Box::pin(session.websocket(&url, &options)).await;
        let elapsed = started.elapsed();
        match result {
            Ok(socket) => {
                let conn = WsConn {
                    inner: Arc::new(socket),
                };
                Box::new(move |py: Python<'_>| {
                    let conn = Py::new(py, conn)?;
                    let out = (elapsed.as_secs_f64(), conn, None::<&str>, None::<String>)
                        .into_pyobject(py)?;
                    Ok(out.into_any().unbind())
                }) as OtherOutput
            }
            Err(e) => tuple_output::<()>(elapsed, Err(e)),
        }
    }))
}

/// A received message as Python sees it: `str` for text, `bytes` for binary.
struct Received(WsMessage);

impl<'py> IntoPyObject<'py> for Received {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.0 {
            WsMessage::Text(t) => PyString::new(py, &t).into_any(),
            WsMessage::Binary(b) => PyBytes::new(py, &b).into_any(),
        })
    }
}

#[pymethods]
impl WsConn {
    /// The subprotocol the server chose, or None.
    #[getter]
    fn protocol(&self) -> Option<&str> {
        self.inner.protocol()
    }

    /// Whether the connection is closed.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Ends the connection at once, without a closing handshake (a stopping user's
    /// connections): the socket is shut down and every operation fails as closed. Nothing
    /// happens when it is closed already.
    fn abort(&self) {
        self.inner.abort();
    }

    /// Queues sending `data` (`str`: a text message, `bytes`: binary); completes with
    /// `(elapsed, None, kind, message)`.
    fn submit_send(
        &self,
        io: &HttpIo,
        waiter: Py<PyAny>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let message = if data.is_instance_of::<PyString>() {
            WsMessage::Text(data.extract::<String>()?)
        } else if let Ok(bytes) = data.cast::<PyBytes>() {
            WsMessage::Binary(Bytes::copy_from_slice(bytes.as_bytes()))
        } else {
            return Err(PyTypeError::new_err(format!(
                "a WebSocket message is str (text) or bytes (binary), not {}",
                data.get_type().name()?
            )));
        };
        let socket = Arc::clone(&self.inner);
        Ok(io.queue_future(waiter, async move {
            let started = Instant::now();
            let result = socket.send(message).await;
            tuple_output(started.elapsed(), result)
        }))
    }

    /// Queues waiting for the next message (at most `timeout` seconds); completes with
    /// `(elapsed, str or bytes or None, kind, message)`.
    #[pyo3(signature = (io, waiter, timeout=None))]
    fn submit_recv(&self, io: &HttpIo, waiter: Py<PyAny>, timeout: Option<f64>) -> PyResult<u64> {
        let timeout = limit("timeout", timeout)?;
        let socket = Arc::clone(&self.inner);
        Ok(io.queue_future(waiter, async move {
            let started = Instant::now();
            let result = socket.recv(timeout).await.map(Received);
            tuple_output(started.elapsed(), result)
        }))
    }

    /// Queues a ping waiting for its pong (at most `timeout` seconds); completes with
    /// `(elapsed, None, kind, message)`.
    #[pyo3(signature = (io, waiter, timeout=None))]
    fn submit_ping(&self, io: &HttpIo, waiter: Py<PyAny>, timeout: Option<f64>) -> PyResult<u64> {
        let timeout = limit("timeout", timeout)?;
        let socket = Arc::clone(&self.inner);
        Ok(io.queue_future(waiter, async move {
            let started = Instant::now();
            let result = socket
                .ping(Bytes::from_static(b"locusta"), timeout)
                .await
                .map(|_| ());
            tuple_output(started.elapsed(), result)
        }))
    }

    /// Queues a closing handshake (at most `timeout` seconds, default 5); completes with
    /// `(elapsed, None, kind, message)`.
    #[pyo3(signature = (io, waiter, timeout=None))]
    fn submit_close(&self, io: &HttpIo, waiter: Py<PyAny>, timeout: Option<f64>) -> PyResult<u64> {
        let timeout = limit("timeout", timeout)?;
        let socket = Arc::clone(&self.inner);
        Ok(io.queue_future(waiter, async move {
            let started = Instant::now();
            let result = socket.close(timeout).await;
            tuple_output(started.elapsed(), result)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_keep_their_kind_and_a_plain_message() {
        let (kind, message) = error_parts(&WsError::Handshake {
            status: 404,
            reason: "Not Found".into(),
        });
        assert_eq!(
            (kind, message.as_str()),
            ("handshake", "Handshake status 404 Not Found")
        );
        let (kind, message) = error_parts(&WsError::Timeout(Duration::from_millis(1500)));
        assert_eq!(
            (kind, message.as_str()),
            ("timeout", "no message within 1.500 s")
        );
        assert!(limit("timeout", Some(-1.0)).is_err());
        assert_eq!(
            limit("timeout", Some(0.5)).ok().flatten(),
            Some(Duration::from_millis(500))
        );
    }
}
