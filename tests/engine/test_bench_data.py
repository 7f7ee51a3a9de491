"""The extraction benchmark's conversations are well formed."""

from __future__ import annotations

import json
from pathlib import Path

from memvault.models import MemoryKind, StoreOptions

DATA = Path(__file__).parents[2] / "bench" / "extraction" / "conversations.json"


def test_conversations_are_well_formed():
    conversations = json.loads(DATA.read_text())["conversations"]
    assert len(conversations) >= 30
    assert len({c["id"] for c in conversations}) == len(conversations)
    kinds = {k.value for k in MemoryKind}
    for conversation in conversations:
        StoreOptions(**conversation.get("options", {}))
        assert conversation["split"] in {"dev", "dev2", "holdout"}
        assert conversation["updates"] and all(conversation["updates"])
        for update in conversation["updates"]:
            for message in update:
                assert message["role"] in {"user", "assistant", "system", "developer"}
                assert message["text"].strip()
        for expected in conversation["expected"]:
            assert expected["kind"] in kinds and expected["fact"].strip()
        assert all(isinstance(p, str) for p in conversation["forbidden"])
        assert all(isinstance(g, list) and g for g in conversation["superseded"])
    covers = {cover for c in conversations for cover in c["covers"]}
    assert {"conflict", "duplicate", "forget", "sensitive", "assistant-only",
            "chit-chat"} <= covers


def test_the_retrieval_set_is_well_formed():
    data = json.loads((DATA.parents[1] / "quality" / "conversations.json").read_text())
    scopes = [person["scope"] for person in data["people"]]
    assert len(set(scopes)) == len(scopes) and set(data["dev_scopes"]) < set(scopes)
    for person in data["people"]:
        dates = [session["date"] for session in person["sessions"]]
        assert dates == sorted(dates)
        turns = [turn_id for s in person["sessions"] for turn_id, _ in s["turns"]]
        assert len(set(turns)) == len(turns)
        for kind, question, evidence in person["questions"]:
            assert kind in {"single", "multi", "temporal"} and question.strip()
            assert evidence and set(evidence) <= set(turns)
            assert kind != "multi" or len(evidence) >= 2
