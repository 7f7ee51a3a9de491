"""The topic classifier: a short normalised key for what a fact is about.

Two facts with the same topic may conflict ("Lives in Paris" / "Lives in Berlin"), so the
extractor tags every candidate with :func:`topic_of` and the consolidator classifies existing
memories with the same function (memories have no topic column). The classifier is a keyword
lexicon plus a few phrase patterns; it works on first-person text ("I live in Paris") and on
third-person memory content ("Lives in Paris") alike.

Topics in :data:`SINGLE_VALUED` hold one value at a time: a new value replaces the old one even
without "switched"/"no longer".
"""

from __future__ import annotations

import re
from functools import lru_cache

from memvault.models import MemoryKind

SINGLE_VALUED = frozenset(
    {"name", "job", "employer", "home", "origin", "partner", "diet", "length", "reply_language",
     "units"}
)
"""Topics whose facts replace each other."""

# Phrase patterns, tried before the lexicon (order matters: first match is the primary topic).
_THIRD_PARTY = (r"wife|husband|partner|girlfriend|boyfriend|fianc[ée]e?|son|daughter|sister|brother"
                r"|mother|father|mom|mum|dad|parents|grandmother|grandfather|grandma|grandpa|aunt"
                r"|uncle|cousin|niece|nephew|baby|kids|children|twins?|best friend|roommate"
                r"|flatmate")
_PET_WORDS = (r"dog|cat|kitten|puppy|parrot|hamster|rabbit|bunny|tortoise|turtle|horse|guinea pig"
              r"|goldfish|snake|lizard|retriever|labrador|poodle|terrier|spaniel|beagle|husky|pet")
_OCCUPATIONS = (
    r"nurse|doctor|physician|surgeon|dentist|pharmacist|paramedic|midwife|therapist|vet"
    r"|veterinarian|teacher|professor|lecturer|tutor|student|researcher|scientist|engineer"
    r"|developer|programmer|designer|architect|analyst|consultant|accountant|lawyer|attorney"
    r"|paralegal|judge|manager|director|executive|ceo|cto|cfo|founder|entrepreneur|chef|cook"
    r"|baker|barista|bartender|waiter|waitress|pilot|driver|mechanic|electrician|plumber"
    r"|carpenter|builder|farmer|gardener|writer|author|journalist|editor|translator|artist"
    r"|musician|photographer|actor|actress|librarian|firefighter|police officer|officer"
    r"|soldier|administrator|sysadmin|technician|clerk|cashier|salesperson|recruiter"
    r"|intern|freelancer|contractor|coach|trainer|social worker|pastor|priest|economist"
    r"|statistician|mathematician|physicist|chemist|biologist|data scientist|product manager"
    r"|project manager|marketer|copywriter|illustrator|animator|nanny|caregiver|retiree"
)
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("pets", rf"^has (?:an? |two |three |\d+ )?(?:[\w-]+ ){{0,2}}(?:{_PET_WORDS})s?\b"),
    ("partner", r"^(?:is (?:married|engaged) to|has an? (?:wife|husband|partner|girlfriend"
                r"|boyfriend|fianc[ée]e?)\b)"),
    ("family", rf"^(?:has (?:an? |two |three |\d+ )?(?:{_THIRD_PARTY})s?\b"
               rf"|(?:{_THIRD_PARTY})s?\b)"),
    ("name", r"^(?:(?:first |last |full |real )?name is|goes by|prefers to be called|is called)\b"
             r"|\bmy (?:first |last |full )?name\b|\bcall me\b|\bi go by\b|\bnickname\b"),
    ("allergy", r"\ballerg\w*|\bintoleran\w*|\banaphyla\w*|\bepipen\b"),
    ("job", r"\bworks? as\b|\bmy job\b|\b(?:their|the|a|new) job\b|\bcareer\b|\bprofession\b"
            r"|\boccupation\b|\bquit (?:my|their|the) job\b"
            rf"|^(?:is|am) (?:now )?an? (?:[\w-]+ ){{0,3}}(?:{_OCCUPATIONS})s?\b"),
    ("employer", r"\bworks? (?:at|for)\b|\bemployer\b|\bemployed (?:at|by)\b"
                 r"|\bwhere (?:i|they|he|she) works?\b|\bworks as\b.*\b(?:at|for)\b"
                 rf"|^is an? (?:[\w-]+ ){{0,3}}(?:{_OCCUPATIONS}) (?:at|for)\b"
                 r"|^(?:runs|owns|founded|co-founded|manages) an? (?:[\w'-]+ ){0,3}(?:business"
                 r"|company|bakery|shop|restaurant|startup|cafe|store|agency|firm|practice"
                 r"|clinic|studio|farm|bar|salon|consultancy)\b"),
    ("past_home", r"\b(?:used to live|formerly lived|previously lived|once lived)\b"),
    ("home", r"\blives? (?:in|at|near)\b|\bliving in\b|\bbased in\b|\bmoved to\b|\bresides? in\b"
             r"|\brelocated to\b|\bwhere (?:i|they) live\b|\bmy address\b|\baddress\b"),
    ("origin", r"\b(?:am|is|are|originally|comes?|come) from\b|\bgrew up in\b|\bborn in\b"
               r"|\bhometown\b|\bnationality\b"),
)

# Lexicon, in priority order: earlier topics win when a text hits several.
_LEXICON: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("diet", ("vegetarian", "vegan", "pescatarian", "pescetarian", "keto", "paleo", "halal",
              "kosher", "diet", "plant-based", "plant based", "carnivore", "gluten-free",
              "gluten free", "dairy-free", "eat meat", "eats meat", "eating meat", "no meat",
              "eat fish", "eating fish", "meat")),
    ("smoking", ("smoke", "smokes", "smoking", "smoker", "cigarette", "cigarettes", "vape",
                 "vaping", "nicotine")),
    ("coffee", ("coffee", "espresso", "latte", "cappuccino", "americano", "roast", "decaf",
                "macchiato", "mocha", "flat white", "cold brew", "cortado", "barista")),
    ("tea", ("tea", "matcha", "chai", "earl grey", "oolong", "rooibos")),
    ("drinks", ("beer", "wine", "whisky", "whiskey", "cocktail", "alcohol", "soda", "juice",
                "gin", "rum", "vodka", "sake", "drinking")),
    ("partner", ("wife", "husband", "spouse", "partner", "girlfriend", "boyfriend", "fiance",
                 "fiancee", "married", "divorced", "engaged", "widowed", "single")),
    ("family", ("kid", "kids", "child", "children", "son", "daughter", "sister", "brother",
                "sibling", "mother", "father", "mom", "mum", "dad", "parents", "grandma",
                "grandpa", "grandmother", "grandfather", "baby", "family", "twins", "niece",
                "nephew", "aunt", "uncle", "cousin", "in-laws")),
    ("pets", ("dog", "cat", "kitten", "puppy", "pet", "retriever", "labrador", "poodle",
              "terrier", "parrot", "hamster", "rabbit", "bunny", "guinea pig", "tortoise",
              "goldfish", "spaniel", "beagle", "husky")),
    ("health", ("diabetes", "diabetic", "asthma", "diagnosed", "medication", "blood pressure",
                "migraine", "migraines", "therapy", "therapist", "surgery", "pregnant",
                "depression", "anxiety", "adhd", "autism", "cancer", "chronic", "insulin",
                "disease", "disorder", "illness", "injury", "knee", "back pain")),
    ("languages", ("speak", "speaks", "spoken", "fluent", "native speaker", "bilingual",
                   "english", "spanish", "french", "german", "portuguese", "japanese",
                   "chinese", "mandarin", "cantonese", "italian", "arabic", "hindi", "korean",
                   "russian", "dutch", "swedish", "norwegian", "danish", "finnish", "polish",
                   "greek", "turkish", "hebrew", "ukrainian", "czech", "vietnamese", "thai",
                   "swahili", "language", "languages")),
    ("running", ("running", "runner", "marathon", "half marathon", "5k", "10k",
                 "jog", "jogging", "ultramarathon")),
    ("triathlon", ("triathlon", "ironman", "duathlon")),
    ("cycling", ("cycling", "cycle", "bike", "biking", "bicycle", "cyclist")),
    ("swimming", ("swim", "swimming", "swimmer")),
    ("hiking", ("hike", "hikes", "hiking", "hiker", "trail", "trekking", "backpacking",
                "mountains")),
    ("climbing", ("climb", "climbing", "bouldering", "climber")),
    ("fitness", ("gym", "workout", "work out", "exercise", "yoga", "pilates", "weights",
                 "crossfit", "lifting", "fitness", "personal trainer")),
    ("sports", ("tennis", "football", "soccer", "basketball", "baseball", "golf", "volleyball",
                "badminton", "squash", "rugby", "cricket", "hockey", "ski", "skiing",
                "snowboard", "snowboarding", "surf", "surfing", "martial arts", "boxing",
                "karate", "judo", "sport", "sports")),
    ("music", ("music", "jazz", "rock", "pop", "hip hop", "hip-hop", "rap", "classical",
               "band", "song", "songs", "album", "concert", "guitar", "piano", "violin",
               "cello", "drums", "bass", "saxophone", "sing", "singing", "choir", "orchestra",
               "playlist", "genre", "opera", "techno", "metal", "folk", "musician", "trumpet",
               "flute", "clarinet", "trombone", "ukulele", "harp", "banjo", "accordion",
               "keyboard", "synthesizer", "harmonica", "mandolin", "oboe", "tuba")),
    ("cooking", ("cook", "cooking", "bake", "baking", "bread", "sourdough", "recipe", "recipes",
                 "chef", "kitchen", "grill", "grilling")),
    ("food", ("food", "cuisine", "dish", "dishes", "sushi", "pizza", "pasta", "ramen", "curry",
              "mushroom", "mushrooms", "spicy", "chocolate", "dessert", "desserts", "cheese",
              "fruit", "vegetables", "tacos", "burger", "burgers", "chicken", "seafood",
              "steak", "fish", "noodles", "salad", "soup", "breakfast", "lunch", "dinner",
              "snack", "snacks", "eat", "eats", "eating", "restaurant", "restaurants",
              "lasagna", "chickpeas", "cilantro", "olives", "garlic", "onions")),
    ("travel", ("travel", "travelling", "traveling", "trip", "trips", "flight", "flights",
                "fly", "flying", "vacation", "holiday", "holidays", "hotel", "hotels",
                "airline", "window seat", "window seats", "aisle seat", "aisle seats",
                "abroad", "itinerary", "pack", "packing", "visit", "visiting", "tourist",
                "road trip", "camping")),
    ("education", ("study", "studies", "studying", "student", "degree", "university",
                   "college", "school", "major", "phd", "master's", "masters", "bachelor's",
                   "graduate", "graduated", "course", "thesis", "exam", "exams")),
    ("reading", ("book", "books", "read", "reading", "reader", "novel", "novels", "author",
                 "fiction", "audiobook", "audiobooks", "poetry", "history")),
    ("screen", ("movie", "movies", "film", "films", "tv", "series", "tv show", "tv shows",
                "netflix",
                "anime", "documentary", "documentaries", "cinema", "sitcom")),
    ("games", ("game", "games", "gaming", "gamer", "video games", "board game", "board games",
               "chess", "playstation", "xbox", "nintendo", "puzzle", "puzzles", "crossword")),
    ("hobbies", ("gardening", "garden", "painting", "paint", "photography", "knitting",
                 "woodworking", "crafts", "pottery", "drawing", "sewing", "fishing",
                 "birdwatching", "museum", "museums", "art", "dancing", "dance", "writing",
                 "hobby", "hobbies", "volunteer", "volunteering")),
    ("tech", ("python", "javascript", "typescript", "rust", "golang", "java", "kotlin",
              "swift", "c++", "c#", "ruby", "php", "scala", "haskell", "elixir", "sql",
              "postgres", "postgresql", "mysql", "sqlite", "kubernetes", "docker", "terraform",
              "aws", "azure", "gcp", "linux", "windows", "macos", "mac", "ubuntu", "vim",
              "neovim", "emacs", "vscode", "vs code", "react", "vue", "angular", "django",
              "flask", "fastapi", "rails", "programming", "code", "coding", "editor", "ide",
              "framework", "laptop", "iphone", "android", "app", "api", "git", "github",
              "pandas", "spark", "jupyter", "excel", "notion", "obsidian", "blueprints",
              "virtualenv")),
    ("transport", ("car", "drive", "drives", "driving", "commute", "commutes", "commuting",
                   "public transport", "train", "bus", "subway", "metro", "scooter",
                   "motorcycle", "tesla")),
    ("sleep", ("wake up", "wakes up", "woke up", "bed", "bedtime", "sleep", "sleeps",
               "sleeping", "early riser", "night owl", "morning person", "nap")),
    ("appearance", ("left-handed", "right-handed", "left handed", "right handed", "colorblind",
                    "colourblind", "tall", "short-sighted", "glasses")),
    ("colour", ("colour", "color", "colours", "colors")),
    ("finances", ("salary", "income", "earn", "earns", "savings", "mortgage", "debt", "loan",
                  "invest", "investing", "stocks", "crypto", "bank", "budget")),
)

_PROCEDURAL_PATTERNS: tuple[tuple[str, str], ...] = (
    ("reply_language", r"\b(?:repl\w*|respon\w*|answer\w*|writ\w*|talk\w*|speak\w*|"
                       r"messages?|chat\w*)\b(?: \w+){0,3} in (?:english|spanish|french|german|"
                       r"portuguese|japanese|chinese|mandarin|italian|arabic|hindi|korean|"
                       r"russian|dutch|swedish|norwegian|danish|polish|greek|turkish)\b"),
    ("units", r"\b(?:metric|imperial|celsius|fahrenheit|units?|kilometres|kilometers|miles|"
              r"kilograms|pounds)\b"),
    ("format", r"\b(?:bullet\w*|tables?|markdown|headings?|headers?|numbered|lists?|"
               r"paragraphs?|prose|format\w*|code blocks?|json|yaml|outline|step[- ]by[- ]step|"
               r"summary first|tl;?dr)\b"),
    ("length", r"\b(?:short|shorter|brief|briefer|concise|succinct|detailed|lengthy|long|"
               r"longer|verbose|length|terse|in depth|in-depth|one[- ]liners?)\b"),
    ("tone", r"\b(?:emojis?|emoticons?|tone|formal|informal|casual|friendly|jokes?|humou?r|"
             r"polite|sarcas\w*|swear\w*|exclamation|enthusias\w*|cheerful)\b"),
)

_TECH_TOPICS = ("sql", "python", "javascript", "typescript", "rust", "golang", "java", "kotlin",
                "swift", "ruby", "php", "scala", "haskell", "elixir", "bash", "shell", "css",
                "html", "react", "django", "flask", "terraform", "docker", "kubernetes", "git")


def _phrase_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted({re.escape(w) for w in words}, key=len, reverse=True)
    # Allow a plural "s"/"es" after single words; phrases match as written.
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?:e?s)?(?![\w-])")


_COMPILED_PATTERNS = tuple((t, re.compile(p)) for t, p in _PATTERNS)
_COMPILED_LEXICON = tuple((t, _phrase_regex(words)) for t, words in _LEXICON)
_COMPILED_PROCEDURAL = tuple((t, re.compile(p)) for t, p in _PROCEDURAL_PATTERNS)
_TECH_RE = re.compile(r"(?<![\w-])(" + "|".join(_TECH_TOPICS) + r")(?![\w-])")
_GO_RE = re.compile(
    r"\b(?:in|use|uses|using|write|writes|writing|with|and) go\b|\bgo (?:code|modules?)\b"
)


@lru_cache(maxsize=4096)
def topics_of(text: str, kind: MemoryKind = MemoryKind.USER_PROFILE) -> tuple[str, ...]:
    """Every topic ``text`` touches, most specific first (possibly empty).

    Example::

        topics_of("Prefers dark roast coffee, usually in the morning")  # ("coffee",)
        topics_of("Works as a nurse at St. Mary's Hospital")  # ("job", "employer", …)
    """
    lowered = text.lower().replace("\u2019", "'")
    found: list[str] = []
    if kind is MemoryKind.PROCEDURAL:
        for topic, pattern in _COMPILED_PROCEDURAL:
            if pattern.search(lowered):
                found.append(topic)
        found.extend(m.group(1) for m in _TECH_RE.finditer(lowered))
        if _GO_RE.search(lowered):
            found.append("golang")
        return tuple(dict.fromkeys(found)) or ("style",)
    for topic, pattern in _COMPILED_PATTERNS:
        if pattern.search(lowered):
            found.append(topic)
    for topic, pattern in _COMPILED_LEXICON:
        if pattern.search(lowered):
            found.append(topic)
    if "tech" not in found and _GO_RE.search(lowered):
        found.append("tech")
    return tuple(dict.fromkeys(found))


def topic_of(text: str, kind: MemoryKind = MemoryKind.USER_PROFILE) -> str | None:
    """The primary topic of ``text``, or ``None`` when nothing in the lexicon matches.

    Args:
        text: a first-person statement or a third-person memory.
        kind: procedural memories use their own topics ("format", "length", "tone",
            "reply_language", "units", or the programming language they are about).

    Example::

        topic_of("I have switched to light roast")  # "coffee"
        topic_of("Always answer in bullet points", MemoryKind.PROCEDURAL)  # "format"
    """
    topics = topics_of(text, kind)
    return topics[0] if topics else None
