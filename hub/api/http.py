"""The former home of the API's keys and request helpers, which now live in leaf modules.

hub.api.keys (HUB_KEY, USER_KEY), hub.api.responses (json_message) and hub.api.auth_middleware
(resolve_token) are where new code imports them from; the app factory is hub.api.app. This module
only re-exports them for routes outside hub/api that still use this path, and imports nothing
that imports it back.
"""

from __future__ import annotations

from hub.api.auth_middleware import resolve_token
from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.responses import json_message

__all__ = ["HUB_KEY", "USER_KEY", "json_message", "resolve_token"]
