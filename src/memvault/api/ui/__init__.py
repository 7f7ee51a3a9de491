"""The web inspector at ``/ui``: a static page (HTML, CSS and one vanilla JavaScript module,
shipped as package data, no build step) that browses stores, scopes and memories through the
Foundry face of the HTTP API and deletes memories or scopes after a confirmation."""

from memvault.api.ui.files import inspector_app

__all__ = ["inspector_app"]
