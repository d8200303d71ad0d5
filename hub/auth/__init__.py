"""Accounts: registration, sign-in, sign-out, password change, and the guards."""

from hub.auth.views import bp

__all__ = ["bp"]
