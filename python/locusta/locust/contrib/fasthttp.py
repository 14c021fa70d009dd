"""``FastHttpUser``: the same Rust client with FastHttpSession's differences — the default stats
name is the URL as passed, and only 2xx/3xx codes Locust lists count as success."""

from ..clients import ConnectionError, HttpSession  # noqa: A004
from ..exception import StopTest
from ..user.users import RestMixin, User

_SUCCESS = frozenset([200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 301, 302, 303, 304, 307, 308])


class LocustBadStatusCode(ConnectionError):
    """A status FastHttpSession does not count as success (its failure text is
    ``LocustBadStatusCode(code=404)``)."""

    def __init__(self, url=None, code=0):
        super().__init__(url)
        self.url = url
        self.code = code

    def __repr__(self):
        return f"{type(self).__name__}(code={self.code})"

    def __str__(self):
        return f"{self.url!r}, code={self.code}"


class FastHttpSession(HttpSession):
    """A user's client with FastHttpSession naming and success codes."""

    _ok_codes = _SUCCESS

    def _status_error(self, resp, name):
        if resp.status_code in _SUCCESS:
            return None
        return LocustBadStatusCode(resp.url, code=resp.status_code)

    def request(self, method, url, name=None, *args, **kwargs):
        if not name and not self.request_name:
            name = url
        return super().request(method, url, name, *args, **kwargs)


class FastHttpUser(User, RestMixin):
    """An HTTP user with geventhttpclient's semantics on the Rust client."""

    abstract = True
    network_timeout = 60.0
    connection_timeout = 60.0
    max_redirects = 30
    max_retries = 0
    insecure = True
    default_headers = None
    concurrency = 10
    proxy_host = None
    proxy_port = None
    client_pool = None
    ssl_context_factory = None

    def __init__(self, environment):
        super().__init__(environment)
        if self.host is None:
            raise StopTest(
                "You must specify the base host. Either in the host attribute in the User class, "
                "or on the command line using the --host option."
            )
        self.client = FastHttpSession(self.host, request_event=environment.events.request, user=self)
        self.client.verify = not self.insecure
        if self.default_headers:
            self.client.headers.update(self.default_headers)
