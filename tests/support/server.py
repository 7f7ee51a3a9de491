"""The live-server helper lives in the package (``memvault.testing``); tests import it here."""

from memvault.testing import LiveServer, free_port

__all__ = ["LiveServer", "free_port"]
