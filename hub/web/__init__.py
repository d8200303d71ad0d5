"""Pages: the public landing page and each role's home."""

from hub.web.views import bp

__all__ = ["bp"]
