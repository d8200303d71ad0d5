"""Flask extensions, created unbound and attached to each app in ``create_app``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
# Storage and on/off come from RATELIMIT_STORAGE_URI / RATELIMIT_ENABLED in the app config.
limiter = Limiter(key_func=get_remote_address)

F = TypeVar("F", bound=Callable[..., Any])


def rate_limit(value: str | Callable[[], str], **options: Any) -> Callable[[F], F]:
    """``limiter.limit(value, **options)`` on a view, skipped entirely when the app's
    ``RATELIMIT_ENABLED`` is off.

    Flask-Limiter's decorator still works out which limits apply and evaluates them on
    every request when the extension is disabled (it finds none, after some 40 us); a
    service run with limits off (behind a proxy that limits, or a benchmark) should do no
    rate-limit work at all. Use it for every limited view instead of ``limiter.limit``.
    """

    def decorator(view: F) -> F:
        limited = limiter.limit(value, **options)(view)

        @wraps(view)
        def run(*args: Any, **kwargs: Any) -> Any:
            if current_app.config.get("RATELIMIT_ENABLED", True):
                return limited(*args, **kwargs)
            return view(*args, **kwargs)

        return cast(F, run)

    return decorator
