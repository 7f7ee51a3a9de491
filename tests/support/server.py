"""The live-server helper lives in the package (``memvault.testing``); tests import it here."""

from memvault.testing import LiveServer, LiveWorker, free_port

__all__ = ["LiveServer", "LiveWorker", "free_port"]
