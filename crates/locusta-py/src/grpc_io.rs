//! `locusta._core.GrpcChannelCore` and `grpc_submit`: the Rust half of `locust.contrib.grpc`.
//!
//! A channel is one user's HTTP/2 session to a gRPC target ([`locusta_grpc`]); a call is an
//! `HttpIo` job like a request (queued with the parked greenlet as its waiter, run on the
//! runtime, handed back by `drain`), so gRPC users share the HTTP users' I/O runtime and wake-ups.
//! Messages cross as bytes: the Python side serializes with the stubs' own serializers.

use std::sync::Arc;
use std::time::Duration;

use locusta_grpc::{CallOptions, ResponseStream};
use locusta_http::{Http2Mode, Session, SessionOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::http_io::{HttpIo, ToPython};

/// One user's gRPC channel: an HTTP/2 session to its target.
#[pyclass(module = "locusta._core", frozen)]
pub struct GrpcChannelCore {
    session: Arc<Session>,
}

#[pymethods]
impl GrpcChannelCore {
    /// A channel to `target` (`host:port`, or an `http://` / `https://` URL) on `io`'s client.
    /// `verify`: check the server's certificate for `https://` (default: yes).
    #[new]
    #[pyo3(signature = (io, target, verify=None))]
    fn new(io: &HttpIo, target: &str, verify: Option<bool>) -> PyResult<Self> {
        if target.trim().is_empty() {
            return Err(PyValueError::new_err(
                "a gRPC channel needs a target: \"host:port\" (e.g. \"localhost:50051\")",
            ));
        }
        let options = SessionOptions {
            http2: Some(Http2Mode::PriorKnowledge),
            verify_tls: verify,
            ..SessionOptions::default()
        };
        let url = locusta_grpc::target_url(target);
        let session = io
            .client()
            .session_with(Some(&url), options, None)
            .map_err(|e| PyValueError::new_err(format!("gRPC target {target:?}: {e}")))?;
        Ok(GrpcChannelCore {
            session: Arc::new(session),
        })
    }

    /// Closes the channel's connection (a later call opens a new one).
    fn close(&self) {
        self.session.close_connections();
    }
}

/// How a call ended, as plain data until the hub makes it Python.
struct CallResult {
    messages: Vec<bytes::Bytes>,
    /// 0 for OK, else the status code.
    code: i32,
    details: String,
    elapsed: Duration,
    response_length: u64,
}

impl ToPython for CallResult {
    /// `(messages: list[bytes], code: int, details: str, response_time_ms: float,
    /// response_length: int)`.
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let messages = PyList::new(py, self.messages.iter().map(|m| PyBytes::new(py, m)))?;
        let ms = self.elapsed.as_secs_f64() * 1000.0;
        Ok(
            (messages, self.code, self.details, ms, self.response_length)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
        )
    }
}

/// Queues a call of `method` (`/package.Service/Method`) with the serialized `request` for
/// `waiter`; returns its token. Unary calls (`streaming` false) must answer one message;
/// server-streaming calls are read to their end. It completes with `(messages, code, details,
/// response_time_ms, response_length)`.
#[pyfunction]
#[pyo3(signature = (io, channel, waiter, method, request, timeout=None, metadata=None, streaming=false))]
#[allow(clippy::too_many_arguments)]
pub fn grpc_submit(
    io: &HttpIo,
    channel: &GrpcChannelCore,
    waiter: Py<PyAny>,
    method: String,
    request: Vec<u8>,
    timeout: Option<f64>,
    metadata: Option<Vec<(String, String)>>,
    streaming: bool,
) -> PyResult<u64> {
    let timeout = match timeout {
        None => None,
        Some(t) if t.is_finite() && t > 0.0 => Some(Duration::from_secs_f64(t)),
        Some(t) => {
            return Err(PyValueError::new_err(format!(
                "timeout must be a positive number of seconds, not {t}"
            )))
        }
    };
    let options = CallOptions {
        timeout,
        metadata: metadata.unwrap_or_default(),
        ..CallOptions::default()
    };
    let session = Arc::clone(&channel.session);
    let job = Box::pin(async move {
        let mut call = ResponseStream::start(&session, &method, &request, &options).await;
        let messages = if streaming {
            call.collect().await
        } else {
            call.single().await.map(|m| vec![m])
        };
        let (messages, code, details) = match messages {
            Ok(m) => (m, 0, String::new()),
            Err(status) => (Vec::new(), status.code.as_i32(), status.message),
        };
        Box::new(CallResult {
            messages,
            code,
            details,
            elapsed: call.elapsed(),
            response_length: call.response_length(),
        }) as Box<dyn ToPython>
    });
    Ok(io.queue_other(waiter, job))
}
