"""Serving the app over HTTP: gunicorn (one process per core) or waitress (one process).

``hub serve`` and ``hub demo`` call :func:`serve`. Both servers get the same bounds,
from the ``HUB_SERVE_*`` settings (:func:`hub.config.serve_settings`), so a client cannot
starve the others by opening connections and sending nothing (or half a request):

- at most ``max_connections`` open connections per server process; beyond that the
  listening socket's backlog holds new ones;
- a connection that stays silent for ``idle_timeout`` seconds (between two requests, or
  before its request line and headers are complete) is closed;
- a request whose line and headers exceed ``max_header_bytes`` is refused (400/431).

gunicorn runs gevent workers (:class:`HubGeventWorker`): each connection is a greenlet,
so a half-open connection holds a few kilobytes, not a thread, and gunicorn bounds the
time to read a request's head with its ``keepalive`` timeout. A worker serves its ready
connections in turn, one request each (after every answer it yields until the event
loop is idle, so it has looked at its sockets). Its threaded worker
(``gthread``) is not used: a connection that sends part of its request and then nothing
holds one of the worker's threads until the client gives up (gunicorn 27 reads the rest of
the head with a blocking ``recv`` and no timeout), so a few dozen such connections starve
every other client. waitress reads requests in its event loop and hands only complete
ones to its threads; ``connection_limit`` and ``channel_timeout`` bound it.

Each gunicorn worker builds its own app (``create_app``) after gevent has patched the
standard library, so the catalogue's refresh and the stopped-job sweeper run per process
as they do under waitress. gunicorn restarts a worker that dies.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

#: The servers ``hub serve --server`` accepts.
SERVERS = ("gunicorn", "waitress")

#: Seconds gunicorn gives its workers to finish the requests in hand when asked to stop.
GRACEFUL_SECONDS = 10

#: Seconds a gunicorn worker may go without a heartbeat (a request keeping it busy, a
#: greenlet that never yields) before the master kills and replaces it.
WORKER_TIMEOUT_SECONDS = 60

#: The longest request line gunicorn accepts (its own limit: 8190 bytes).
GUNICORN_MAX_REQUEST_LINE = 8190


@dataclass(frozen=True)
class ServeBounds:
    """Bounds on clients, the same under either server.

    ``max_connections``: open connections per server process (a count);
    ``idle_timeout``: whole seconds a connection may stay silent, between requests or
    while sending a request's line and headers; ``max_header_bytes``: bytes of a
    request's line and headers (gunicorn caps the line at min(this, 8190) and each header
    field at this, 100 fields at most; waitress caps them together).
    """

    max_connections: int = 1000
    idle_timeout: int = 10
    max_header_bytes: int = 16384

    @classmethod
    def from_config(cls, config: Any) -> ServeBounds:
        """The bounds of an app's config (the ``SERVE_*`` keys ``load_settings`` sets)."""
        return cls(
            max_connections=int(config.get("SERVE_MAX_CONNECTIONS", cls.max_connections)),
            idle_timeout=int(config.get("SERVE_IDLE_TIMEOUT", cls.idle_timeout)),
            max_header_bytes=int(config.get("SERVE_MAX_HEADER_BYTES", cls.max_header_bytes)),
        )


def default_server() -> str:
    """gunicorn where it runs (POSIX: it forks; installed with gevent), else waitress."""
    return "gunicorn" if GUNICORN else "waitress"


def default_workers() -> int:
    """One gunicorn worker per CPU this process may use."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def serve(
    app: Flask,
    *,
    host: str,
    port: int,
    server: str,
    workers: int,
    threads: int,
    ready: Callable[[str], None],
) -> None:
    """Serve ``app``'s settings on ``host``:``port`` until SIGTERM or Ctrl+C.

    ``server`` is one of :data:`SERVERS`; ``workers`` (gunicorn) is the number of worker
    processes, each building its own app from the environment as ``app`` was built;
    ``threads`` (waitress) the number of threads running requests. ``ready`` is called
    with the URL once the port is bound (connections are accepted from then on), before
    the first request. Raises ValueError for an unknown server or gunicorn where it
    cannot run; waitress raises OSError when the port cannot be bound, gunicorn says so
    in its log and exits with status 1.
    """
    from hub.policy.engine import tune_allocator

    bounds = ServeBounds.from_config(app.config)
    tune_allocator()  # a long-running server: keep the engine's heap pages (forks inherit it)
    url = f"http://{host}:{port}"
    if server == "waitress":
        freeze_heap()
        _serve_waitress(app, host, port, threads, bounds, lambda: ready(url))
    elif server == "gunicorn":
        if not GUNICORN:
            raise ValueError("gunicorn cannot run here (it needs fork): use waitress")
        from hub.db import get_engine

        # The workers build their own apps (and connection pools): none is shared
        # across fork.
        get_engine(app).dispose()
        HubGunicorn(
            bind=f"{host}:{port}", workers=workers, bounds=bounds, ready=lambda: ready(url)
        ).run()
    else:
        raise ValueError(f"unknown server {server!r}: use one of {', '.join(SERVERS)}")


def freeze_heap() -> None:
    """Collect the garbage of start-up, then keep what is left (modules, the compiled
    policies, templates: some hundred thousand objects that live as long as the process)
    out of every later collection (``gc.freeze``). A full collection then walks only what
    requests made since, and so takes a fraction of the time it took with them (a worker
    answers none of its connections while it runs)."""
    import gc

    gc.collect()
    gc.freeze()


def waitress_options(bounds: ServeBounds, threads: int) -> dict[str, Any]:
    """waitress's ``create_server`` keywords for ``bounds``."""
    return {
        "threads": threads,
        "ident": "hub",
        "connection_limit": bounds.max_connections,
        "channel_timeout": bounds.idle_timeout,
        # Look for silent channels every second (the event loop wakes at least that often).
        "cleanup_interval": 1,
        "max_request_header_size": bounds.max_header_bytes,
        # select() stops at file descriptor 1024; poll() has no such limit.
        "asyncore_use_poll": True,
    }


def _serve_waitress(
    app: Flask,
    host: str,
    port: int,
    threads: int,
    bounds: ServeBounds,
    ready: Callable[[], None],
) -> None:
    import signal
    import threading

    from waitress.server import create_server

    # Bind first, then say so: a client that reads the line and connects is never refused.
    server = create_server(app, host=host, port=port, **waitress_options(bounds, threads))
    # SIGTERM stops the server as Ctrl+C does (exit status 0, `finally` blocks run).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit) if main_thread else None
    ready()
    try:
        server.run()
    finally:
        server.close()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _exit(_signal: int, _frame: Any) -> None:
    sys.exit(0)


def gunicorn_options(bind: str, workers: int, bounds: ServeBounds) -> dict[str, Any]:
    """gunicorn's settings for ``bounds``: gevent workers (:class:`HubGeventWorker`)."""
    return {
        "bind": [bind],
        "workers": workers,
        "worker_class": "hub.serving.HubGeventWorker",
        "worker_connections": bounds.max_connections,
        # The gevent worker reads each request's line and headers under a deadline of
        # `keepalive` seconds, and closes a kept-alive connection silent that long.
        "keepalive": bounds.idle_timeout,
        "limit_request_line": min(bounds.max_header_bytes, GUNICORN_MAX_REQUEST_LINE),
        "limit_request_field_size": bounds.max_header_bytes,
        "timeout": WORKER_TIMEOUT_SECONDS,
        "graceful_timeout": GRACEFUL_SECONDS,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "hub",
        # No `gunicornc` control socket: one fixed path per user, which several servers
        # on a machine would fight over.
        "control_socket_disable": True,
    }


try:
    import gevent  # type: ignore[import-untyped]  # (types-gevent is not installed)
    from gunicorn.app.base import BaseApplication
    from gunicorn.workers.ggevent import GeventWorker
except ImportError:  # pragma: no cover - gunicorn/gevent not installed: waitress only
    GUNICORN = False
else:
    GUNICORN = True

    class HubGunicorn(BaseApplication):
        """gunicorn started from ``hub serve``: settings from :func:`gunicorn_options`,
        and ``ready`` called in the master once the port is bound."""

        def __init__(
            self, *, bind: str, workers: int, bounds: ServeBounds, ready: Callable[[], None]
        ) -> None:
            self.options = gunicorn_options(bind, workers, bounds)
            self.ready = ready
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                self.cfg.set(key, value)
            self.cfg.set("when_ready", lambda _arbiter: self.ready())

        def load(self) -> Any:
            """The WSGI app, built in each worker from the environment; what building it
            left is moved out of the garbage collector's sight (``gc.freeze``)."""
            from hub import create_app

            app = create_app()
            freeze_heap()
            return app

    class HubGeventWorker(GeventWorker):
        """gunicorn's gevent worker, answering ``Server: hub`` as waitress does, with
        psycopg's waiting made cooperative (the master imported psycopg before gevent
        patched the standard library, so psycopg chose its blocking C wait function)."""

        def patch(self) -> None:
            super().patch()
            import gunicorn.http.wsgi

            gunicorn.http.wsgi.SERVER = "hub"  # no server name and version to fingerprint
            waiting = sys.modules.get("psycopg.waiting")
            if waiting is not None:
                # What psycopg chooses itself when imported after gevent's patching.
                waiting.wait = waiting.wait_poll  # type: ignore[attr-defined]

        def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> None:
            """Answer one request, then let the worker's other connections go first.

            A connection's greenlet reads its next request without yielding when the
            bytes are already there, as they are whenever the client sends it before
            the worker has finished with the last one (a client on a faster core, a
            pipelined request): that connection was then served again and again while
            the others waited (one 10 s wrk run: 10 to 1,978 requests per connection,
            median latency 2 ms and p99 436 ms). Yielding after each answer serves the
            ready connections in turn, one request each (the same run: every connection
            within 6 % of the others).

            It yields with ``gevent.idle()``: it goes on once the event loop has polled
            its sockets and has nothing else to run, so a connection whose request was
            not there yet when its turn came (it waits for its socket) is served in the
            next round. ``gevent.sleep(0)`` queued the connections as callbacks instead,
            which gevent runs 50 at a time before it polls (and more while each takes
            under its 5 ms switch interval): with connections always ready, a waiting
            one was served after 50 answers or more (2 workers and wrk sharing 2 cores,
            where wrk is sometimes late with a request: filings p50 18 ms, p99 280-1,100
            ms; with one worker wrk had a core of its own and was never late)."""
            super().handle_request(listener_name, req, sock, addr)
            gevent.idle()
