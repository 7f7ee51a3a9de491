"""Serving the inspector's files.

The files are mounted, not routed: the app-wide API-key dependency covers routes only, and the
page has to load before the user has given a key (it asks for one when the API answers 401). It
holds no data: everything it shows comes from API calls that carry the key.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# The page runs only its own script and style and talks only to this server, so even a memory
# that slipped past escaping could neither run code nor send data elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load, so an upgraded server never runs with a cached older script.
    "Cache-Control": "no-cache",
}


class InspectorFiles(StaticFiles):
    """The package's ``static`` directory, ``index.html`` at the mount's root."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def inspector_app() -> InspectorFiles:
    """The ASGI app to mount at ``/ui`` (``/ui`` itself redirects to ``/ui/``)."""
    return InspectorFiles(packages=[("memvault.api.ui", "static")], html=True)
