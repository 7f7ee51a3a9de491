"""First-person statements to third-person profile facts, by rule.

:func:`profile_facts` takes one clause of a user message ("I prefer dark roast coffee and
usually drink it in the morning") and returns the durable facts it states ("Prefers dark roast
coffee, usually in the morning"), each with its topic. Questions, hypotheticals, hedges,
requests, one-off events and small talk give nothing. The rules are deliberately conservative:
a fact missed costs less than a wrong fact stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memvault.engine.extraction import english as en
from memvault.engine.extraction.topics import topic_of

# -- vocabulary --------------------------------------------------------------------------------

RELATIONS = ("wife", "husband", "partner", "girlfriend", "boyfriend", "fiance", "fiancee",
             "son", "daughter", "sister", "brother", "mother", "father", "mom", "mum", "dad",
             "grandmother", "grandfather", "grandma", "grandpa", "aunt", "uncle", "cousin",
             "niece", "nephew", "baby", "stepson", "stepdaughter", "twin", "best friend",
             "roommate", "flatmate", "boss", "kids", "children", "parents", "sons", "daughters",
             "sisters", "brothers", "twins", "grandparents", "in-laws")
PETS = ("dog", "cat", "kitten", "puppy", "parrot", "hamster", "rabbit", "bunny", "tortoise",
        "turtle", "horse", "guinea pig", "goldfish", "snake", "lizard", "retriever",
        "labrador", "poodle", "terrier", "spaniel", "beagle", "husky", "pet")
_REL = "|".join(sorted((re.escape(r) for r in RELATIONS + PETS), key=len, reverse=True))

NATIONALITIES = frozenset(
    """american british english scottish welsh irish canadian australian french german dutch
    belgian swiss austrian italian spanish portuguese brazilian mexican argentinian chilean
    colombian peruvian japanese chinese korean indian pakistani bangladeshi vietnamese thai
    filipino indonesian malaysian singaporean turkish greek polish czech slovak hungarian
    romanian bulgarian ukrainian russian swedish norwegian danish finnish icelandic israeli
    egyptian moroccan nigerian kenyan ghanaian ethiopian african european asian latino latina
    scandinavian""".split()
)

DURABLE_ADJECTIVES = frozenset(
    """vegetarian vegan pescatarian pescetarian left-handed right-handed ambidextrous
    colorblind colourblind married single divorced engaged widowed retired unemployed
    self-employed freelance introverted extroverted introvert extrovert diabetic deaf blind
    pregnant celiac coeliac bilingual trilingual multilingual teetotal sober lactose-intolerant
    gluten-intolerant nearsighted short-sighted farsighted vaccinated religious agnostic
    atheist""".split()
)

_ONGOING = ("learning", "studying", "training for", "training", "building", "working on",
            "writing", "planning", "saving for", "saving up for", "preparing for",
            "renovating", "taking", "practicing", "practising", "teaching", "raising",
            "expecting", "looking after", "caring for", "recovering from", "majoring in",
            "trying to", "hoping to", "aiming to", "planning to", "thinking of", "getting into",
            "doing", "running", "developing", "researching", "organising", "organizing")
_ONGOING_WITHOUT_TOPIC = frozenset({"learning", "studying", "training for", "planning",
                                    "saving for", "saving up for", "majoring in", "raising",
                                    "expecting", "planning to", "hoping to", "aiming to",
                                    "preparing for"})

GOAL_VERBS = frozenset(
    """learn become run visit travel move buy start build get lose save retire write open launch
    finish complete improve try climb see study switch change adopt read cook eat quit stop
    spend go take compete join master speak play make own swim cycle hike walk publish
    graduate apply""".split()
)

NON_DURABLE_VERBS = frozenset(
    """need want think know guess hope see mean wonder feel agree understand remember forget get
    try ask say tell believe suppose bet doubt promise apologise apologize hear mind wish imagine
    expect look let put give come leave find check send show fix help call wait bring pick
    turn face head hang fill return reply respond explain decide consider count argue accept
    allow receive report present push pull push rate record sign text type deliver borrow lend
    kill die fall hold miss""".split()
)

_TRANSIENT_TIME = re.compile(
    r"\b(?:today|tonight|yesterday|this (?:morning|afternoon|evening)|right now|just now"
    r"|at the moment|earlier today|a (?:minute|moment|second|few minutes) ago|last night"
    r"|this week|this weekend|tomorrow)\b",
    re.IGNORECASE,
)
_RELATIVE_TIME = re.compile(
    r",?\s*\b(?:yesterday|today|tonight|this (?:morning|afternoon|evening|week|weekend)"
    r"|last (?:night|week|weekend|month|year|monday|tuesday|wednesday|thursday|friday|saturday"
    r"|sunday|summer|winter|spring|autumn|fall)|(?:a|one|two|three|four|five|six|seven|eight"
    r"|nine|ten|a few|several|\d+) (?:days?|weeks?|months?|years?) ago|earlier today"
    r"|the other day|just now|at the moment|right now|these days|nowadays|lately|recently"
    r"|currently|anymore|any more|now|again|too|as well|at all|finally|officially)\b",
    re.IGNORECASE,
)

_PREFIX = re.compile(
    r"^(?:(?:(?:yes|yeah|yep|no|nope)(?=\s*[,.!])|oh|ok|okay|so|well|and|also|btw|by the way"
    r"|actually|anyway|anyways|hmm+|um+|uh+|sure|honestly|fine|alright|right|plus|oh and"
    r"|fun fact|fyi"
    r"|for the record|for what it is worth|just so you know|just to let you know|to be honest"
    r"|in fact|as a matter of fact|quick update|big news|good news|update|heads up"
    r"|quick heads up|on second thought|personally|sorry|hey|hi|hello|hey there|good morning"
    r"|good evening|thanks|thank you|cool|great|nice|awesome|haha|lol|wow|well actually"
    r"|funny enough|as it happens|come to think of it|speaking of which|also worth noting"
    r"|i should mention(?: that)?|i forgot to mention(?: that)?|i should tell you(?: that)?"
    r"|(?:it )?turns out(?: that)?|(?:please )?(?:remember|note|keep in mind|be aware)(?: that)?"
    r"|(?:please )?(?:make a note|take note)(?: that)?|you should know(?: that)?"
    r"|just (?:fyi|so you know)|i (?:wanted|want) to (?:say|tell you|mention|let you know)"
    r"(?: that)?|let me tell you(?: that)?|to clarify|correction|i meant(?: to say)?"
    r"|i mean|what i meant (?:is|was)(?: that)?|typo(?: earlier)?|my bad"
    r"|(?:I )?(?:just |recently )?(?:found out|learned|learnt|discovered|realised|realized"
    r"|noticed)(?: that)?)\b[\s,!.:;-]*)+",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"(?:[\s,]+(?:please|thanks|thank you|lol|haha|btw|by the way|i guess|i think|anyway|too"
    r"|as well|at all|though|tbh|to be honest|just saying|haha+|:\)|:-\)|;\)|:d|!+))+\s*$",
    re.IGNORECASE,
)
_CONTRAST_TAIL = re.compile(
    r",?\s+(?:and\s+)?not\s+(?:a\s+|an\s+|the\s+)?[A-Z]?[\w'-]+(?:\s+\w+)?\s*$"
)

_HYPOTHETICAL = re.compile(
    r"\b(?:if I|if we|if only|imagine|imagining|suppose|supposing|what if|pretend|let us say"
    r"|in a world where|I wonder|wondering|hypothetically|in theory"
    r"|I would (?!like|love|prefer|rather|appreciate)|I might|I may|I could|maybe I|perhaps I"
    r"|someday I might|I wish|one day I might|in another life|dreamt|dreamed|in my dreams"
    r"|my friend|a friend of mine|someone|somebody|a colleague|my colleague|people who"
    r"|joke|kidding|jk|sarcas\w*)\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:I think|I guess|I suppose|I believe|not sure|probably|I am not sure|I doubt"
    r"|I reckon|it seems|apparently|kind of maybe|sort of maybe)\b",
    re.IGNORECASE,
)
_AUX = (r"(?:is|are|am|was|were|do|does|did|can|could|would|will|should|shall|may|might|have"
        r"|has|had|must)")
_QUESTION_START = re.compile(
    rf"^(?:(?:what|when|where|which|who|whom|whose|why)(?:\s+\w+)?\s+{_AUX}\b"
    rf"|(?:what|who|why|which)\b(?!.*,)|how\b|{_AUX}\s+(?:I|you|we|it|they|there|he|she|this"
    rf"|that|these|those|my|your|the|a|an|any)\b|any\s+(?:idea|ideas|tips|thoughts"
    rf"|suggestions|advice)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Fact:
    content: str
    topic: str | None


# -- clause preparation ------------------------------------------------------------------------


def strip_prefixes(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text).strip()
        colon = re.match(r"^[^:\"']{1,60}:\s+(.*)$", text)
        if colon and re.match(r"(?:I|we|my|our|please|always|never|from now on)\b",
                              colon.group(1), re.IGNORECASE):
            text = colon.group(1)
    return text


def clean_clause(clause: str) -> str:
    text = strip_prefixes(clause.strip().strip("\"'"))
    text = _TRAILING.sub("", text.rstrip(" .!;,")).strip()
    text = text.rstrip(" .!;,")
    if re.search(r"\b(?:sorry|typo|meant|misspoke|correction|actually)\b", clause, re.IGNORECASE) \
            or re.search(r",\s+not\s+", text):
        text = _CONTRAST_TAIL.sub("", text)
    return text.strip()


def is_question(clause: str, ends_with_question_mark: bool) -> bool:
    stripped = clause.strip()
    if stripped.endswith("?"):
        return True
    if _QUESTION_START.match(strip_prefixes(stripped)):
        return True
    return ends_with_question_mark and not re.match(r"(?:I|we|my)\b", stripped)


def is_hypothetical(sentence: str) -> bool:
    return bool(_HYPOTHETICAL.search(sentence) or _HEDGE.search(sentence))


# -- the rules ---------------------------------------------------------------------------------


def profile_facts(clause: str) -> list[Fact]:
    """The durable facts a cleaned first-person clause states (often none).

    Example::

        profile_facts("I prefer dark roast coffee and usually drink it in the morning")
        # [Fact("Prefers dark roast coffee, usually in the morning", "coffee")]
    """
    text = clean_clause(clause)
    if not text:
        return []
    facts: list[Fact] = []

    # "My wife Anna and I have two kids" -> "Is married to Anna" + "I have two kids".
    couple = re.match(r"^my (wife|husband|partner|girlfriend|boyfriend|fianc[ée]e?)\s+"
                      r"([A-Z][\w'-]+)\s+and\s+I\s+(.*)$", text, re.IGNORECASE)
    if couple:
        relation, name, rest = couple.groups()
        if relation.lower() in {"wife", "husband"}:
            facts.append(_fact(f"Is married to {name}"))
        else:
            facts.append(_fact(f"Has a {relation.lower()} named {name}"))
        text = "I " + rest
        rest_facts = _first_person(text) or _first_person("I " + rest.replace(" our ", " my "))
        return facts + rest_facts

    for rule in (_name_rule, _favourite_rule, _relation_rule, _my_x_is_y_rule):
        found = rule(text)
        if found is not None:
            return found
    return _first_person(text)


def _fact(content: str, topic: str | None = None) -> Fact:
    content = finish(content)
    return Fact(content, topic if topic is not None else topic_of(content))


def finish(content: str) -> str:
    """Shared tidy-up: pronouns, relative time, fillers, "and usually drinks it" -> ", usually"."""
    content = en.swap_pronouns(content)
    content = _RELATIVE_TIME.sub("", content)
    content = re.sub(
        r",?\s+and\s+((?:usually|often|always|normally|mostly|generally|typically|sometimes)\s+)?"
        r"(?:drinks?|eats?|has|have|takes?|does|do|plays?|goes|go|enjoys?|likes?|loves?)\s+"
        r"(?:it|them|that|those|one)\b\s*",
        lambda m: ", " + (m.group(1) or ""),
        content,
    )
    content = re.sub(r",\s+(?:found out|learned|learnt|discovered|realised|realized|figured out"
                     r"|noticed)\b.*$", "", content)
    content = re.sub(r"\b(?:a|an) (?:really |very |super )?(?:big|huge|massive) fan\b",
                     "a big fan", content)
    content = re.sub(r"\s+", " ", content)
    return en.tidy(content)


def _name_rule(text: str) -> list[Fact] | None:
    low = text.lower()
    match = re.match(r"^my (?:first |full |real )?name is ([A-Z][\w'-]+(?: [A-Z][\w'-]+)?)", text)
    if match:
        return [_fact(f"Name is {match.group(1)}", "name")]
    match = re.match(r"^(?:please |you can |just )?call me ([A-Z][\w'-]+)\b", text, re.IGNORECASE)
    if match:
        return [_fact(f"Prefers to be called {match.group(1).capitalize()}", "name")]
    match = re.match(r"^(?:everyone|everybody|people|my friends|most people) calls? me "
                     r"([A-Z][\w'-]+)", text, re.IGNORECASE)
    if match:
        return [_fact(f"Goes by {match.group(1).capitalize()}", "name")]
    match = re.match(r"^I go by ([A-Z][\w'-]+)", text)
    if match:
        return [_fact(f"Goes by {match.group(1)}", "name")]
    match = re.match(r"^I am ([A-Z][a-z'-]+)(?: ([A-Z][a-z'-]+))?$", text)
    if match and match.group(1).lower() not in NATIONALITIES | DURABLE_ADJECTIVES \
            and topic_of(match.group(1)) is None and low not in {"i am fine", "i am good"}:
        name = " ".join(g for g in match.groups() if g)
        return [_fact(f"Name is {name}", "name")]
    return None


def _favourite_rule(text: str) -> list[Fact] | None:
    match = re.match(r"^my (?:absolute |all-time )?favou?rite ([\w' -]{1,40}?) (?:is|are) (.+)$",
                     text, re.IGNORECASE)
    if match:
        what, value = match.groups()
        return [_fact(f"Favourite {what} is {value}")]
    match = re.match(r"^([\w' -]{2,40}?) (?:has|have) (?:overtaken|replaced|beaten|dethroned)"
                     r" [\w' -]{1,40}? as my (?:new )?favou?rite ([\w' -]{1,40})$", text,
                     re.IGNORECASE)
    if match:
        return [_fact(f"Favourite {match.group(2)} is {_lower_first(match.group(1))}")]
    match = re.match(r"^([\w' -]{2,40}?) (?:is|are) (?:probably |now |currently )?(?:my )?"
                     r"(?:new |absolute |all-time )?(?:my )?favou?rite(?: ([\w' -]{1,40}))?$", text,
                     re.IGNORECASE)
    if match:
        value, what = match.group(1), match.group(2) or "thing"
        if value.lower() in {"it", "this", "that", "they", "these", "those"}:
            return []
        value = _lower_first(value)
        return [_fact(f"Favourite {what} is {value}")]
    return None


def _lower_first(text: str) -> str:
    """"Hiking" -> "hiking" (a common word), "Radiohead" stays (likely a name)."""
    first = text.split()[0] if text.split() else ""
    if topic_of(first) is not None or first.lower() in en.BASE_VERBS or first.endswith("ing"):
        return text[:1].lower() + text[1:]
    return text


def _relation_rule(text: str) -> list[Fact] | None:
    match = re.match(rf"^(?:my|our) ({_REL})(?:'s)? (?:name is|is called|is named|'s name is) "
                     rf"([A-Z][\w'-]+)", text, re.IGNORECASE)
    if match:
        relation, name = match.group(1).lower(), match.group(2)
        return [_fact(f"Has a {relation} named {name}")]
    match = re.match(rf"^(?:my|our) ({_REL})(?:,? (?-i:([A-Z][\w'-]+)),?)? (.+)$", text,
                     re.IGNORECASE)
    if not match:
        return None
    relation, name, rest = match.group(1).lower(), match.group(2), match.group(3)
    verb = re.match(r"(?:(?:also|really|still|usually|often|always|never|just)\s+)*([a-z]+)",
                    rest)
    if not verb:
        return []
    word = verb.group(1)
    plural = relation.endswith("s") and relation not in {"boss"} or relation == "children"
    named = f" named {name}" if name else ""
    if word in {"is", "was", "has", "does"} or (word.endswith("s") and word[:-1] in en.BASE_VERBS
                                                or word.endswith("es") and word[:-2] in
                                                en.BASE_VERBS or word.endswith("ies")):
        if _TRANSIENT_TIME.search(rest):
            return []
        return [_fact(f"Has a {relation}{named} who {rest}", "family"
                      if relation not in PETS else "pets")]
    if plural and (word in en.BASE_VERBS or word in {"are", "have"}):
        if _TRANSIENT_TIME.search(rest):
            return []
        return [_fact(f"{relation.capitalize()}{named} {rest}", "family")]
    return []


_TRANSIENT_NOUNS = frozenset(
    """code question problem issue computer internet connection order flight meeting day week
    phone battery car train bus app build test tests script server laptop account email inbox
    appointment package delivery bill invoice homework deadline boss team manager plan""".split()
)


def _my_x_is_y_rule(text: str) -> list[Fact] | None:
    match = re.match(r"^my ([\w' -]{1,30}?) (is|are) (.+)$", text, re.IGNORECASE)
    if not match:
        return None
    noun, verb, value = match.groups()
    head = noun.lower().split()[-1]
    if head in _TRANSIENT_NOUNS or _TRANSIENT_TIME.search(text):
        return []
    if re.match(r"(?:not|so|too|very|really|kind of|a bit|broken|down|dead|late|gone|missing"
                r"|stuck|acting|being|getting|going)\b", value, re.IGNORECASE):
        return []
    if re.match(r"goals?\b", noun, re.IGNORECASE):
        goal = re.match(r"(?:to )?(.+)$", value)
        return [_fact(f"{noun.capitalize()} {verb} to {goal.group(1)}" if value.lower()
                      .startswith("to ") else f"{noun.capitalize()} {verb} {value}")]
    fact = _fact(f"{noun} {verb} {value}")
    if fact.topic is None:
        return []
    return [fact]


# -- "I …" statements --------------------------------------------------------------------------

_FRONTED = re.compile(
    r"^((?:at|on|in|during|for|after|before|most|every|each|outside of|apart from|when|"
    r"whenever)\b[^,]{1,40}?),?\s+(I|we)\s+(.+)$",
    re.IGNORECASE,
)
_CHANGE_FRONT = re.compile(r"^(?:these days|nowadays|lately|recently|now|currently|next|then"
                           r"|after that|soon|so now|and now),?\s+",
                           re.IGNORECASE)


def _first_person(text: str) -> list[Fact]:
    trailing = ""
    text = _CHANGE_FRONT.sub("", text)
    fronted = _FRONTED.match(text)
    if fronted and not re.match(r"(?:when|whenever)\b", fronted.group(1), re.IGNORECASE):
        trailing = " " + _lower_adverbial(fronted.group(1))
        text = f"{fronted.group(2)} {fronted.group(3)}"
    elif fronted:
        trailing = ", " + _lower_adverbial(fronted.group(1))
        text = f"{fronted.group(2)} {fronted.group(3)}"
    match = re.match(r"^(?:I|we)\s+(.+)$", text, re.IGNORECASE)
    if not match:
        return []
    predicate = match.group(1)
    if _TRANSIENT_TIME.search(predicate) and not re.search(
        r"\b(?:moved|switched|quit|stopped|started|adopted|graduated|ran|finished|completed"
        r"|retired|married|changed|gave up|learning|studying)\b", predicate, re.IGNORECASE
    ):
        return []
    facts = _predicate_facts(predicate)
    if trailing:
        facts = [Fact(finish(f.content + trailing), f.topic) for f in facts]
    return facts


def _lower_adverbial(text: str) -> str:
    return text[:1].lower() + text[1:]


def _predicate_facts(predicate: str) -> list[Fact]:
    adverbs, rest = en.split_adverbs(predicate)
    kept = en.clean_adverbs(adverbs)
    aux = re.match(r"^(am|are|have|has|do|was)\s+(.*)$", rest, re.IGNORECASE)
    if aux:
        inner_adverbs, inner = en.split_adverbs(aux.group(2))
        inner_kept = en.clean_adverbs(inner_adverbs)
        rest = f"{aux.group(1)} {inner_kept + ' ' if inner_kept else ''}{inner}"
    emphatic = re.match(r"^(?:do|did) ([a-z]+)\b(.*)$", rest, re.IGNORECASE)
    if emphatic and emphatic.group(1).lower() in en.BASE_VERBS:
        rest = emphatic.group(1) + emphatic.group(2)
    low = rest.lower()
    pre = (kept + " ") if kept else ""

    for rule in _PREDICATE_RULES:
        result = rule(rest, low, pre)
        if result is not None:
            return result
    return []


def _rule_origin_home(rest: str, low: str, pre: str) -> list[Fact] | None:
    match = re.match(r"^(?:am|are) (originally )?from (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Is {match.group(1) or ''}from {match.group(2)}", "origin")]
    match = re.match(r"^(?:come|came) from (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Is from {match.group(1)}", "origin")]
    match = re.match(r"^grew up in (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Grew up in {match.group(1)}", "origin")]
    match = re.match(r"^(?:was|were) born in (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Was born in {match.group(1)}", "origin")]
    match = re.match(r"^used to live (in|at|near) (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Used to live {match.group(1)} {match.group(2)}", "past_home")]
    match = re.match(r"^(?:live|am living|are living) (in|at|near|on) (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"{pre}Lives {match.group(1)} {match.group(2)}", "home")]
    match = re.match(r"^(?:am|are) (married|engaged) to (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Is {match.group(1).lower()} to {match.group(2)}", "partner")]
    match = re.match(r"^(?:am|are) (?:now )?(based|located|settled) in (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Is {match.group(1)} in {match.group(2)}", "home")]
    match = re.match(r"^(?:have |has )?(?:just |recently |finally )?(?:moved|relocated)"
                     r"(?: back)? to ((?:[A-Z][\w'.-]*)(?:,? [A-Z][\w'.-]*){0,3})", rest)
    if match:
        return [_fact(f"Lives in {match.group(1)}", "home")]
    match = re.match(r"^(?:have |has )?(?:just |recently |finally )?moved (?:in)?to (?:a |an |the |"
                     r"our |my )?(.+?\bin ([A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,2}))$", rest)
    if match:
        return [_fact(f"Lives at {match.group(1)}", "home")]
    return None


_OCCUPATION_SUFFIX = re.compile(
    r"(?:er|or|ist|ian|ant|ent|eer|man|woman|person|nurse|doctor|chef|pilot|student|vet|ceo|cto"
    r"|cfo|founder|intern|surgeon|paramedic|barista|analyst|architect|librarian|lawyer|dentist"
    r"|pharmacist|firefighter|electrician|mechanic|plumber|farmer|scientist|artist|freelancer"
    r"|retiree|sysadmin|administrator|nanny|midwife|coach|clerk|cook|maid|guard|agent|editor"
    r"|director|officer|assistant|associate|specialist|technician|therapist|teacher|lead)$"
)


_ENTHUSIASTS = frozenset({"runner", "swimmer", "reader", "cyclist", "hiker", "climber", "gamer",
                          "cook", "baker", "gardener", "skier", "surfer", "photographer",
                          "birdwatcher", "foodie", "drinker", "eater", "sleeper", "riser",
                          "learner", "listener", "fan"})


def _rule_work(rest: str, low: str, pre: str) -> list[Fact] | None:
    match = re.match(r"^work (as .+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"{pre}Works {match.group(1)}", "job")]
    match = re.match(r"^work (at|for|in) (.+?)(?: as (.+))?$", rest, re.IGNORECASE)
    if match:
        where, place, role = match.groups()
        if where.lower() == "in" and not place[:1].isupper() and topic_of(place) is None:
            return [_fact(f"{pre}Works in {place}", "job")]
        if role:
            return [_fact(f"{pre}Works as {role} {where} {place}", "job")]
        return [_fact(f"{pre}Works {where} {place}", "employer")]
    match = re.match(r"^work (from home|remotely|remote|part[- ]time|full[- ]time|nights?|"
                     r"shifts?|weekends)(.*)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"{pre}Works {match.group(1)}{match.group(2)}", "job")]
    match = re.match(r"^(?:am|are) (?:now |currently )?(an? |the )([\w' -]+?)"
                     r"((?: (?:at|for|with|in) .+)?)$", rest, re.IGNORECASE)
    if match:
        article, role, where = match.groups()
        head = role.lower().split()[-1]
        if head.endswith("s") and head[:-1] and _OCCUPATION_SUFFIX.search(head[:-1]):
            head = head[:-1]
        if head in _ENTHUSIASTS and topic_of(role) is not None:
            return [_fact(f"Is {article}{role}{where}")]
        if _OCCUPATION_SUFFIX.search(head) and head not in {"fan", "lover", "member", "owner",
                                                            "beginner", "user", "player",
                                                            "runner", "swimmer", "reader",
                                                            "cyclist", "hiker", "climber",
                                                            "gamer", "smoker", "drinker",
                                                            "vegetarian", "person", "believer",
                                                            "speaker", "listener", "eater",
                                                            "sleeper", "riser", "learner",
                                                            "introvert", "extrovert"}:
            return [_fact(f"Is {article}{role}{where}", "job")]
    match = re.match(r"^(run|own|manage|founded|co-founded|started) (an? (?:[\w'-]+ ){0,3}"
                     r"(?:business|company|bakery|shop|restaurant|startup|cafe|café|store|agency"
                     r"|firm|practice|clinic|studio|farm|bar|salon|consultancy|nonprofit"
                     r"|charity))(.*)$", rest, re.IGNORECASE)
    if match:
        verb = match.group(1).lower()
        verb = en.third_person(verb) if verb in en.BASE_VERBS else verb
        return [_fact(f"{verb} {match.group(2)}{match.group(3)}", "employer")]
    match = re.match(r"^(?:have |has )?quit (my|our) job(.*)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Quit their job{match.group(2)}", "job")]
    return None


def _rule_income_role(rest: str, low: str, pre: str) -> list[Fact] | None:
    match = re.match(r"^(?:make|earn|get paid)\b(.*?)\bas (an? [\w' -]+?)(?: (?:at|for) (.+))?$",
                     rest, re.IGNORECASE)
    if not match:
        return None
    where = f" at {match.group(3)}" if match.group(3) else ""
    return [_fact(f"Works as {match.group(2)}{where}", "job"),
            _fact(f"Makes{match.group(1)}as {match.group(2)}", "finances")]


_PREFERENCE_VERBS = {"like": "Likes", "love": "Loves", "enjoy": "Enjoys", "prefer": "Prefers",
                     "adore": "Adores", "hate": "Hates", "dislike": "Dislikes",
                     "detest": "Detests", "loathe": "Loathes", "appreciate": "Appreciates"}


def _rule_preferences(rest: str, low: str, pre: str) -> list[Fact] | None:
    match = re.match(r"^(?:cannot|can not|could never) stand (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Dislikes {match.group(1)}")]
    match = re.match(r"^would (?:much )?rather (?:have |get |drink |eat |use )?(.+)$", rest,
                     re.IGNORECASE)
    if match and not en.starts_with_verb(match.group(1)) and not re.match(
        r"(?:you|it|that|not|if)\b", match.group(1), re.IGNORECASE
    ):
        return [_fact(f"Prefers {match.group(1)}")]
    if match:
        return []
    match = re.match(r"^cannot get enough of (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Loves {match.group(1)}")]
    match = re.match(r"^(?:am|are) (?:(really|very|so|super|totally|quite|a bit) )?into (.+)$",
                     rest, re.IGNORECASE)
    if match:
        verb = "Loves" if match.group(1) and match.group(1).lower() in {"really", "very", "so",
                                                                        "super", "totally"} \
            else "Likes"
        return [_fact(f"{verb} {match.group(2)}")]
    match = re.match(r"^(?:am|are) (not )?(?:(?:a|an) )?(?:(big|huge|massive|great) )?fan of "
                     r"(.+)$", rest, re.IGNORECASE)
    if match:
        negative, big, what = match.groups()
        if negative:
            return [_fact(f"Is not a fan of {what}")]
        return [_fact(f"Is a {'big ' if big else ''}fan of {what}")]
    match = re.match(r"^(?:am|are) (?:really |very |quite )?(?:fond of|obsessed with|crazy about"
                     r"|passionate about|addicted to)\s+(.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Loves {match.group(1)}")]
    match = re.match(r"^(do not|does not|no longer|never) (?:really )?(?:(really) )?"
                     r"(like|love|enjoy|eat|drink|watch|play|use|smoke|drive|cook|read|listen to"
                     r"|do|care for|mind|go|wear|speak|work|own|have)\b(.*)$", rest, re.IGNORECASE)
    if match:
        neg, _, verb, tail = match.groups()
        neg = neg.lower()
        if verb.lower() == "have" and not topic_of(tail):
            return []
        if neg in {"do not", "does not"}:
            return [_fact(f"Does not {verb.lower()}{tail}")]
        return [_fact(f"{neg.capitalize()} {en.third_person(verb.lower())}{tail}")]
    verb = re.match(r"^(like|love|enjoy|prefer|adore|hate|dislike|detest|loathe|appreciate)\b"
                    r"(.*)$", rest, re.IGNORECASE)
    if verb:
        head, tail = verb.group(1).lower(), verb.group(2)
        if re.match(r"\s+(?:it when you|when you|that you|how you|your|you)\b", tail,
                    re.IGNORECASE):
            return []  # about the assistant: procedural, not a profile fact
        if re.match(r"\s+(?:it|that|this|them)\s*$", tail, re.IGNORECASE) or not tail.strip():
            return []
        conj = en.conjugate_predicate(f"{head}{tail}")
        return [_fact(f"{pre}{conj}")]
    return None


_ALLERGY_OR_DIET = re.compile(
    r"^(?:am|are) (not |no longer |now |also )*((?:severely |mildly |very |highly )?"
    r"(?:allergic to|intolerant to|intolerant of|sensitive to|lactose[- ]intolerant|"
    r"gluten[- ]intolerant|celiac|coeliac|vegetarian|vegan|pescatarian|pescetarian|"
    r"an? (?:vegetarian|vegan|pescatarian|pescetarian)|on an? [\w-]+ diet|keto|paleo|"
    r"teetotal|sober|kosher|halal)\b.*)$",
    re.IGNORECASE,
)


def _rule_states(rest: str, low: str, pre: str) -> list[Fact] | None:
    match = _ALLERGY_OR_DIET.match(rest)
    if match:
        modifiers = (match.group(1) or "").lower()
        value = re.sub(r"^an? (?=vegetarian|vegan|pescatarian|pescetarian)", "", match.group(2),
                       flags=re.IGNORECASE)
        negation = "not " if "not" in modifiers else ("no longer " if "no longer" in modifiers
                                                      else "")
        return [_fact(f"Is {negation}{value}")]
    match = re.match(r"^(?:am|are) (not |no longer )?((?:an? )?(?:early riser|night owl|morning "
                     r"person|evening person|introvert|extrovert|only child|twin|dog person"
                     r"|cat person|big eater|picky eater|light sleeper|heavy sleeper|"
                     r"fast learner))\b(.*)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Is {match.group(1) or ''}{match.group(2)}{match.group(3)}")]
    match = re.match(r"^(?:am|are) (not |no longer )?([\w-]+)$", rest, re.IGNORECASE)
    if match:
        word = match.group(2).lower()
        if word in DURABLE_ADJECTIVES:
            return [_fact(f"Is {match.group(1) or ''}{word}")]
        if word in NATIONALITIES:
            return [_fact(f"Is {match.group(1) or ''}{word.capitalize()}", "origin")]
        return []
    ongoing = re.match(r"^(?:am|are) (" + "|".join(sorted(_ONGOING, key=len, reverse=True))
                       + r")\s+(.+)$", rest, re.IGNORECASE)
    if ongoing:
        verb, what = ongoing.group(1).lower(), ongoing.group(2)
        if verb in {"trying to", "hoping to", "aiming to", "planning to"}:
            first = what.split()[0].lower() if what.split() else ""
            if first not in GOAL_VERBS:
                return []
        if verb == "taking" and not re.search(r"\b(?:course|class|classes|lessons?|medication)\b",
                                              what, re.IGNORECASE):
            return []
        if verb not in _ONGOING_WITHOUT_TOPIC and topic_of(what) is None:
            return []
        if re.match(r"(?:to )?(?:find|figure|understand|know|decide|fix|get)\b", what,
                    re.IGNORECASE):
            return []
        return [_fact(f"Is {verb} {what}")]
    return None


def _rule_changes(rest: str, low: str, pre: str) -> list[Fact] | None:
    match = re.match(r"^(?:have |has )?(?:now )?(?:switched|changed|converted|moved|gone over)"
                     r"(?: over)? (?:from (.+?) )?to (.+)$", rest, re.IGNORECASE)
    if match:
        old, new = match.groups()
        topic = topic_of(old) if old else None
        return [_fact(f"Has switched to {new}", topic or topic_of(new))]
    match = re.match(r"^(?:have |has )?(?:moved|changed|shifted|switched) (my|our) (.+?) to (.+)$",
                     rest, re.IGNORECASE)
    if match:
        return [_fact(f"Has moved their {match.group(2)} to {match.group(3)}")]
    match = re.match(r"^(?:have |has )?(quit|stopped|given up|gave up|kicked|cut out|cut back on"
                     r"|ditched|dropped)\s+(.+)$", rest, re.IGNORECASE)
    if match:
        verb, what = match.group(1).lower(), match.group(2)
        extra: list[Fact] = []
        tail = re.match(r"^(.+?)\s+and\s+(?:now\s+)?((?:[a-z]+\s+)?[a-z]+\b.*)$", what)
        if tail and en.starts_with_verb(tail.group(2)):
            what = tail.group(1)
            extra = _predicate_facts(tail.group(2))
        if topic_of(what) is None:
            return extra
        verb = {"given up": "Gave up", "gave up": "Gave up", "cut out": "Cut out",
                "cut back on": "Cut back on"}.get(verb, verb.capitalize())
        return [_fact(f"{verb} {what}")] + extra
    match = re.match(r"^(?:have |has )?(?:started|begun|began|taken up|took up)\s+(.+)$", rest,
                     re.IGNORECASE)
    if match:
        what = match.group(1)
        if topic_of(what) is None:
            return []
        return [_fact(f"Has started {what}" if not re.match(r"(?:taken|took) up", rest[:12],
                                                            re.IGNORECASE)
                      else f"Has taken up {what}")]
    match = re.match(r"^(?:have |has )?(?:just )?(?:adopted|got|gotten|bought) (an? |two |three )"
                     r"(.+)$", rest, re.IGNORECASE)
    if match and re.search(rf"\b(?:{_REL})s?\b", match.group(2), re.IGNORECASE):
        return [_fact(f"Has {match.group(1)}{match.group(2)}", "pets")]
    match = re.match(r"^(?:have |has )?(ran|run|finished|completed|graduated|passed|won|climbed"
                     r"|published|got married|got engaged|retired|hiked|swam|cycled|learned"
                     r"|learnt)\b(.*)$", rest, re.IGNORECASE)
    if match:
        verb, what = match.group(1).lower(), match.group(2)
        if topic_of(f"{verb}{what}") is None and verb not in {"graduated", "retired",
                                                              "got married", "got engaged"}:
            return []
        verb = {"run": "ran", "learnt": "learned"}.get(verb, verb)
        return [_fact(f"{verb.capitalize()}{what}")]
    return None


_HAVE_TOPICS = frozenset({"pets", "family", "partner", "health", "allergy", "education",
                          "transport", "appearance", "hobbies", "music", "tech", "home",
                          "sports", "fitness", "languages", "running", "cycling", "diet",
                          "reading", "games", "cooking", "job"})


def _rule_have(rest: str, low: str, pre: str) -> list[Fact] | None:
    if re.match(r"^(?:have|has) (?:got )?to\b", rest, re.IGNORECASE):
        return []
    match = re.match(r"^(?:have|has) (?:got )?(been|never|always|had)\s+(.+)$", rest,
                     re.IGNORECASE)
    if match:
        what = match.group(2)
        if topic_of(what) is None or re.match(r"(?:thinking|wondering|meaning|trying to (?:find"
                                              r"|figure|understand))", what, re.IGNORECASE):
            return []
        return [_fact(f"Has {match.group(1).lower()} {what}")]
    match = re.match(r"^(?:have|has) (?:got )?(.+)$", rest, re.IGNORECASE)
    if match:
        what = match.group(1)
        topic = topic_of(what)
        habit = re.search(r"\b(?:every|each|on (?:mon|tues|wednes|thurs|fri|satur|sun)days?"
                          r"|weekly|daily|twice a|once a)\b", what, re.IGNORECASE)
        if topic in _HAVE_TOPICS or (habit and topic):
            if re.match(r"(?:a|an|the|some) (?:question|problem|issue|meeting|appointment|idea"
                        r"|doubt|headache|cold|moment|minute|look|chance|call)\b", what,
                        re.IGNORECASE):
                return []
            what = re.sub(r",\s+((?:[A-Z][\w'-]+)(?:,? (?:and )?[A-Z][\w'-]+)*)$", r", \1", what)
            return [_fact(f"{pre}Has {what}", topic)]
        return []
    return None


def _rule_goals(rest: str, low: str, pre: str) -> list[Fact] | None:
    match = re.match(r"^(want|hope|plan|intend|aim|would love|would like|dream|am planning"
                     r"|am hoping|am aiming|am going) to (\w+)(.*)$", rest, re.IGNORECASE)
    if not match:
        return None
    lead, verb, tail = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if verb not in GOAL_VERBS or re.match(r"\s+(?:a |the )?(?:table|ticket|tickets|flight"
                                          r"|appointment|reservation|order|room)\b", tail):
        return []
    if lead in {"would like"} and verb not in {"learn", "become", "visit", "run", "travel",
                                                "move", "retire", "start", "write", "climb"}:
        return []
    phrase = {"want": "Wants to", "hope": "Hopes to", "plan": "Plans to", "intend": "Intends to",
              "aim": "Aims to", "would love": "Would love to", "would like": "Would like to",
              "dream": "Dreams to", "am planning": "Is planning to", "am hoping": "Hopes to",
              "am aiming": "Aims to", "am going": "Is going to"}[lead]
    tail = re.sub(r"^\s+(?:try (?:to )?)", " ", tail) if verb == "try" else tail
    if verb == "try":
        return [_fact(f"{phrase} try{tail}")]
    return [_fact(f"{phrase} {verb}{tail}")]


def _rule_modal(rest: str, low: str, pre: str) -> list[Fact] | None:
    match = re.match(r"^(can|cannot|can not) (speak|play|cook|swim|drive|code|program|sing|dance"
                     r"|ski|surf|knit|read|write|eat|drink|have|tolerate|digest|handle)\b(.*)$",
                     rest, re.IGNORECASE)
    if match:
        modal = "Cannot" if match.group(1).lower() != "can" else "Can"
        if modal == "Can" and match.group(2).lower() in {"eat", "drink", "have", "handle"}:
            return []
        return [_fact(f"{modal} {match.group(2).lower()}{match.group(3)}")]
    if re.match(r"^(?:will|would|can|could|should|must|might|may|shall|cannot|am going to"
                r"|was|were|did|had|got)\b", rest, re.IGNORECASE):
        return []
    match = re.match(r"^used to (.+)$", rest, re.IGNORECASE)
    if match:
        return [_fact(f"Used to {match.group(1)}")]
    return None


def _rule_present(rest: str, low: str, pre: str) -> list[Fact] | None:
    match = re.match(r"^([a-z]+)\b(.*)$", rest, re.IGNORECASE)
    if not match:
        return []
    verb, tail = match.group(1).lower(), match.group(2)
    if verb in {"am", "are", "have", "has", "do"}:
        return []
    if verb not in en.BASE_VERBS or verb in NON_DURABLE_VERBS or len(tail.split()) < 1:
        return []
    if verb in {"go", "take", "make", "do", "spend", "come", "walk", "eat", "drink", "use",
                "watch", "read", "play"} and not (
        topic_of(f"{verb}{tail}") or re.search(r"\b(?:every|each|usually|always|often|daily"
                                               r"|weekly)\b", f"{pre}{tail}", re.IGNORECASE)
    ):
        return []
    if verb == "like" or verb in _PREFERENCE_VERBS:
        return None
    return [_fact(f"{pre}{en.conjugate_predicate(verb + tail)}")]


_PREDICATE_RULES = (
    _rule_income_role,
    _rule_origin_home,
    _rule_work,
    _rule_changes,
    _rule_preferences,
    _rule_states,
    _rule_goals,
    _rule_have,
    _rule_modal,
    _rule_present,
)
