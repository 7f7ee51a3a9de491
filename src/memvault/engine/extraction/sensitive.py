"""Keeping sensitive data out of memories.

Two layers, shared by every extractor (the LLM extractor runs :func:`filter_candidates` on its
output as a post-filter):

* **Always on**: secrets are never stored, whatever the options say: passwords and PINs with a
  value, API keys and tokens, private keys, payment card numbers (Luhn-checked), IBANs
  (checksum-checked) and social security / national insurance numbers. See :func:`secret_reason`.
* **Per store**: ``user_profile_details`` is free text such as "Avoid irrelevant or sensitive
  data, such as age, financials, precise location, and credentials". :func:`parse_guidance`
  reads the categories it asks to avoid (and any topics it asks to focus on), and
  :func:`sensitive_reason` says whether a clause carries one of them.

Filtering works clause by clause: "Is 34, earns 120k and loves hiking" keeps "Loves hiking".
A street address is trimmed to its city when only *precise* location is excluded ("Lives at
12 Baker Street, London" -> "Lives in London"): a city is not a precise location.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from memvault.engine.extraction.base import Candidate
from memvault.engine.extraction.english import capitalise, tidy
from memvault.engine.extraction.topics import topics_of
from memvault.models import MemoryKind, StoreOptions

# Category names.
AGE = "age"
FINANCIAL = "financial"
PRECISE_LOCATION = "precise_location"
LOCATION = "location"
CREDENTIALS = "credentials"
HEALTH = "health"
CONTACT = "contact"
GOVERNMENT_ID = "government_id"
RELIGION = "religion"
POLITICS = "politics"
SEXUALITY = "sexuality"
ETHNICITY = "ethnicity"
FAMILY = "family"
WORK = "work"

_GENERIC_SENSITIVE = frozenset(
    {FINANCIAL, PRECISE_LOCATION, CREDENTIALS, CONTACT, GOVERNMENT_ID, RELIGION, POLITICS,
     SEXUALITY, ETHNICITY}
)
"""What "sensitive data" means when the guidance names no category. Health is left out on
purpose: allergies and diets are what people most want remembered; ask for it by name."""

# Words in the guidance -> categories. Checked against each "avoid …" phrase.
_GUIDANCE_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    (r"\bprecise (?:location|address)\w*|\bexact (?:location|address)\w*|\baddress\w*"
     r"|\bstreet\b|\bhome address\b|\bgps\b|\bcoordinates\b", frozenset({PRECISE_LOCATION})),
    (r"\blocation\w*|\bwhere (?:i|they|the user) lives?\b|\bcity\b|\bresidence\b",
     frozenset({LOCATION, PRECISE_LOCATION})),
    (r"\bages?\b|\bbirth\w*|\bdate of birth\b|\bdob\b|\bhow old\b", frozenset({AGE})),
    (r"\bfinanc\w*|\bincome\w*|\bsalar\w*|\bmoney\b|\bbank\w*|\bcredit\b|\bwealth\b|\bdebt\w*"
     r"|\bearnings\b|\bpay\b|\bsavings\b|\bpayment\w*", frozenset({FINANCIAL})),
    (r"\bcredential\w*|\bpassword\w*|\bapi keys?\b|\btokens?\b|\bsecrets?\b|\blogins?\b"
     r"|\bpins?\b|\bkeys\b", frozenset({CREDENTIALS})),
    (r"\bhealth\w*|\bmedic\w*|\bdiagnos\w*|\bconditions?\b|\billness\w*|\bdisease\w*"
     r"|\bmental\b", frozenset({HEALTH})),
    (r"\bcontact\w*|\bphone\w*|\bemails?\b|\be-mails?\b", frozenset({CONTACT})),
    (r"\bssn\b|\bsocial security\b|\bpassport\w*|\bgovernment id\w*|\bnational id\w*"
     r"|\bid numbers?\b|\bidentity numbers?\b|\bdriver'?s? licen[cs]e\b",
     frozenset({GOVERNMENT_ID})),
    (r"\breligio\w*|\bfaith\b|\bbelief\w*", frozenset({RELIGION})),
    (r"\bpolitic\w*|\bvot\w*|\bparty affiliation\b", frozenset({POLITICS})),
    (r"\bsexual\w*|\bgender identity\b|\bdating\b", frozenset({SEXUALITY})),
    (r"\bethnic\w*|\brace\b|\bracial\b", frozenset({ETHNICITY})),
    (r"\bfamil\w*|\bchildren\b|\bkids\b|\brelatives\b", frozenset({FAMILY})),
    (r"\bemploy\w*|\bjobs?\b|\bwork(?:place)?\b|\bcareer\b", frozenset({WORK})),
    (r"\bsensitive\b|\bpersonal (?:data|information|details)\b|\bpii\b|\bprivate\b",
     _GENERIC_SENSITIVE),
)
_GUIDANCE_RES = tuple((re.compile(p, re.IGNORECASE), cats) for p, cats in _GUIDANCE_WORDS)

_NEGATIVE_DIRECTIVE = re.compile(
    r"\b(?:avoid\w*|never|don'?t|do not|does not|no|not|exclud\w*|skip\w*|without|omit\w*|"
    r"ignor\w*|except|refrain\w*|leave out|stay away)\b",
    re.IGNORECASE,
)

# Guidance words -> profile topics, for "focus on food and travel".
_FOCUS_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    (r"\bfood\w*|\beat\w*|\bdiet\w*|\bcuisine\w*|\bdrink\w*|\bcooking\b|\bmeals?\b",
     frozenset({"food", "diet", "coffee", "tea", "drinks", "cooking", "allergy"})),
    (r"\btravel\w*|\btrips?\b|\bflights?\b|\bvacation\w*|\bholiday\w*",
     frozenset({"travel", "home", "origin", "transport"})),
    (r"\bwork\b|\bcareer\b|\bjobs?\b|\bprofession\w*|\bemploy\w*",
     frozenset({"job", "employer", "education", "tech"})),
    (r"\btech\w*|\bprogramming\b|\bcod(?:e|ing)\b|\bsoftware\b|\btools?\b", frozenset({"tech"})),
    (r"\bmusic\w*", frozenset({"music"})),
    (r"\bsports?\b|\bfitness\b|\bexercise\b|\bworkouts?\b",
     frozenset({"running", "cycling", "swimming", "hiking", "climbing", "fitness", "sports",
                "triathlon"})),
    (r"\bhobb\w*|\binterests?\b|\bleisure\b|\bfree time\b",
     frozenset({"hobbies", "reading", "screen", "games", "music", "hiking", "sports",
                "cooking"})),
    (r"\bfamil\w*|\bpets?\b|\brelationships?\b",
     frozenset({"family", "partner", "pets"})),
    (r"\blanguages?\b", frozenset({"languages"})),
    (r"\bpreferences?\b|\blikes?\b|\bdislikes?\b|\btastes?\b", frozenset({"*"})),
)
_FOCUS_RES = tuple((re.compile(p, re.IGNORECASE), topics) for p, topics in _FOCUS_WORDS)
_FOCUS_DIRECTIVE = re.compile(
    r"\b(?:only|focus\w*|just|solely|exclusively|limit\w* to|restrict\w* to|mainly|primarily)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ProfileGuidance:
    """What ``user_profile_details`` asks for: categories to exclude, topics to focus on
    (empty: every topic)."""

    excluded: frozenset[str] = frozenset()
    focus: frozenset[str] = frozenset()

    def allows_topic(self, topic: str | None) -> bool:
        if not self.focus or "*" in self.focus:
            return True
        return topic in self.focus


@lru_cache(maxsize=256)
def parse_guidance(details: str | None) -> ProfileGuidance:
    """Read a store's ``user_profile_details``.

    Args:
        details: free text, for example "Avoid irrelevant or sensitive data, such as age,
            financials, precise location, and credentials", or "Focus on food and travel".

    Returns:
        The categories to exclude and the topics to keep (empty focus keeps every topic).

    Example::

        parse_guidance("Avoid age and credentials").excluded  # {"age", "credentials"}
    """
    if not details or not details.strip():
        return ProfileGuidance()
    excluded: set[str] = set()
    focus: set[str] = set()
    for sentence in re.split(r"[.;\n]+|\bbut\b", details):
        if not sentence.strip():
            continue
        negative = _NEGATIVE_DIRECTIVE.search(sentence)
        if negative:
            scope = sentence[negative.start():]
            for pattern, categories in _GUIDANCE_RES:
                if pattern.search(scope):
                    excluded |= categories
            head = sentence[:negative.start()]
        else:
            head = sentence
        if _FOCUS_DIRECTIVE.search(head) or (not negative and _is_bare_list(head)):
            for pattern, topics in _FOCUS_RES:
                if pattern.search(head):
                    focus |= topics
    if PRECISE_LOCATION in excluded and LOCATION in excluded:
        # "precise location" names both patterns; only drop cities when location itself is asked.
        if not re.search(r"(?<!precise )(?<!exact )\blocation", details, re.IGNORECASE):
            excluded.discard(LOCATION)
    return ProfileGuidance(frozenset(excluded), frozenset(focus))


def _is_bare_list(text: str) -> bool:
    words = re.findall(r"[a-z]+", text.lower())
    return 0 < len(words) <= 8 and not re.search(
        r"\b(?:is|are|should|must|please|store|remember|extract|keep)\b", text, re.IGNORECASE
    )


# -- detectors ---------------------------------------------------------------------------------

_STREET_SUFFIX = (r"(?i:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court"
                  r"|ct|place|pl|terrace|close|crescent|square|sq|parkway|pkwy|highway|hwy"
                  r"|straße|strasse|str|gasse|platz|weg|allee)")
_ADDRESS_RES = (
    re.compile(r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){1,4}" + _STREET_SUFFIX
               + r"\b\.?(?:\s+[NSEW]{1,2}\b)?"),
    re.compile(r"\b(?i:rue|via|calle|avenida|rua)\s+(?:[\w'-]+\s+){0,3}[\w'-]+,?\s*\d{1,5}\b"),
    re.compile(r"\b(?i:rue|via|calle|avenida|rua)\s+[A-Z]"),
    re.compile(r"(?i)\b(?:apartment|apt|flat|unit|suite)\s*#?\s*\d+\w?\b"),
    re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b"),  # UK postcode
    re.compile(r"\b[A-Z]{2}\s\d{5}(?:-\d{4})?\b"),  # US state + ZIP
    re.compile(r"(?i)\b(?:zip|post)\s?code\b"),
    re.compile(r"(?i)\bp\.?\s?o\.?\s?box\s*\d+"),
    re.compile(r"-?\d{1,3}\.\d{3,},\s*-?\d{1,3}\.\d{3,}"),
    re.compile(r"(?i)\b(?:my|their|home|street) address\b"),
    re.compile(r"(?i)\blives? at\s+\d"),
)
_LANDMARK_RE = re.compile(
    r"(?i:\b(?:right by|near|next to|close to|around the corner from|across (?:the street )?from"
    r"|a block from|opposite|just off|on the corner of|overlooking))\s+(?:the\s+)?[A-Z]"
)
_LOCATION_RE = re.compile(
    r"(?i)\b(?:lives?|living|based|resides?|reside|moved|relocated|from|grew up|born)\s+"
    r"(?:in|at|near|to|from|up in)?\b|\bhometown\b|\bneighbou?rhood\b"
)
_AGE_RES = (
    re.compile(r"(?i)\b(?:I am|is|am|aged?|turned|turning|turns|just turned)\s+"
               r"(?:about |almost |nearly |over |under |only )?\d{1,3}\b(?!\s*(?:%|percent|"
               r"minutes?|mins?|hours?|hrs?|km|k\b|miles?|kg|kilos?|lbs?|pounds|dollars|euros|"
               r"\$|am\b|pm\b|a\.m|p\.m|o'clock|cm|m\b|feet|foot|ft|inches|in\b|times|days?|"
               r"weeks?|months?|years? (?:ago|of)|[:.,]\d|-\d|/\d|th\b|st\b|nd\b|rd\b))"),
    re.compile(r"(?i)\b\d{1,3}[- ]?(?:years?|yrs?)[- ]old\b"),
    re.compile(r"(?i)\b\d{1,3}\s?(?:yo|y/o)\b"),
    re.compile(r"(?i)\bborn (?:in|on) (?:\w+ )?(?:\d{1,2},? )?(?:19|20)\d\d\b"),
    re.compile(r"(?i)\b(?:birthday|date of birth|birth date|birthdate|dob)\b"),
    re.compile(r"(?i)\b(?:my|their|his|her) age\b|\bage (?:is |of )?\d"),
    re.compile(r"(?i)\bin (?:my|their) (?:early |mid |late )?(?:teens|twenties|thirties|forties"
               r"|fifties|sixties|seventies|eighties|[2-9]0s)\b"),
)
_FINANCIAL_RES = (
    re.compile(r"(?i)\b(?:salary|salaries|income|earn|earns|earning|earned|wages?|net worth"
               r"|savings|saved up|bank(?:ing)? (?:account|balance|details|statement)"
               r"|credit (?:card|score|limit|history)|debit card|debts?|mortgage|loans?|owes?"
               r"|investments?|portfolio|stocks|shares in|401\(?k\)?|pension|tax(?:es)? "
               r"(?:return|bill|bracket)|rent is|pay(?:s)? rent|paycheck|payslip|bonus|raise of"
               r"|in debt|broke|bankrupt\w*|inheritance|crypto(?:currency)? holdings)\b"),
    re.compile(r"[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:dollars|euros|pounds|usd|eur|gbp|bucks)\b", re.I),
    re.compile(r"(?i)\b(?:make|makes|making|made)\s+(?:about |around |over |under )?"
               r"[$€£]?\d[\d,.]*\s?(?:k|m|grand|thousand|million)?\b"),
)
_CREDENTIAL_RE = re.compile(
    r"(?i)\b(?:password|passwords|passwd|passcode|passphrase|pin(?: code| number)?"
    r"|api[ _-]?keys?|access (?:key|token)s?|secret(?: key)?s?|auth(?:entication)? tokens?"
    r"|bearer tokens?|tokens?|credentials?|login (?:details|credentials)|username and password"
    r"|2fa codes?"
    r"|otp|one-time codes?|recovery codes?|ssh keys?|private keys?|seed phrase)\b"
    r"(?! manager)"
)
_HEALTH_RE = re.compile(
    r"(?i)\b(?:diagnos\w*|diabet\w*|asthma\w*|cancer|tumou?r|chemo\w*|hiv|aids|depress\w*"
    r"|anxiety|adhd|autis\w*|bipolar|schizo\w*|ptsd|ocd|medication\w*|medicine|prescri\w*"
    r"|insulin|therap\w*|surgery|surgeries|operation on|illness\w*|disease\w*|disorder\w*"
    r"|syndrome|chronic|pregnan\w*|miscarriage|blood pressure|cholesterol|migraines?|epilep\w*"
    r"|allerg\w*|intoleran\w*|injur\w*|disabilit\w*|disabled|hospitali[sz]ed|rehab\w*"
    r"|symptoms?|infection|covid|doctor says|sick with)\b"
)
_CONTACT_RE = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.-]+|(?<!\d)\+?\d[\d\s().-]{7,}\d(?!\d)|(?i:\b(?:phone|mobile|cell)"
    r"(?: number)?\b|\bemail address\b)"
)
_GOVERNMENT_ID_RE = re.compile(
    r"(?i)\b(?:ssn|social security(?: number)?|national insurance(?: number)?|ni number"
    r"|passport(?: number| no)?|driver'?s? licen[cs]e(?: number)?|tax id|tin|national id"
    r"|id card number|sin number|aadhaar|personnummer|bsn)\b"
)
_RELIGION_RE = re.compile(
    r"(?i)\b(?:christian\w*|catholic\w*|protestant\w*|muslim\w*|islam\w*|jewish|judaism|hindu\w*"
    r"|buddhis\w*|sikh\w*|atheis\w*|agnostic|religio\w*|church|mosque|synagogue|temple|pray\w*"
    r"|faith)\b"
)
_POLITICS_RE = re.compile(
    r"(?i)\b(?:vote[ds]?|voting|democrat\w*|republican\w*|labou?r party|conservative party"
    r"|liberal party|tory|tories|socialist\w*|libertarian\w*|left-wing|right-wing|politic\w*"
    r"|election\w*)\b"
)
_SEXUALITY_RE = re.compile(
    r"(?i)\b(?:gay|lesbian|bisexual|bi|straight|queer|asexual|pansexual|transgender|trans"
    r"|non-binary|nonbinary|sexual\w*|orientation)\b"
)
_ETHNICITY_RE = re.compile(
    r"(?i)\b(?:ethnic\w*|race|racial|caucasian|hispanic|latin[oax]|black|white|asian)\b"
)
_FAMILY_RE = re.compile(
    r"(?i)\b(?:wife|husband|spouse|partner|kids?|children|child|son|daughter|sister|brother"
    r"|mother|father|mom|mum|dad|parents?|family|grand\w+|baby|niece|nephew|cousin)\b"
)
_WORK_RE = re.compile(
    r"(?i)\b(?:work|works|working|job|employer|employed|company|career|colleague\w*|boss)\b"
)

_CATEGORY_RES: dict[str, tuple[re.Pattern[str], ...]] = {
    AGE: _AGE_RES,
    FINANCIAL: _FINANCIAL_RES,
    CREDENTIALS: (_CREDENTIAL_RE,),
    HEALTH: (_HEALTH_RE,),
    CONTACT: (_CONTACT_RE,),
    GOVERNMENT_ID: (_GOVERNMENT_ID_RE,),
    RELIGION: (_RELIGION_RE,),
    POLITICS: (_POLITICS_RE,),
    SEXUALITY: (_SEXUALITY_RE,),
    ETHNICITY: (_ETHNICITY_RE,),
    FAMILY: (_FAMILY_RE,),
    WORK: (_WORK_RE,),
}

# -- always-on secrets -------------------------------------------------------------------------

_SECRET_VALUE_RE = re.compile(
    r"(?i)\b(?:password|passwd|passcode|passphrase|pin(?: code| number)?|pwd|"
    r"api[ _-]?key|secret(?: key)?|access (?:key|token)|(?:auth |bearer |api )?token"
    r"|seed phrase|recovery code)s?"
    r"\b[^.;\n]{0,20}?(?:\bis\b|\bwas\b|[:=])\s*['\"`]?[^\s'\"`]{3,}"
    r"|\b(?:password|passcode|pin)s?\b[^.;\n]{0,20}?\bto\s+['\"`]?[^\s'\"`]{3,}"
)
_KEY_RES = (
    re.compile(r"\b(?:sk|pk|rk)-(?:[A-Za-z]+-)?[A-Za-z0-9_-]{16,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\b(?:glpat|npm|pypi|hf)[-_][A-Za-z0-9_-]{16,}"),
)
_TOKENISH_RE = re.compile(r"(?<![\w/.-])(?=[\w-]*\d)(?=[\w-]*[a-z])(?=[\w-]*[A-Z])[\w-]{24,}")
_CARD_RE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]){11,30}\b")
_SSN_RE = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_NINO_RE = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")
_ID_VALUE_RE = re.compile(
    r"(?i)\b(?:ssn|social security(?: number)?|passport(?: number| no\.?)?|national insurance"
    r"(?: number)?|driver'?s? licen[cs]e(?: number)?|tax id)\b[^.;\n]{0,15}?\b[A-Z0-9-]{6,}\b"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _iban_ok(candidate: str) -> bool:
    iban = candidate.replace(" ", "")
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def secret_reason(text: str) -> str | None:
    """Why ``text`` must never be stored (a secret it carries), or ``None``.

    Always on, whatever the store options: passwords/PINs given with a value, API keys and
    tokens, private keys, card numbers, IBANs, SSNs and similar government id numbers.

    Example::

        secret_reason("my password is hunter2")  # "password"
        secret_reason("Uses a password manager")  # None
    """
    if _SECRET_VALUE_RE.search(text):
        return "password"
    for pattern in _KEY_RES:
        if pattern.search(text):
            return "api_key"
    for match in _TOKENISH_RE.finditer(text):
        if not re.fullmatch(r"[A-Za-z]+(?:-[A-Za-z]+)*", match.group(0)):
            return "api_key"
    for match in _CARD_RE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and _luhn_ok(digits) and len(set(digits)) > 1:
            return "card_number"
    for match in _IBAN_RE.finditer(text):
        if _iban_ok(match.group(0)):
            return "iban"
    if _SSN_RE.search(text) or _NINO_RE.search(text) or _ID_VALUE_RE.search(text):
        return "government_id"
    return None


def sensitive_reason(text: str, excluded: Iterable[str]) -> str | None:
    """The first category of ``excluded`` that ``text`` carries (or a secret), else ``None``.

    ``text`` may be first person ("I earn 120k") or third person ("Earns 120k").
    """
    secret = secret_reason(text)
    if secret:
        return secret
    excluded = frozenset(excluded)
    for category in sorted(excluded):
        if category in (PRECISE_LOCATION, LOCATION):
            continue
        if any(p.search(text) for p in _CATEGORY_RES.get(category, ())):
            return category
    if PRECISE_LOCATION in excluded and _is_precise_location(text):
        return PRECISE_LOCATION
    if LOCATION in excluded and (_LOCATION_RE.search(text) or _is_precise_location(text)):
        return LOCATION
    return None


def _is_precise_location(text: str) -> bool:
    return any(p.search(text) for p in _ADDRESS_RES) or bool(_LANDMARK_RE.search(text))


# -- trimming ----------------------------------------------------------------------------------

_SEGMENT_SPLIT = re.compile(r"(\s*;\s*|,\s+(?:and\s+)?|\s+who\s+(?=(?:is|was)\s+\d)"
                            r"|\s+and\s+(?=(?:is|has|lives|earns|works|"
                            r"loves|likes|was|makes|plays|owns|uses|am|have|live|earn|work|love|"
                            r"like|make|play|own|use)\b))")
_CITY_RE = re.compile(r"^(?:in\s+)?([A-Z][\w'-]+(?:[ -][A-Z][\w'-]+){0,2})$")


def trim_sensitive(text: str, excluded: Iterable[str]) -> str | None:
    """``text`` without the clauses that carry a secret or an excluded category.

    Returns the remaining text (tidied) or ``None`` when nothing harmless is left. A street
    address inside "lives at …" becomes "lives in <city>" when only precise location is
    excluded and the city can be found.

    Example::

        trim_sensitive("Is 34, earns 120k and loves hiking", {"age", "financial"})
        # "Loves hiking"
    """
    excluded = frozenset(excluded)
    if sensitive_reason(text, excluded) is None:
        return text
    pieces = _SEGMENT_SPLIT.split(text)
    segments = pieces[0::2]
    kept: list[str] = []
    for index, segment in enumerate(segments):
        if not segment.strip():
            continue
        reason = sensitive_reason(segment, excluded)
        if reason is None:
            if not _is_city_tail(segment, segments, index, excluded):
                kept.append(segment.strip())
            continue
        if reason == PRECISE_LOCATION and LOCATION not in excluded:
            city = _city_of(segment, segments[index + 1:])
            if city:
                kept.append(_as_lives_in(segment, city))
    kept = [k for k in kept if k]
    if not kept:
        return None
    joined = ", ".join(dict.fromkeys(kept))
    if sensitive_reason(joined, excluded):
        return None
    return tidy(joined)


def _is_city_tail(segment: str, segments: Sequence[str], index: int, excluded: frozenset) -> bool:
    """Whether ``segment`` is the bare city after an address ("…Baker Street", "London")."""
    if index == 0 or not _CITY_RE.match(segment.strip()):
        return False
    return sensitive_reason(segments[index - 1], excluded) == PRECISE_LOCATION


def _city_of(segment: str, following: Sequence[str]) -> str | None:
    match = re.search(r"\b(?:in|,)\s+([A-Z][\w'-]+(?:[ -][A-Z][\w'-]+){0,2})\s*$", segment)
    if match and not any(p.search(match.group(1)) for p in _ADDRESS_RES):
        return match.group(1)
    match = re.search(r"\blives?\s+in\s+([A-Z][\w'-]+(?:[ -][A-Z][\w'-]+){0,2})", segment)
    if match:
        return match.group(1)
    for nxt in following[:1]:
        city = _CITY_RE.match(nxt.strip())
        if city and not _is_precise_location(nxt):
            return city.group(1)
    return None


def _as_lives_in(segment: str, city: str) -> str:
    verb = re.match(r"\s*(I\s+)?(\w+)", segment)
    if verb and verb.group(2).lower() in {"live", "lives", "living", "based", "reside",
                                          "resides", "moved", "is", "am"}:
        lead = "live" if verb.group(2).lower() == "live" else "lives"
        return f"{lead} in {city}"
    return ""


def filter_candidates(
    candidates: Sequence[Candidate], options: StoreOptions
) -> list[Candidate]:
    """Post-filter any extractor's candidates: drop or trim what the store must not keep.

    Secrets are removed from every kind. The categories ``user_profile_details`` excludes are
    removed from every kind too (a chat summary must not carry the salary a profile may not),
    and its focus topics, if any, restrict profile memories. Forget candidates pass unchanged.

    Example::

        filter_candidates(llm_candidates, store.options)
    """
    guidance = parse_guidance(options.user_profile_details)
    kept: list[Candidate] = []
    for candidate in candidates:
        if candidate.action == "forget":
            kept.append(candidate)
            continue
        content = trim_sensitive(candidate.content, guidance.excluded)
        if not content:
            continue
        if candidate.kind is MemoryKind.USER_PROFILE:
            topics = topics_of(content) or (candidate.topic,)
            if guidance.focus and not any(guidance.allows_topic(t) for t in topics):
                continue
        if content != candidate.content:
            candidate = replace(candidate, content=capitalise(content))
        kept.append(candidate)
    return kept
