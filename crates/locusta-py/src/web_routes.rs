//! The Python end of the web UI's forwarded requests: requests for paths the UI does not serve
//! wait here until the gevent hub takes them and runs the locustfile's Flask app
//! (`environment.web_ui.app`) on them.
//!
//! The server's threads push requests and write an eventfd when the queue was empty; a gevent
//! io watcher on that fd wakes a greenlet that takes the batch (python/locusta/locust/web.py).
//! Each request is answered from Python with `respond`, which hands the answer back to the
//! waiting server task.

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

use locusta_util::lock;
use locusta_web::{ForwardedRequest, ForwardedResponse, Forwarder};
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Requests waiting for the hub, and the eventfd that wakes it.
struct Queue {
    waiting: Mutex<Vec<ForwardedRequest>>,
    efd: RawFd,
}

impl Forwarder for Queue {
    fn forward(&self, request: ForwardedRequest) {
        let was_empty = {
            let mut waiting = lock(&self.waiting);
            waiting.push(request);
            waiting.len() == 1
        };
        if was_empty {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a valid u64 to our own eventfd.
            unsafe {
                libc::write(self.efd, (&one as *const u64).cast(), 8);
            }
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: closes the eventfd this queue created and alone owns.
        unsafe {
            libc::close(self.efd);
        }
    }
}

/// Where the web UI leaves requests for the locustfile's own routes.
#[pyclass(module = "locusta._core", frozen)]
pub struct WebRoutes {
    queue: Arc<Queue>,
}

impl WebRoutes {
    /// The server's end, for the run controller.
    pub fn forwarder(&self) -> Arc<dyn Forwarder> {
        Arc::clone(&self.queue) as Arc<dyn Forwarder>
    }
}

#[pymethods]
impl WebRoutes {
    #[new]
    fn new() -> PyResult<Self> {
        // SAFETY: plain syscall; the result is checked.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(PyOSError::new_err(format!(
                "cannot create an eventfd: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(WebRoutes {
            queue: Arc::new(Queue {
                waiting: Mutex::new(Vec::new()),
                efd,
            }),
        })
    }

    /// The fd that turns readable when requests wait.
    fn fileno(&self) -> RawFd {
        self.queue.efd
    }

    /// Takes every waiting request (and clears the eventfd).
    fn take(&self) -> Vec<PendingRequest> {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a valid buffer from our nonblocking eventfd.
        unsafe {
            libc::read(self.queue.efd, buf.as_mut_ptr().cast(), 8);
        }
        std::mem::take(&mut *lock(&self.queue.waiting))
            .into_iter()
            .map(|r| PendingRequest {
                request: Mutex::new(Some(r)),
            })
            .collect()
    }
}

/// One request for the locustfile's routes, answered once with `respond`.
#[pyclass(module = "locusta._core", frozen)]
pub struct PendingRequest {
    request: Mutex<Option<ForwardedRequest>>,
}

impl PendingRequest {
    fn with<T>(&self, f: impl FnOnce(&ForwardedRequest) -> T) -> PyResult<T> {
        match lock(&self.request).as_ref() {
            Some(r) => Ok(f(r)),
            None => Err(PyRuntimeError::new_err("the request was answered already")),
        }
    }
}

#[pymethods]
impl PendingRequest {
    /// `(method, path, query)`; the path is percent-encoded as received.
    fn line(&self) -> PyResult<(String, String, String)> {
        self.with(|r| (r.method.clone(), r.path.clone(), r.query.clone()))
    }

    /// True when the server only asks whether the request may see the UI (`--web-login`).
    #[getter]
    fn auth_check(&self) -> PyResult<bool> {
        self.with(|r| r.auth_check)
    }

    /// Header names (lowercase) and values decoded as Latin-1, as WSGI wants them.
    fn headers(&self) -> PyResult<Vec<(String, String)>> {
        self.with(|r| {
            r.headers
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(|&b| b as char).collect()))
                .collect()
        })
    }

    /// The request body.
    fn body<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.with(|r| PyBytes::new(py, &r.body))
    }

    /// Sends the answer. Returns False when the client has gone (or waited too long).
    fn respond(&self, status: u16, headers: Vec<(String, String)>, body: &[u8]) -> PyResult<bool> {
        let Some(request) = lock(&self.request).take() else {
            return Err(PyRuntimeError::new_err("the request was answered already"));
        };
        Ok(request.respond(ForwardedResponse {
            status,
            headers,
            body: body.to_vec(),
        }))
    }
}
