"""Extraction: turning the messages of an update into candidate memories.

``base`` holds the interface every extractor implements; ``offline`` the built-in rule-based
extractor; ``sensitive`` the sensitive-data filter every extractor's output goes through;
``topics`` the topic classifier shared with consolidation.
"""

from memvault.engine.extraction.base import (
    Candidate,
    ChatMessage,
    Extraction,
    Extractor,
    Usage,
)
from memvault.engine.extraction.offline import OfflineExtractor
from memvault.engine.extraction.sensitive import filter_candidates, parse_guidance
from memvault.engine.extraction.topics import topic_of, topics_of

__all__ = [
    "Candidate",
    "ChatMessage",
    "Extraction",
    "Extractor",
    "OfflineExtractor",
    "Usage",
    "filter_candidates",
    "parse_guidance",
    "topic_of",
    "topics_of",
]
