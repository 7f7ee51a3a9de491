"""memvault: self-hosted long-term memory for AI agents."""

from memvault.errors import MemvaultError
from memvault.settings import Settings

__version__ = "0.1.0"

__all__ = ["MemvaultError", "Settings", "__version__"]
