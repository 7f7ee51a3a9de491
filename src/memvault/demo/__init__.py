"""``make demo`` (``python -m memvault.demo``): the how-to's story, end to end, on a local server.

    __main__.py  the story: a store, an agent, a preference taught, remembered in a new conversation
    server.py    starts ``memvault serve`` on a free port with a throwaway data directory
    echo.py      the offline echo responder, used only when no chat endpoint is configured
"""
