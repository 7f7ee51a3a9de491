"""The live-server helper lives in the package (``memvault.testing``); tests import it here.

Here ``preload`` defaults to True: each process is forked from a forkserver that has already
imported memvault, which runs the same CLI command with the same environment and startup and only
skips about a second of imports per process (the suite starts dozens). A test that needs a process
exec'd afresh (``LD_PRELOAD``, for one) passes ``preload=False``.
"""

from __future__ import annotations

from typing import Any

from memvault import testing
from memvault.testing import free_port

__all__ = ["LiveServer", "LiveWorker", "free_port"]


class LiveServer(testing.LiveServer):
    __doc__ = testing.LiveServer.__doc__

    def __init__(self, *args: Any, preload: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, preload=preload, **kwargs)


class LiveWorker(testing.LiveWorker):
    __doc__ = testing.LiveWorker.__doc__

    def __init__(self, *args: Any, preload: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, preload=preload, **kwargs)
