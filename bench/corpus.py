"""Deterministic, varied memory texts and queries for the benchmarks."""

from __future__ import annotations

import random

_SUBJECTS = ["coffee", "tea", "hiking", "jazz", "Python", "Rust", "sushi", "cycling", "chess",
             "gardening", "photography", "yoga", "running", "baking", "poetry", "kayaking",
             "sci-fi novels", "board games", "opera", "podcasts", "vinyl records", "climbing",
             "football", "tennis", "painting", "knitting", "birdwatching", "woodworking", "ramen",
             "spicy food", "vegan cooking", "wine", "craft beer", "camping", "skiing", "surfing"]
_VERBS = ["Likes", "Prefers", "Dislikes", "Is learning", "Loves", "Avoids", "Is curious about",
          "Spends weekends on", "Wants to get better at", "Recently started"]
_WHEN = ["in the morning", "on weekends", "after work", "with friends", "alone", "in winter",
         "during holidays", "every Tuesday", "when travelling", "at least twice a month"]
_CITIES = ["Oslo", "Lisbon", "Kyoto", "Austin", "Nairobi", "Lima", "Tallinn", "Seoul", "Porto",
           "Calgary", "Hanoi", "Dublin"]
_FACTS = ["Works as a {job} in {city}", "Has a {pet} named {name}", "Is allergic to {food}",
          "Plans a trip to {city} in {month}", "Speaks {language} at home",
          "Uses {tool} for note taking", "Drives a {car}", "Has {n} children"]
_FILL = {
    "job": ["nurse", "data engineer", "teacher", "carpenter", "pilot", "chef", "lawyer"],
    "city": _CITIES,
    "pet": ["cat", "dog", "parrot", "rabbit", "tortoise"],
    "name": ["Max", "Luna", "Pip", "Olive", "Bruno", "Mochi"],
    "food": ["peanuts", "shellfish", "gluten", "lactose", "strawberries"],
    "month": ["March", "June", "October", "December"],
    "language": ["Portuguese", "Japanese", "Swahili", "Estonian", "Korean"],
    "tool": ["Obsidian", "Notion", "paper notebooks", "Emacs org-mode"],
    "car": ["Volvo estate", "small hatchback", "electric van"],
    "n": ["two", "three", "no"],
}


def memories(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct short third-person facts."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    while len(out) < count:
        if rng.random() < 0.6:
            text = f"{rng.choice(_VERBS)} {rng.choice(_SUBJECTS)} {rng.choice(_WHEN)}"
        else:
            template = rng.choice(_FACTS)
            text = template.format(**{k: rng.choice(v) for k, v in _FILL.items()})
        text = f"{text} (#{len(out)})" if text in seen else text
        seen.add(text)
        out.append(text)
    return out


def queries(count: int, seed: int = 11, tag: str = "") -> list[str]:
    """``count`` distinct user questions (distinct, so no query-embedding cache hits; give each
    call its own ``tag`` to keep them distinct across calls)."""
    rng = random.Random(seed)
    forms = ["What do I think about {s}?", "Any plans involving {s} {w}?",
             "Recommend something for {s} lovers in {c}", "Do I like {s}?",
             "What should I cook, given I like {s}?", "Where do I work and what about {s}?"]
    out: list[str] = []
    while len(out) < count:
        text = rng.choice(forms).format(s=rng.choice(_SUBJECTS), w=rng.choice(_WHEN),
                                        c=rng.choice(_CITIES))
        out.append(f"{text} ({tag}{len(out)})")
    return out
