"""The fast paths around a request (issue 15.3) held to the general ones.

The kept ``/assess`` form page equals a fresh render but for the CSRF token, and never
shows one visitor's page to another; a token's use is written at most once a minute;
a JSON body is never parsed as a form; with rate limits off the limiter does nothing;
the orjson provider writes the documents Flask's own provider writes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import re
import uuid

import pytest
import sqlalchemy as sa
from flask import request
from flask.json.provider import DefaultJSONProvider

from hub.app_clock import EXTENSION_KEY as CLOCK_KEY
from hub.app_clock import app_clock
from hub.auth.tokens import issue_token
from hub.clock import Clock
from hub.db import get_engine
from hub.extensions import limiter
from hub.models import ApiToken
from hub.web.assess import form_pages

from .filing_support import t1_exchange

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def page_and_tokens(client, url: str = "/assess") -> tuple[str, list[str]]:
    response = client.get(url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return TOKEN.sub('name="csrf_token" value="TOKEN"', page), TOKEN.findall(page)


@pytest.fixture
def kept_and_fresh(make_app):
    """Two apps on one database and one clock: one keeps rendered form pages, one not."""
    kept = make_app(WTF_CSRF_ENABLED=True)
    fresh = make_app(WTF_CSRF_ENABLED=True, ASSESS_FORM_CACHE_SIZE=0)
    fresh.extensions[CLOCK_KEY] = app_clock(kept)
    return kept, fresh


@pytest.mark.parametrize("url", ["/assess", "/assess?as_of=2027-02-01", "/assess?as_of=soon"])
def test_a_kept_form_page_is_a_fresh_render_but_for_the_csrf_token(kept_and_fresh, url):
    kept, fresh = kept_and_fresh
    first, _ = page_and_tokens(kept.test_client(), url)
    again, tokens = page_and_tokens(kept.test_client(), url)
    with kept.app_context():
        assert len(form_pages()) == 1  # the second page came from the kept one
    rendered, fresh_tokens = page_and_tokens(fresh.test_client(), url)
    assert again == first == rendered
    assert len(tokens) == len(fresh_tokens) == 1


def test_each_visitor_gets_a_token_of_their_own_that_the_form_accepts(kept_and_fresh):
    kept, _ = kept_and_fresh
    one, two = kept.test_client(), kept.test_client()
    _, [token_one] = page_and_tokens(one)
    _, [token_two] = page_and_tokens(two)
    assert token_one != token_two
    with kept.app_context():
        assert len(form_pages()) == 1  # the second page came from the kept one
    filing = {"bin": "940140000385", "legal_name": "Steppe LLP", "activity": "exchange"}
    accepted = one.post("/assess", data={**filing, "csrf_token": token_one})
    assert accepted.status_code in (200, 422)  # decided or refused on its values, not CSRF
    assert "CSRF" not in accepted.get_data(as_text=True)
    refused = one.post("/assess", data={**filing, "csrf_token": token_two})
    assert refused.status_code == 400


def test_signed_in_pages_are_kept_apart_and_equal_fresh_ones(kept_and_fresh, make_user, login):
    kept, fresh = kept_and_fresh
    alice, bob = make_user("company", email="alice@example.kz"), make_user("admin")
    pages = {}
    for user in (alice, bob, None):
        for app in (kept, kept, fresh):
            client = app.test_client()
            if user is not None:
                login(client, user)
            page, tokens = page_and_tokens(client)
            assert len(tokens) == (2 if user else 1)  # the sign-out form has one too
            pages.setdefault(user and user.email, set()).add(page)
    assert all(len(variants) == 1 for variants in pages.values()), "kept != fresh"
    alice_page, bob_page, anonymous = (pages[k].pop() for k in (alice.email, bob.email, None))
    assert alice.email in alice_page and alice.email not in bob_page
    assert bob.email in bob_page and "Sign in" in anonymous and alice.email not in anonymous


def test_a_flashed_message_is_shown_once_and_not_kept(kept_and_fresh, make_user, login):
    kept, _ = kept_and_fresh
    client = kept.test_client()
    page_and_tokens(client)  # the blank page is kept
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "A message for this visitor only")]
    shown, _ = page_and_tokens(client)
    assert "A message for this visitor only" in shown
    assert "A message for this visitor only" not in page_and_tokens(client)[0]
    assert "A message for this visitor only" not in page_and_tokens(kept.test_client())[0]


def test_kept_pages_are_bounded(make_app):
    app = make_app(ASSESS_FORM_CACHE_SIZE=3)
    client = app.test_client()
    for day in range(1, 9):
        client.get(f"/assess?as_of=2026-08-0{day}")
    with app.app_context():
        assert len(form_pages()) == 3


def test_token_use_is_written_at_most_once_a_minute(app, client, make_user, db_session):
    start = dt.datetime(2026, 9, 1, 10, 0, 0, tzinfo=dt.UTC)
    now = [start]
    app.extensions[CLOCK_KEY] = Clock(app_clock(app).zone, lambda: now[0])
    _, plaintext = issue_token(db_session, user=make_user("company"), name="t")
    db_session.commit()
    auth = {"Authorization": f"Bearer {plaintext}"}
    writes: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE API_TOKEN"):
            writes.append(statement)

    sa.event.listen(get_engine(app), "before_cursor_execute", count)

    def last_used() -> dt.datetime | None:
        db_session.expire_all()
        return db_session.exec(sa.select(ApiToken.last_used_at)).one()[0]

    for step, (seconds, expected, written) in enumerate(
        [(0, 0, 1), (1, 0, 1), (30, 0, 1), (59, 0, 1), (60, 60, 2), (61, 60, 2), (200, 200, 3)]
    ):
        now[0] = start + dt.timedelta(seconds=seconds)
        for _ in range(3):
            assert client.get("/api/v1/filings", headers=auth).status_code == 200, step
        assert last_used() == start + dt.timedelta(seconds=expected), step
        assert len(writes) == written, (step, writes)


def test_a_json_body_is_never_parsed_as_a_form(make_app):
    app = make_app()
    parsed: list[bool] = []

    @app.after_request
    def record(response):
        parsed.append("form" in request.__dict__)  # werkzeug keeps request.form once read
        return response

    client = app.test_client()
    body = {"filing": t1_exchange(bin="940140000385"), "as_of": "2026-09-01"}
    assert client.post("/api/v1/assessments", json=body).status_code == 200
    assert client.post("/assess", data={"as_of": "2026-09-01"}).status_code == 422
    assert parsed == [False, True]
    # NUL in a form field or a query parameter is still refused, JSON or not.
    assert client.post("/assess", data={"legal_name": "a\x00b"}).status_code == 400
    assert client.post("/api/v1/assessments?x=a%00", json=body).status_code == 400


def test_no_rate_limit_work_when_limits_are_off(make_app, monkeypatch):
    checks: list[str] = []
    real = limiter._check_request_limit

    def counted(*args, **kwargs):
        checks.append(request.path)
        return real(*args, **kwargs)

    monkeypatch.setattr(limiter, "_check_request_limit", counted)
    body = {"filing": t1_exchange(bin="940140000385"), "as_of": "2026-09-01"}
    off = make_app()
    assert off.test_client().post("/api/v1/assessments", json=body).status_code == 200
    assert checks == []
    on = make_app(RATELIMIT_ENABLED=True)
    assert on.test_client().post("/api/v1/assessments", json=body).status_code == 200
    assert checks  # the same view is limited when limits are on


@dataclasses.dataclass
class _Point:
    x: int
    label: str


def test_the_orjson_provider_writes_what_flasks_own_writes(app):
    doc = {
        "b": [1, 2.5, 1e-7, 12345678.91, True, None, 'Алматы ✓ "q" </script>'],
        "a": {"z": 1, "y": {"nested": ["x"]}},
        "when": dt.datetime(2026, 9, 1, 10, 30, tzinfo=dt.UTC),
        "day": dt.date(2026, 9, 1),
        "amount": decimal.Decimal("12.30"),
        "id": uuid.UUID(int=7),
        "point": _Point(1, "p"),
        "huge": 2**70,
    }
    flask_own = DefaultJSONProvider(app)
    with app.test_request_context():
        ours = app.json.response(doc)
        theirs = flask_own.response(doc)
        assert json.loads(ours.get_data()) == json.loads(theirs.get_data())
        assert ours.get_data().endswith(b"\n") and ours.mimetype == "application/json"
        assert list(json.loads(ours.get_data())) == sorted(str(k) for k in doc)
        assert json.loads(app.json.dumps(doc)) == json.loads(flask_own.dumps(doc))
        small = {k: v for k, v in doc.items() if k != "huge"}
        assert app.json.dumps(small).count("\n") == 0  # compact unless debug


def test_api_errors_still_name_the_field(client):
    body = {"filing": {**t1_exchange(bin="940140000385"), "kyc_verified_clients_pct": 101}}
    response = client.post("/api/v1/assessments", json=body)
    assert response.status_code == 422
    assert {"field": "kyc_verified_clients_pct"}.items() <= response.json["errors"][0].items()
    malformed = client.post(
        "/api/v1/assessments", data=b'{"filing": ', content_type="application/json"
    )
    assert malformed.status_code == 400 and malformed.json["errors"][0]["field"] is None


def test_api_requests_have_no_session(app, make_user, login, monkeypatch):
    """The API authenticates with bearer tokens: a signed-in browser's cookie sent with
    an API request is not read (no store round trip) and its answer sets no cookie,
    while a page with the same cookie still opens the session from the store."""
    client = app.test_client()
    assert login(client, make_user("company")).status_code == 302
    interface = app.session_interface
    opened: list[str] = []
    real = interface.server.open_session

    def counted(app_, request_):
        opened.append(request_.path)
        return real(app_, request_)

    monkeypatch.setattr(interface.server, "open_session", counted)
    body = {"filing": t1_exchange(bin="940140000385"), "as_of": "2026-09-01"}
    answers = [
        client.post("/api/v1/assessments", json=body),
        client.get("/api/v1/policies"),
        client.get("/api/v1/filings"),  # no token: 401, and still no session
        client.get("/api/v1/nowhere"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 401, 404]
    assert all("Set-Cookie" not in a.headers for a in answers)
    assert opened == []
    assert client.get("/filings").status_code == 200  # the cookie still signs pages in
    assert opened == ["/filings"]


def test_the_session_cookie_is_flasks_own(app, monkeypatch):
    """``SignedCookies`` (one signer per key, OpenSSL's HMAC) writes the cookies Flask's
    own interface writes, byte for byte, and each opens the other's; a new secret key
    gets a new signer, the old key still opening cookies as a fallback."""
    from flask.sessions import SecureCookieSessionInterface
    from itsdangerous import TimestampSigner

    from hub.sessions import SignedCookies

    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_790_000_000)
    ours, flasks = SignedCookies(), SecureCookieSessionInterface()
    doc = {"csrf_token": "f" * 40, "_flashes": [("message", "Saved. Ünïcode ✓")], "n": 7}
    for _ in range(2):  # the second time from the kept signer
        made = ours.get_signing_serializer(app).dumps(doc)
        assert made == flasks.get_signing_serializer(app).dumps(doc)
        assert flasks.get_signing_serializer(app).loads(made) == doc
        assert ours.get_signing_serializer(app).loads(made) == doc
    old_cookie = made
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-secret")
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [])
    new_cookie = ours.get_signing_serializer(app).dumps(doc)
    assert new_cookie != old_cookie
    assert flasks.get_signing_serializer(app).loads(new_cookie) == doc
    with pytest.raises(Exception, match="Signature"):
        ours.get_signing_serializer(app).loads(old_cookie)
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", ["test-secret-key"])
    assert ours.get_signing_serializer(app).loads(old_cookie) == doc
