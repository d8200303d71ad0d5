"""The app's clock: the Flask glue of ``hub.clock``.

``init_app`` holds one ``Clock`` on the app (``app.extensions["hub.clock"]``) and
registers the ``hub_date`` template filter; ``app_clock()`` and ``today()`` read it
for views, commands and background jobs. Services never import this module: they
take a ``Clock`` (or the ``today`` it gave) as an argument.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask

from hub.clock import Clock, load_zone

EXTENSION_KEY = "hub.clock"


def init_app(app: Flask, clock: Clock | None = None) -> None:
    """Hold ``clock`` (default: the system clock in the app's ``TIMEZONE``) on the app, and
    give templates the ``hub_date`` filter (see :func:`hub_date`)."""
    app.extensions[EXTENSION_KEY] = clock or Clock(load_zone(app.config.get("TIMEZONE")))
    app.add_template_filter(hub_date, "hub_date")


def hub_date(instant: dt.datetime | None) -> str:
    """A stored instant as the hub's date ``YYYY-MM-DD`` by the current app's clock ("" for
    None): the day a page shows for "submitted" or "decided" is the day the certificate
    and the decision count from, not the UTC date (at 20:00 UTC it is already tomorrow
    in Almaty)."""
    return "" if instant is None else app_clock().date_of(instant).isoformat()


def app_clock(app: Flask | None = None) -> Clock:
    """The clock of ``app`` (default: the current app)."""
    if app is None:
        from flask import current_app

        clock: Clock = current_app.extensions[EXTENSION_KEY]
        return clock
    found: Clock = app.extensions[EXTENSION_KEY]
    return found


def today() -> dt.date:
    """The hub's date by the current app's clock, for views and background jobs.

    Within a request it is read once and kept (in the request's WSGI environ), so
    every part of one request (the form's default date, the version in force, the
    decision) agrees even when the request straddles midnight.
    """
    from flask import has_request_context, request

    if not has_request_context():
        return app_clock().today()
    day: dt.date | None = request.environ.get("hub.today")
    if day is None:
        day = request.environ["hub.today"] = app_clock().today()
    return day
