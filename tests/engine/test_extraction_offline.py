"""The offline extractor, case by case."""

from __future__ import annotations


import pytest

from memvault.engine.extraction import (
    Candidate,
    ChatMessage,
    Extraction,
    Extractor,
    OfflineExtractor,
    Usage,
)
from memvault.models import MemoryKind, StoreOptions

HOWTO_DETAILS = ("Avoid irrelevant or sensitive data, such as age, financials, precise location,"
                 " and credentials")
PROFILE_ONLY = StoreOptions(chat_summary_enabled=False, procedural_memory_enabled=False)


def extract(*texts: str, options: StoreOptions = PROFILE_ONLY,
            roles: tuple[str, ...] | None = None) -> list[Candidate]:
    messages = [ChatMessage(roles[i] if roles else "user", t) for i, t in enumerate(texts)]
    return OfflineExtractor().extract_now(messages, options)


def contents(*texts: str, options: StoreOptions = PROFILE_ONLY, kind: MemoryKind | None = None,
             roles: tuple[str, ...] | None = None) -> list[str]:
    return [c.content for c in extract(*texts, options=options, roles=roles)
            if kind is None or c.kind is kind]


async def test_implements_the_extractor_protocol():
    extractor = OfflineExtractor()
    assert isinstance(extractor, Extractor)
    result = await extractor.extract([ChatMessage("user", "I love hiking")], StoreOptions())
    assert isinstance(result, Extraction)
    assert result.usage == Usage()
    assert [c.content for c in result.candidates] == ["Loves hiking"]


def test_coffee_acceptance_example_verbatim():
    [candidate] = extract("I prefer dark roast coffee and usually drink it in the morning")
    assert candidate.content == "Prefers dark roast coffee, usually in the morning"
    assert candidate.kind is MemoryKind.USER_PROFILE
    assert candidate.action == "remember"
    assert candidate.topic == "coffee"
    assert candidate.source_indexes == (0,)


def test_coffee_follow_ups_share_the_topic():
    [also] = extract("I also like cappuccinos in the afternoon")
    [switch] = extract("I have switched to light roast")
    assert also.content == "Likes cappuccinos in the afternoon"
    assert switch.content == "Has switched to light roast"
    assert also.topic == switch.topic == "coffee"


@pytest.mark.parametrize(
    ("text", "expected", "topic"),
    [
        ("I'm allergic to peanuts", "Is allergic to peanuts", "allergy"),
        ("I'm vegetarian.", "Is vegetarian", "diet"),
        ("I no longer eat meat", "No longer eats meat", "diet"),
        ("I don't like mushrooms at all.", "Does not like mushrooms", "food"),
        ("I can't stand green tea", "Dislikes green tea", "tea"),
        ("My name is Priya", "Name is Priya", "name"),
        ("Hi, I'm Tom.", "Name is Tom", "name"),
        ("I live in Paris", "Lives in Paris", "home"),
        ("Actually I moved to Berlin last month for a new job.", "Lives in Berlin", "home"),
        ("I'm originally from Canada.", "Is originally from Canada", "origin"),
        ("I work as a nurse at St. Mary's Hospital", "Works as a nurse at St. Mary's Hospital",
         "job"),
        ("I work at Globex", "Works at Globex", "employer"),
        ("I'm a data engineer, by the way.", "Is a data engineer", "job"),
        ("I speak English and Portuguese", "Speaks English and Portuguese", "languages"),
        ("I'm learning Japanese", "Is learning Japanese", "languages"),
        ("I have a golden retriever named Max.", "Has a golden retriever named Max", "pets"),
        ("My sister lives in Madrid and loves flamenco.",
         "Has a sister who lives in Madrid and loves flamenco", "family"),
        ("My favourite band is Radiohead.", "Favourite band is Radiohead", "music"),
        ("I usually wake up at 6 and go to bed around 10pm.",
         "Usually wakes up at 6 and goes to bed around 10pm", "sleep"),
        ("I quit smoking two months ago!", "Quit smoking", "smoking"),
        ("My goal this year is to run a half marathon.",
         "Goal this year is to run a half marathon", "running"),
        ("At work we use Kubernetes and Go", "Uses Kubernetes and Go at work", "tech"),
        ("I used to live in Rome", "Used to live in Rome", "past_home"),
        ("I'm left-handed", "Is left-handed", "appearance"),
    ],
)
def test_first_person_statements_become_third_person_facts(text, expected, topic):
    [candidate] = extract(text)
    assert candidate.content == expected
    assert candidate.topic == topic


def test_a_message_can_hold_several_facts():
    assert contents("My wife Anna and I have two kids, Leo and Mia.") == [
        "Is married to Anna", "Has two kids, Leo and Mia"]
    assert contents("I can't stand green tea, but my favourite food is ramen.") == [
        "Dislikes green tea", "Favourite food is ramen"]


def test_pronouns_are_resolved_or_dropped():
    assert contents("I've come around on mushrooms, I actually like them now.") == [
        "Likes mushrooms"]
    assert contents("I like them.") == []


@pytest.mark.parametrize(
    "text",
    [
        "Do I like jazz?",
        "What's my favourite colour?",
        "Is it true that cats hate water?",
        "If I were rich I'd buy a sailing boat.",
        "Imagine I lived in Tokyo, what would my commute be like?",
        "I wonder whether I should learn Rust.",
        "I think I might be lactose intolerant, not sure.",
        "hi!",
        "thanks, bye",
        "lol ok, nice",
        "I went to the supermarket this morning, it was packed.",
        "I'm so tired today",
        "I have a question about my code",
        "My code doesn't compile",
        "I need help with my resume",
    ],
)
def test_questions_small_talk_hypotheticals_and_events_give_nothing(text):
    assert extract(text) == []


def test_assistant_and_system_text_is_never_a_user_fact():
    roles = ("assistant", "system", "developer")
    assert extract("I love dark roast coffee and I live in Rome.", "You are a helpful bot.",
                   "I am a vegan.", roles=roles, options=StoreOptions()) == []
    found = extract("I'm training for a triathlon.",
                    "Great! I also swim every day and you should eat more carbs.",
                    roles=("user", "assistant"))
    assert [c.content for c in found] == ["Is training for a triathlon"]
    assert found[0].source_indexes == (0,)


@pytest.mark.parametrize(
    ("text", "content", "topic", "kind"),
    [
        ("Please forget that I play tennis.", "Plays tennis", "sports", MemoryKind.USER_PROFILE),
        ("Hmm, on second thought, forget where I work.", "Works at", "employer",
         MemoryKind.USER_PROFILE),
        ("Please forget my address", "Lives in", "home", MemoryKind.USER_PROFILE),
        ("You can forget that I love spicy food, my stomach disagrees these days.",
         "Loves spicy food", "food", MemoryKind.USER_PROFILE),
        ("Forget that I want bullet points", "Wants bullet points", "format",
         MemoryKind.PROCEDURAL),
        ("Please forget our conversation about Oslo", "Conversation about Oslo", None,
         MemoryKind.CHAT_SUMMARY),
    ],
)
def test_forget_requests(text, content, topic, kind):
    [candidate] = extract(text, options=StoreOptions())
    assert candidate.action == "forget"
    assert candidate.content == content
    assert candidate.kind is kind
    if topic is not None:
        assert candidate.topic == topic


def test_forget_it_alone_forgets_nothing():
    assert extract("forget it") == []
    assert extract("Never mind, forget that.") == []


def test_changes_keep_the_topic_of_what_they_replace():
    old = extract("I'm vegetarian.")[0]
    new = extract("I've started eating fish again, so I'm pescatarian now.")
    assert {c.topic for c in new} == {old.topic} == {"diet"}
    assert [c.content for c in new] == ["Has started eating fish", "Is pescatarian"]
    [job] = extract("Big news: I quit my job at the hospital.")
    assert job.topic == "job"


# -- sensitive data ----------------------------------------------------------------------------


def test_howto_details_keep_only_harmless_facts():
    options = StoreOptions(chat_summary_enabled=False, user_profile_details=HOWTO_DETAILS)
    found = contents("I'm 34, my password is hunter2, I earn 120k and live at 12 Baker Street,"
                     " London; I love hiking", options=options)
    assert found == ["Lives in London", "Loves hiking"]
    joined = " ".join(found)
    for leak in ("34", "hunter2", "120k", "Baker", "password"):
        assert leak not in joined


def test_secrets_are_dropped_whatever_the_options():
    options = StoreOptions(chat_summary_enabled=False)
    assert contents("Here's my OpenAI key: sk-proj-4f9XQ2bLmN8vT1rZ7kW3yH6cJ0dP5sA2. I write "
                    "everything in Python 3.12 these days.", options=options) == [
        "Writes everything in Python 3.12"]
    assert contents("My card is 4111 1111 1111 1111", options=options) == []
    assert contents("my IBAN is DE89370400440532013000 and my SSN is 123-45-6789.",
                    options=options) == []
    assert contents("my password is hunter2", options=options) == []


def test_precise_location_is_trimmed_to_the_city():
    options = StoreOptions(chat_summary_enabled=False,
                           user_profile_details="Avoid precise location.")
    assert contents("I live in Seattle, at 5400 Woodlawn Ave N, right by Green Lake.",
                    options=options) == ["Lives in Seattle"]
    assert contents("I live in Seattle, at 5400 Woodlawn Ave N.") == [
        "Lives in Seattle, at 5400 Woodlawn Ave N"]


def test_health_is_excluded_only_when_asked():
    options = StoreOptions(chat_summary_enabled=False,
                           user_profile_details="Do not store anything about health or medical"
                                                " conditions.")
    text = "I was diagnosed with type 2 diabetes last year, and I love baking bread."
    assert contents(text, options=options) == ["Loves baking bread"]
    assert contents("I'm allergic to peanuts", options=StoreOptions(
        chat_summary_enabled=False, user_profile_details=HOWTO_DETAILS)) == [
        "Is allergic to peanuts"]


def test_focus_topics_restrict_profile_memories():
    options = StoreOptions(chat_summary_enabled=False, user_profile_details="food, travel")
    assert contents("I love sushi. I play the cello. I prefer window seats on flights.",
                    options=options) == ["Loves sushi", "Prefers window seats on flights"]


# -- options and kinds -------------------------------------------------------------------------


def test_procedural_memories():
    options = StoreOptions(chat_summary_enabled=False)
    assert contents("Always answer in bullet points please.", options=options,
                    kind=MemoryKind.PROCEDURAL) == [
        "Wants the assistant to always answer in bullet points"]
    [sql] = extract("When you write SQL, use CTEs instead of nested subqueries.", options=options)
    assert sql.kind is MemoryKind.PROCEDURAL
    assert sql.content == ("When writing SQL, wants the assistant to use CTEs instead of nested"
                           " subqueries")
    assert sql.topic == "sql"
    assert contents("Please keep your answers short.", options=options) == [
        "Wants the assistant to keep answers short"]
    assert contents("Never use emojis in your replies.", options=options) == [
        "Wants the assistant to never use emojis in replies"]


def test_one_off_requests_are_not_procedural():
    options = StoreOptions(chat_summary_enabled=False)
    assert extract("Write me a poem about cats.", options=options) == []
    assert extract("Can you convert 5 miles to km?", options=options) == []


def test_disabled_kinds_produce_nothing():
    text = "Always answer in bullet points please. I'm a data engineer, by the way."
    no_procedural = StoreOptions(chat_summary_enabled=False, procedural_memory_enabled=False)
    assert contents(text, options=no_procedural) == ["Is a data engineer"]
    no_profile = StoreOptions(user_profile_enabled=False, chat_summary_enabled=False)
    assert contents(text, options=no_profile) == [
        "Wants the assistant to always answer in bullet points"]


def test_chat_summary_one_per_topic():
    options = StoreOptions(user_profile_enabled=False, procedural_memory_enabled=False)
    found = extract(
        "How do I fix 'ModuleNotFoundError: No module named requests' in my Python virtualenv?",
        "Activate the virtualenv and run pip install requests.",
        "That worked, thanks. Totally different question: can you give me a recipe for"
        " vegetarian lasagna?",
        options=options, roles=("user", "assistant", "user"),
    )
    assert [c.kind for c in found] == [MemoryKind.CHAT_SUMMARY] * 2
    assert found[0].content.startswith("Asked how to fix 'ModuleNotFoundError")
    assert found[1].content == "Asked for a recipe for vegetarian lasagna"
    assert found[1].source_indexes == (2,)


def test_chat_summary_joins_follow_ups():
    [summary] = contents("Can you help me plan a trip to Oslo in March?",
                         "Of course! Do you like museums?", "Yes. What should I pack?",
                         options=StoreOptions(user_profile_enabled=False),
                         roles=("user", "assistant", "user"))
    assert summary == "Discussed planning a trip to Oslo in March; asked what to pack"


def test_summary_needs_something_discussed():
    options = StoreOptions(user_profile_enabled=False)
    assert extract("I love hiking.", "hi!", "thanks!", options=options) == []


def test_duplicates_in_one_update_are_merged():
    [candidate] = extract("I love hiking.", "I love hiking!")
    assert candidate.source_indexes == (0, 1)
