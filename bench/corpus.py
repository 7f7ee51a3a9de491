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
           "Calgary", "Hanoi", "Dublin", "Bergen", "Valencia", "Osaka", "Denver", "Accra",
           "Quito", "Riga", "Busan", "Bologna", "Halifax", "Da Nang", "Cork", "Graz", "Leeds",
           "Perth", "Tucson", "Malmo", "Ghent"]
_WITH = ["with their partner", "with the kids", "with colleagues", "with their sister",
         "with old friends", "with the neighbours", "with a club", "with their father"]
_NEAR = ["near the office", "near home", "by the river", "on the coast", "in the park",
         "at the community centre", "online", "at a local studio"]
_FACTS = ["Works as a {job} in {city}", "Has a {pet} named {name}", "Is allergic to {food}",
          "Plans a trip to {city} in {month}", "Speaks {language} at home",
          "Uses {tool} for note taking", "Drives a {car}", "Has {n} children"]
_FILL = {
    "job": ["nurse", "data engineer", "teacher", "carpenter", "pilot", "chef", "lawyer",
            "pharmacist", "architect", "electrician", "librarian", "translator", "vet",
            "firefighter", "designer", "accountant", "baker", "mechanic", "journalist"],
    "city": _CITIES,
    "pet": ["cat", "dog", "parrot", "rabbit", "tortoise"],
    "name": ["Max", "Luna", "Pip", "Olive", "Bruno", "Mochi", "Biscuit", "Juno", "Otto",
             "Pepper", "Ziggy", "Nala", "Rufus", "Kiwi", "Toast", "Milo"],
    "food": ["peanuts", "shellfish", "gluten", "lactose", "strawberries"],
    "month": ["March", "June", "October", "December"],
    "language": ["Portuguese", "Japanese", "Swahili", "Estonian", "Korean"],
    "tool": ["Obsidian", "Notion", "paper notebooks", "Emacs org-mode"],
    "car": ["Volvo estate", "small hatchback", "electric van"],
    "n": ["two", "three", "no"],
}


def memories(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct short third-person facts (a few end in ``(#n)`` once the generator's
    combinations run short, as at 100k)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    while len(out) < count:
        for _ in range(20):
            text = _memory(rng)
            if text not in seen:
                break
        else:
            text = f"{text} (#{len(out)})"
        seen.add(text)
        out.append(text)
    return out


def _memory(rng: random.Random) -> str:
    if rng.random() < 0.6:
        text = f"{rng.choice(_VERBS)} {rng.choice(_SUBJECTS)} {rng.choice(_WHEN)}"
        qualifier = rng.random()
        if qualifier < 0.3:
            text += f" {rng.choice(_WITH)}"
        elif qualifier < 0.6:
            text += f" in {rng.choice(_CITIES)}"
        elif qualifier < 0.85:
            text += f" {rng.choice(_NEAR)}"
        return text
    text = rng.choice(_FACTS).format(**{k: rng.choice(v) for k, v in _FILL.items()})
    qualifier = rng.random()
    if qualifier < 0.45:
        text += f" since {rng.randrange(1990, 2026)}"
    elif qualifier < 0.9:
        text += f", {rng.choice(_NEAR)}"
    return text


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


class FreshTexts:
    """Memory texts never handed out before by this object, so that a server's embedding cache
    cannot answer them, and of the corpus's usual length (no marker appended)."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.seed = 10_000

    def memories(self, count: int) -> list[str]:
        out: list[str] = []
        while len(out) < count:
            self.seed += 1
            for text in memories(count, seed=self.seed):
                if text not in self.used and "(#" not in text:
                    self.used.add(text)
                    out.append(text)
                    if len(out) == count:
                        break
        return out
