"""Flask extensions, created unbound and attached to each app in ``create_app``."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
# Storage and on/off come from RATELIMIT_STORAGE_URI / RATELIMIT_ENABLED in the app config.
limiter = Limiter(key_func=get_remote_address)
