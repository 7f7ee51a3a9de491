"""Small English helpers for the offline extractor: normalising, splitting, conjugating.

Nothing here knows about memories; it turns "I prefer X and usually drink it" into
"Prefers X and usually drinks it" and "plan a trip" into "planning a trip".
"""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": " - ", "\u00a0": " "})

_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), r)
    for p, r in (
        (r"\bi'm\b", "I am"), (r"\bim\b(?=\s+(?:a|an|the|not|so|really|from|in|into|based|"
                                r"allergic|vegan|vegetarian|\w+ing)\b)", "I am"),
        (r"\bi've\b", "I have"), (r"\bive\b(?=\s+\w+ed\b)", "I have"),
        (r"\bi'd\b", "I would"), (r"\bi'll\b", "I will"),
        (r"\bwe're\b", "we are"), (r"\bwe've\b", "we have"), (r"\bwe'd\b", "we would"),
        (r"\bwe'll\b", "we will"), (r"\byou're\b", "you are"), (r"\byou've\b", "you have"),
        (r"\byou'd\b", "you would"), (r"\byou'll\b", "you will"), (r"\bit's\b", "it is"),
        (r"\bthat's\b", "that is"), (r"\bwhat's\b", "what is"), (r"\bthere's\b", "there is"),
        (r"\bhere's\b", "here is"), (r"\bname's\b", "name is"), (r"\bhe's\b", "he is"),
        (r"\bshe's\b", "she is"),
        (r"\blet's\b", "let us"), (r"\bhow's\b", "how is"), (r"\bwho's\b", "who is"),
        (r"\bcan't\b", "cannot"), (r"\bwon't\b", "will not"), (r"\bain't\b", "is not"),
        (r"\b(\w+)n't\b", r"\1 not"), (r"\bdont\b", "do not"), (r"\bdoesnt\b", "does not"),
        (r"\bcant\b", "cannot"), (r"\bi\b", "I"),
    )
)

_ABBREVIATIONS = frozenset(
    {"st", "mr", "mrs", "ms", "dr", "prof", "jr", "sr", "vs", "etc", "e.g", "i.e", "approx",
     "ave", "no", "inc", "ltd", "co", "mt", "ft", "rd", "blvd", "dept", "fig", "jan", "feb",
     "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")


def normalise(text: str) -> str:
    """NFKC, straight quotes, single spaces, expanded contractions ("I'm" -> "I am")."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = re.sub(r"[ \t]+", " ", text).strip()
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, each with its closing punctuation; abbreviations do not split."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        head = text[start:match.start()].rstrip()
        last_word = re.search(r"([\w.]+)[.]$", head)
        if last_word and match.group(0).strip() == "" and (
            last_word.group(1).lower().rstrip(".") in _ABBREVIATIONS
            or re.fullmatch(r"[A-Z]", last_word.group(1))
        ):
            continue
        if head:
            sentences.append(head)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


_CLAUSE_SPLIT = re.compile(
    r"\s*;\s*"
    r"|,?\s+but\s+"
    r"|,\s+so\s+|\s+so\s+(?=(?:I|we|my)\b)"
    r"|,?\s+because\s+"
    r"|,?\s+(?:although|though|whereas|while)\s+(?=(?:I|we|my)\b)"
    r"|,?\s+and\s+(?=(?:I|we|my|our)\b)"
    r"|,\s+(?=(?:I|we|my|our)\b)"
    r"|\s+-+\s+"
)


def split_clauses(sentence: str) -> list[str]:
    """Clauses of one sentence: split at ";", "but", "so", "because", ", and I", ", my"…"""
    return [c.strip(" ,") for c in _CLAUSE_SPLIT.split(sentence) if c and c.strip(" ,")]


# -- verbs -----------------------------------------------------------------------------------

BASE_VERBS = frozenset(
    """
    accept add adopt adore agree aim allow answer apply appreciate argue arrive ask attend avoid
    bake be become begin believe belong bike book borrow bring build buy call camp care carry
    celebrate change chat check choose clean climb code coach collect come commute compete
    complete consider cook cost count create cycle dance date decide deliver design develop die
    dislike do draw dream dress drink drive drop earn eat edit enjoy exercise expect explain
    face fall feel fight fill find finish fish fix fly focus follow forget get give go graduate
    grow guess hang hate have head hear help hike hire hold hope host hunt imagine improve include
    intend invest join jog keep kill knit know learn leave lend let lift like listen live look
    lose love maintain make manage marry mean meditate meet mind miss move need own paint pay
    perform pick plan plant play practice practise prefer prepare present produce program
    promise publish pull push put quit rate reach read receive recommend record relax remember
    rent repair reply report research respond rest retire return review ride run save say
    schedule see sell send serve set share shop show sign sing sit ski skip sleep smoke snowboard
    solve speak spend stand start stay stop struggle study suffer support surf swim switch take
    talk teach tend test text think train translate travel treat try turn type understand use
    visit volunteer vote wait wake walk want wash watch wear win wish work worry write
    """.split()
)

IRREGULAR_PAST = frozenset(
    """
    was were had did went ran swam ate drank quit got bought made took left came became began
    grew knew met sold spent thought told wrote found gave kept lost paid put said saw sent set
    sat slept spoke stood taught understood won woke built caught chose drove fell felt flew
    forgot heard held led meant rode rose sang shut threw wore brought broke hid hung lay lit
    """.split()
)

ADVERBS_KEPT = ("usually", "often", "always", "never", "sometimes", "rarely", "mostly",
                "generally", "typically", "normally", "regularly", "occasionally", "seldom",
                "no longer", "not", "also")
ADVERBS_DROPPED = ("really", "actually", "just", "totally", "absolutely", "definitely",
                   "kind of", "sort of", "pretty much", "honestly", "literally", "basically",
                   "genuinely", "truly", "still", "now", "currently", "recently", "finally",
                   "personally", "officially", "seriously", "simply", "very much")

_ADVERB_RE = re.compile(
    r"^(?:(?:" + "|".join(re.escape(a) for a in ADVERBS_KEPT + ADVERBS_DROPPED) + r")\s+)+",
    re.IGNORECASE,
)


def third_person(verb: str) -> str:
    """The third-person singular present of a base verb ("go" -> "goes")."""
    lower = verb.lower()
    special = {"be": "is", "am": "is", "are": "is", "have": "has", "do": "does", "go": "goes"}
    if lower in special:
        out = special[lower]
    elif re.search(r"(?:s|sh|ch|x|z|o)$", lower):
        out = lower + "es"
    elif re.search(r"[^aeiou]y$", lower):
        out = lower[:-1] + "ies"
    else:
        out = lower + "s"
    return out.capitalize() if verb[:1].isupper() else out


_DOUBLE_FINAL = frozenset(
    "plan run stop shop swim get set put sit begin cut hit jog chat drop ship skip prefer "
    "refer admit commit forget upset occur grab plug scan knit step dig".split()
)


def gerund(verb: str) -> str:
    """The -ing form of a base verb ("plan" -> "planning", "write" -> "writing")."""
    lower = verb.lower()
    if lower in _DOUBLE_FINAL:
        return lower + lower[-1] + "ing"
    if lower.endswith("ie"):
        return lower[:-2] + "ying"
    if lower.endswith("e") and not lower.endswith(("ee", "ye", "oe")) and lower != "be":
        return lower[:-1] + "ing"
    return lower + "ing"


def is_past(word: str) -> bool:
    lower = word.lower()
    return lower in IRREGULAR_PAST or (lower.endswith("ed") and len(lower) > 4)


def split_adverbs(text: str) -> tuple[str, str]:
    """("usually ", "drink it") from "usually drink it": leading adverbs and the rest."""
    match = _ADVERB_RE.match(text)
    if not match:
        return "", text
    return match.group(0), text[match.end():]


def clean_adverbs(adverbs: str) -> str:
    """Keep the adverbs that carry meaning (usually, never, no longer); drop fillers."""
    words = adverbs.lower()
    for filler in sorted(ADVERBS_DROPPED + ("also",), key=len, reverse=True):
        words = re.sub(rf"\b{re.escape(filler)}\b", " ", words)
    return " ".join(words.split())


_PRONOUNS = (
    (r"\bmyself\b", "themselves"), (r"\bourselves\b", "themselves"), (r"\bmine\b", "theirs"),
    (r"\bours\b", "theirs"), (r"\bmy\b", "their"), (r"\bMy\b", "Their"), (r"\bour\b", "their"),
    (r"\bOur\b", "Their"), (r"\bme\b", "them"), (r"\bus\b", "them"),
    (r"\bI am\b", "they are"), (r"\bI was\b", "they were"), (r"\bwe are\b", "they are"),
    (r"\bwe\b", "they"), (r"\bWe\b", "They"), (r"\bI\b", "they"),
)
_PRONOUN_RES = tuple((re.compile(p), r) for p, r in _PRONOUNS)


def swap_pronouns(text: str) -> str:
    """First person to third person inside a phrase: "my dog" -> "their dog"."""
    for pattern, replacement in _PRONOUN_RES:
        text = pattern.sub(replacement, text)
    return text


def conjugate_predicate(predicate: str) -> str:
    """Third-person form of a first-person verb phrase (subject already removed).

    "prefer dark roast and usually drink it" -> "prefers dark roast and usually drinks it";
    "am allergic to nuts" -> "is allergic to nuts"; "have switched to tea" -> "has switched…".
    """
    parts = re.split(r"(\s*(?:,\s*)?\band\s+|\s*,\s*)", predicate)
    out: list[str] = []
    first = True
    for part in parts:
        if re.fullmatch(r"\s*(?:,\s*)?\band\s+|\s*,\s*", part or ""):
            out.append(part)
            continue
        if not first and (part[:1].isupper() or len(part.split()) < 2):
            out.append(part)  # a proper noun ("Go") or a bare noun ("and travel"), not a verb
        else:
            out.append(_conjugate_head(part, required=first))
        first = False
    return "".join(out)


def _conjugate_head(phrase: str, *, required: bool) -> str:
    adverbs, rest = split_adverbs(phrase)
    match = re.match(r"([A-Za-z]+)(.*)", rest, re.DOTALL)
    if not match:
        return phrase
    verb, tail = match.group(1), match.group(2)
    lower = verb.lower()
    if lower in {"am", "have", "do"} or (lower in BASE_VERBS and lower not in {"be"}):
        if lower == "do" and re.match(r"\s+not\b", tail):
            return f"{adverbs}does{tail}"
        return f"{adverbs}{third_person(lower)}{tail}"
    if lower in {"was", "will", "would", "can", "could", "should", "must", "might", "may",
                 "cannot", "used"} or is_past(lower):
        return f"{adverbs}{lower}{tail}"
    return phrase if not required else f"{adverbs}{lower}{tail}"


def is_base_verb(word: str) -> bool:
    return word.lower() in BASE_VERBS


def starts_with_verb(phrase: str) -> bool:
    """Whether ``phrase`` (after adverbs) begins with a base or past verb."""
    _, rest = split_adverbs(phrase.strip())
    word = re.match(r"[A-Za-z]+", rest)
    return bool(word) and (is_base_verb(word.group(0)) or is_past(word.group(0)))


def capitalise(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def tidy(text: str) -> str:
    """Single spaces, no space before punctuation, no trailing punctuation, capitalised."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,;:.!?])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = text.strip(" ,;:-.!?")
    return capitalise(text)
