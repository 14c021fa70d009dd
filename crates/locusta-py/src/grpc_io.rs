//! `locusta._core.GrpcChannelCore` and `grpc_submit`: the Rust half of `locust.contrib.grpc`.
//!
//! A channel is one user's HTTP/2 session to a gRPC target ([`locusta_grpc`]); a call is an
//! `HttpIo` job like a request (queued with the parked greenlet as its waiter, run on the
//! runtime, handed back by `drain`), so gRPC users share the HTTP users' I/O runtime and wake-ups.
//! Messages cross as bytes: the Python side serializes with the stubs' own serializers.
//! Client-streaming and bidirectional calls take the list of their request messages
//! (`stream_requests`), all sent as the call starts. The server's initial and trailing metadata
//! cross as `(name, raw value)` pairs; the Python side decodes `-bin` values from base64.
//!
//! A job ended by `HttpIo.cancel` (its greenlet was killed) drops its call: the stream is reset
//! and the connection stays for the channel's other calls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use locusta_grpc::{CallOptions, MetadataEntry, ResponseStream, Status};
use locusta_http::{Http2Mode, Session, SessionOptions};
use locusta_util::lock;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::http_io::{HttpIo, OtherOutput};

/// What a gRPC job ends with: plain Rust data until the hub turns it into Python.
trait ToPython: Send {
    /// The Python object handed to the waiting greenlet (built on the hub's thread).
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

/// Queues `job` on `io` for `waiter`: its result becomes Python on the hub.
fn queue(
    io: &HttpIo,
    waiter: Py<PyAny>,
    job: impl std::future::Future<Output = Box<dyn ToPython>> + Send + 'static,
) -> u64 {
    io.queue_future(waiter, async move {
        let result = job.await;
        Box::new(move |py: Python<'_>| result.to_python(py)) as OtherOutput
    })
}

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
    initial: Vec<MetadataEntry>,
    trailing: Vec<MetadataEntry>,
}

/// Metadata as a list of `(name: str, raw value: bytes)` pairs.
fn metadata_list<'py>(py: Python<'py>, entries: &[MetadataEntry]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(
        py,
        entries
            .iter()
            .map(|(name, value)| (name.as_str(), PyBytes::new(py, value))),
    )
}

impl ToPython for CallResult {
    /// `(messages: list[bytes], code: int, details: str, response_time_ms: float,
    /// response_length: int, initial_metadata, trailing_metadata)`, the metadata as lists of
    /// `(name, raw value)` pairs.
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let messages = PyList::new(py, self.messages.iter().map(|m| PyBytes::new(py, m)))?;
        let ms = self.elapsed.as_secs_f64() * 1000.0;
        let initial = metadata_list(py, &self.initial)?;
        let trailing = metadata_list(py, &self.trailing)?;
        Ok((
            messages,
            self.code,
            self.details,
            ms,
            self.response_length,
            initial,
            trailing,
        )
            .into_pyobject(py)?
            .into_any()
            .unbind())
    }
}

/// Starts a call: with `stream_requests` a client-streaming or bidirectional one (those
/// messages), else one with the single `request`.
async fn start(
    session: &Session,
    method: &str,
    request: &[u8],
    stream_requests: Option<&[Vec<u8>]>,
    options: &CallOptions,
) -> ResponseStream {
    match stream_requests {
        Some(all) => ResponseStream::start_streaming(session, method, all, options).await,
        None => ResponseStream::start(session, method, request, options).await,
    }
}

/// Queues a call of `method` (`/package.Service/Method`) with the serialized `request` (or,
/// for a client-streaming or bidirectional call, the serialized `stream_requests`) for
/// `waiter`; returns its token. Calls with a unary response (`streaming` false) must answer
/// one message; streamed responses are read to their end. It completes with `(messages, code,
/// details, response_time_ms, response_length, initial_metadata, trailing_metadata)`.
#[pyfunction]
#[pyo3(signature = (io, channel, waiter, method, request, timeout=None, metadata=None, streaming=false,
    stream_requests=None))]
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
    stream_requests: Option<Vec<Vec<u8>>>,
) -> PyResult<u64> {
    let options = call_options(timeout, metadata)?;
    let session = Arc::clone(&channel.session);
    let job = async move {
        let requests = stream_requests.as_deref();
        let mut call = start(&session, &method, &request, requests, &options).await;
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
            initial: call.initial_metadata().to_vec(),
            trailing: call.trailing_metadata().to_vec(),
        }) as Box<dyn ToPython>
    };
    Ok(queue(io, waiter, job))
}

/// A server-streaming call whose messages Python reads one by one as they arrive
/// ([`grpc_open`], then [`grpc_next`] for each message).
#[pyclass(module = "locusta._core", frozen)]
pub struct GrpcCallCore {
    /// The call; taken out while a job reads from it, put back after.
    call: Arc<Mutex<Option<ResponseStream>>>,
}

#[pymethods]
impl GrpcCallCore {
    /// `(code or None while it goes on, details, response_time_ms, response_length)`.
    fn summary(&self) -> (Option<i32>, String, f64, u64) {
        match lock(&self.call).as_ref() {
            Some(call) => {
                let (code, details) = match call.end() {
                    None => (None, String::new()),
                    Some(Ok(())) => (Some(0), String::new()),
                    Some(Err(s)) => (Some(s.code.as_i32()), s.message.clone()),
                };
                let ms = call.elapsed().as_secs_f64() * 1000.0;
                (code, details, ms, call.response_length())
            }
            None => (None, String::new(), 0.0, 0),
        }
    }

    /// `(initial_metadata, trailing_metadata)` as lists of `(name, raw value)` pairs (the
    /// trailing metadata once the call has ended).
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let call = lock(&self.call);
        let (initial, trailing) = match call.as_ref() {
            Some(c) => (c.initial_metadata(), c.trailing_metadata()),
            None => (&[][..], &[][..]),
        };
        Ok((metadata_list(py, initial)?, metadata_list(py, trailing)?))
    }

    /// Stops reading: the stream is reset (RST_STREAM) and its connection stays for other calls.
    fn cancel(&self) {
        lock(&self.call).take();
    }
}

struct Opened(Arc<Mutex<Option<ResponseStream>>>);

impl ToPython for Opened {
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, GrpcCallCore { call: self.0 })?.into_any())
    }
}

/// The next message of a streaming call: bytes, `None` at its OK end, `(code, details)` when it
/// ended otherwise.
struct Next(Result<Option<bytes::Bytes>, Status>);

impl ToPython for Next {
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self.0 {
            Ok(Some(m)) => PyBytes::new(py, &m).into_any().unbind(),
            Ok(None) => py.None(),
            Err(s) => (s.code.as_i32(), s.message)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
        })
    }
}

/// Queues the start of a call with a streamed response (server-streaming, or bidirectional
/// with `stream_requests`) for `waiter` (it completes with a `GrpcCallCore` once the response
/// head is in, or the call failed to start); returns its token.
#[pyfunction]
#[pyo3(signature = (io, channel, waiter, method, request, timeout=None, metadata=None, stream_requests=None))]
#[allow(clippy::too_many_arguments)]
pub fn grpc_open(
    io: &HttpIo,
    channel: &GrpcChannelCore,
    waiter: Py<PyAny>,
    method: String,
    request: Vec<u8>,
    timeout: Option<f64>,
    metadata: Option<Vec<(String, String)>>,
    stream_requests: Option<Vec<Vec<u8>>>,
) -> PyResult<u64> {
    let options = call_options(timeout, metadata)?;
    let session = Arc::clone(&channel.session);
    let job = async move {
        let requests = stream_requests.as_deref();
        let call = start(&session, &method, &request, requests, &options).await;
        Box::new(Opened(Arc::new(Mutex::new(Some(call))))) as Box<dyn ToPython>
    };
    Ok(queue(io, waiter, job))
}

/// Queues reading the next message of `call` for `waiter`; returns its token.
#[pyfunction]
pub fn grpc_next(io: &HttpIo, call: &GrpcCallCore, waiter: Py<PyAny>) -> u64 {
    let slot = Arc::clone(&call.call);
    let job = async move {
        let taken = lock(&slot).take();
        let next = match taken {
            Some(mut stream) => {
                let next = stream.message().await;
                *lock(&slot) = Some(stream);
                next
            }
            None => Ok(None),
        };
        Box::new(Next(next)) as Box<dyn ToPython>
    };
    queue(io, waiter, job)
}

fn call_options(
    timeout: Option<f64>,
    metadata: Option<Vec<(String, String)>>,
) -> PyResult<CallOptions> {
    let timeout = crate::http_io::seconds("timeout", timeout)?;
    Ok(CallOptions {
        timeout,
        metadata: metadata.unwrap_or_default(),
        ..CallOptions::default()
    })
}
