"""A generated multi-session chat corpus with questions whose evidence and answers are known.

Pure and seeded: ``generate(seed)`` always returns the same corpus for the same seed, and two
seeds draw their names, places and things from large pools so that they share little vocabulary
(a retrieval rule tuned to one corpus's words does not carry to another's).

The owner chats with 2–4 people over a year. Everyone states facts about themselves in the first
person; some facts change (a move, a new job, a new pet, a new partner), and events are told with
relative times ("yesterday", "two weeks ago", "on Saturday") whose true date the generator knows.
Small talk and near misses (strangers' similar facts, plans that never happened) sit around them.
Each question names the turns that answer it (their exact text, as in the files) and short gold
answers; an unanswerable question has no gold answer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

KINDS = ("single", "multihop", "temporal", "inference", "unanswerable")
PER_KIND = 44

# --- pools --------------------------------------------------------------------------------------

NAMES = (
    # several cultures, so that seeds differ in more than spelling
    "Ana",
    "Mateo",
    "Lucía",
    "Joaquín",
    "Camila",
    "Diego",
    "Valentina",
    "Rafael",
    "Amara",
    "Kwame",
    "Chidi",
    "Ngozi",
    "Tendai",
    "Zanele",
    "Kofi",
    "Abena",
    "Hiroshi",
    "Yuki",
    "Haruto",
    "Sakura",
    "Kenji",
    "Aiko",
    "Ren",
    "Mei",
    "Priya",
    "Arjun",
    "Ananya",
    "Rohan",
    "Kavya",
    "Vikram",
    "Nisha",
    "Sanjay",
    "Olga",
    "Dmitri",
    "Irina",
    "Pavel",
    "Katya",
    "Sergei",
    "Milena",
    "Bogdan",
    "Fatima",
    "Omar",
    "Layla",
    "Youssef",
    "Samira",
    "Karim",
    "Nadia",
    "Tariq",
    "Ingrid",
    "Lars",
    "Astrid",
    "Nils",
    "Freya",
    "Sven",
    "Sigrid",
    "Erik",
    "Chloé",
    "Julien",
    "Margaux",
    "Théo",
    "Élodie",
    "Bastien",
    "Inès",
    "Hugo",
    "Wei",
    "Lin",
    "Jun",
    "Xiu",
    "Hao",
    "Yan",
    "Bo",
    "Ling",
    "Siobhan",
    "Declan",
    "Aoife",
    "Cormac",
    "Niamh",
    "Ronan",
    "Maeve",
    "Oisín",
    "Thandiwe",
    "Sipho",
    "Lerato",
    "Bongani",
    "Palesa",
    "Themba",
    "Naledi",
    "Lwazi",
    "Giulia",
    "Lorenzo",
    "Chiara",
    "Matteo",
    "Francesca",
    "Paolo",
    "Sofia",
    "Enzo",
    "Aroha",
    "Tane",
    "Mere",
    "Wiremu",
    "Hana",
    "Nikau",
    "Anahera",
    "Rawiri",
    "Emre",
    "Elif",
    "Burak",
    "Zeynep",
    "Mehmet",
    "Ayşe",
    "Can",
    "Deniz",
    "Marek",
    "Zofia",
    "Tomasz",
    "Agnieszka",
    "Jakub",
    "Kasia",
    "Piotr",
    "Ewa",
)
CITIES = (
    "Lisbon",
    "Porto",
    "Valencia",
    "Seville",
    "Bilbao",
    "Lyon",
    "Marseille",
    "Nantes",
    "Bordeaux",
    "Ghent",
    "Antwerp",
    "Utrecht",
    "Rotterdam",
    "Hamburg",
    "Leipzig",
    "Munich",
    "Vienna",
    "Graz",
    "Zurich",
    "Basel",
    "Turin",
    "Bologna",
    "Naples",
    "Palermo",
    "Krakow",
    "Gdansk",
    "Wroclaw",
    "Prague",
    "Brno",
    "Budapest",
    "Ljubljana",
    "Zagreb",
    "Athens",
    "Thessaloniki",
    "Izmir",
    "Ankara",
    "Tbilisi",
    "Yerevan",
    "Tallinn",
    "Riga",
    "Vilnius",
    "Helsinki",
    "Tampere",
    "Bergen",
    "Trondheim",
    "Gothenburg",
    "Malmo",
    "Aarhus",
    "Edinburgh",
    "Glasgow",
    "Cork",
    "Galway",
    "Cardiff",
    "Bristol",
    "Leeds",
    "Halifax",
    "Montreal",
    "Quebec City",
    "Ottawa",
    "Winnipeg",
    "Denver",
    "Portland",
    "Austin",
    "Tucson",
    "Oaxaca",
    "Puebla",
    "Medellin",
    "Cali",
    "Quito",
    "Cusco",
    "Valparaiso",
    "Mendoza",
    "Nairobi",
    "Kampala",
    "Accra",
    "Lagos",
    "Dakar",
    "Durban",
    "Windhoek",
    "Marrakesh",
    "Osaka",
    "Sapporo",
    "Fukuoka",
    "Busan",
    "Taipei",
    "Hanoi",
    "Da Nang",
    "Chiang Mai",
    "Pune",
    "Jaipur",
    "Kochi",
    "Mysore",
    "Colombo",
    "Kathmandu",
    "Perth",
    "Hobart",
    "Wellington",
    "Dunedin",
    "Christchurch",
    "Auckland",
)
COMPANY_HEADS = (
    "Bluefin",
    "Kestrel",
    "Northwind",
    "Saffron",
    "Juniper",
    "Copperleaf",
    "Tidewater",
    "Larkspur",
    "Ironbark",
    "Meridian",
    "Halcyon",
    "Quillon",
    "Sable",
    "Brightwater",
    "Foxglove",
    "Granite",
    "Harbourlight",
    "Indigo",
    "Kingfisher",
    "Lumen",
    "Marigold",
    "Nettle",
    "Oakridge",
    "Pebble",
    "Riverstone",
    "Silverline",
    "Thistle",
    "Umber",
    "Verdant",
    "Willow",
    "Yarrow",
    "Zephyr",
    "Alder",
    "Basalt",
    "Cinder",
    "Driftwood",
)
COMPANY_TAILS = (
    "Logistics",
    "Labs",
    "Robotics",
    "Bakery",
    "Studios",
    "Health",
    "Analytics",
    "Foods",
    "Architects",
    "Insurance",
    "Games",
    "Textiles",
    "Solar",
    "Press",
    "Clinic",
    "Brewing",
    "Software",
    "Pharma",
    "Maritime",
    "Energy",
)
JOBS = (
    "nurse",
    "data analyst",
    "carpenter",
    "pastry chef",
    "civil engineer",
    "graphic designer",
    "pharmacist",
    "translator",
    "physiotherapist",
    "librarian",
    "electrician",
    "journalist",
    "veterinarian",
    "architect",
    "accountant",
    "sound engineer",
    "teacher",
    "paramedic",
    "software developer",
    "marine biologist",
    "tailor",
    "lawyer",
    "photographer",
    "baker",
    "urban planner",
    "dentist",
    "pilot",
    "social worker",
    "florist",
    "mechanic",
    "museum curator",
    "nutritionist",
    "game designer",
    "lab technician",
    "radio producer",
    "landscape gardener",
    "speech therapist",
    "copy editor",
    "surveyor",
    "barista",
)
FOODS_VEG = (
    "mushroom risotto",
    "pad see ew with tofu",
    "spinach pakora",
    "falafel wraps",
    "aubergine parmigiana",
    "cheese fondue",
    "masala dosa",
    "vegetable gyoza",
    "shakshuka",
    "pierogi with potato and cheese",
    "halloumi salad",
    "miso ramen with tofu",
    "chana masala",
    "spanakopita",
    "pumpkin gnocchi",
    "black bean tacos",
    "okonomiyaki",
    "mapo tofu",
    "margherita pizza",
    "baba ganoush",
)
FOODS_MEAT = (
    "lamb tagine",
    "beef pho",
    "chicken adobo",
    "pulled pork",
    "jollof rice with chicken",
    "bibimbap with beef",
    "chicken katsu curry",
    "bobotie",
    "goulash",
    "duck confit",
    "beef rendang",
    "chorizo paella",
    "butter chicken",
    "pork dumplings",
    "carne asada",
    "moussaka",
    "bratwurst",
    "chicken shawarma",
    "tonkotsu ramen",
    "steak frites",
)
INSTRUMENTS = (
    "cello",
    "violin",
    "trumpet",
    "accordion",
    "banjo",
    "harp",
    "clarinet",
    "oboe",
    "ukulele",
    "saxophone",
    "flute",
    "drums",
    "bass guitar",
    "piano",
    "mandolin",
    "sitar",
    "bagpipes",
    "trombone",
    "harmonica",
    "double bass",
)
SPECIES = (
    "cat",
    "dog",
    "rabbit",
    "parrot",
    "tortoise",
    "hamster",
    "ferret",
    "guinea pig",
    "gecko",
    "budgie",
    "chinchilla",
    "hedgehog",
)
PET_NAMES = (
    "Biscuit",
    "Pepper",
    "Mochi",
    "Ziggy",
    "Noodle",
    "Clementine",
    "Pickle",
    "Tofu",
    "Luna",
    "Bowie",
    "Pistachio",
    "Marble",
    "Waffles",
    "Sprout",
    "Juno",
    "Figaro",
    "Nacho",
    "Olive",
    "Pretzel",
    "Saffy",
    "Tango",
    "Dumpling",
    "Basil",
    "Cosmo",
    "Kiwi",
    "Momo",
    "Peanut",
    "Rumi",
    "Socks",
    "Toffee",
    "Yoyo",
    "Zuzu",
)
EVENTS = (
    "pottery workshop",
    "support group meeting",
    "jazz concert",
    "wine tasting",
    "half marathon",
    "book club meeting",
    "salsa class",
    "photography exhibition",
    "charity auction",
    "stand-up comedy show",
    "cooking masterclass",
    "film festival",
    "chess tournament",
    "yoga retreat",
    "beekeeping course",
    "opera premiere",
    "street food fair",
    "climbing competition",
    "poetry slam",
    "ceramics fair",
    "science museum lecture",
    "vintage car show",
    "choir rehearsal",
    "quiz night",
    "antiques market",
    "dance recital",
    "board game convention",
    "astronomy evening",
    "tango lesson",
    "calligraphy class",
    "kite festival",
    "organ recital",
    "flower show",
    "rowing regatta",
    "woodworking course",
    "puppet theatre show",
    "glassblowing demo",
    "folk music night",
    "sushi-making class",
    "architecture walk",
    "improv theatre night",
    "orchid exhibition",
    "cycling sportive",
    "perfume workshop",
    "tea ceremony",
    "mosaic workshop",
    "sea swimming meetup",
    "bread-baking course",
    "sign language class",
    "drag brunch",
    "ballet matinee",
    "comic book fair",
    "fencing taster session",
    "knitting circle",
    "robotics hackathon",
    "silent disco",
    "lantern festival",
    "harvest fair",
    "cheese festival",
    "blues jam session",
    "canoe race",
    "stargazing camp",
    "shadow puppet festival",
    "origami class",
    "jazz brunch",
    "tapas crawl",
    "bonsai workshop",
    "circus skills class",
)
SIBLINGS = ("sister", "brother")
UNSTATED = (
    ("What car does {p} drive?", "car"),
    ("What is {p}'s blood type?", "blood type"),
    ("What is {p}'s shoe size?", "shoe size"),
    ("What is the name of {p}'s dentist?", "dentist"),
    ("Which football team does {p} support?", "team"),
    ("What is {p}'s middle name?", "middle name"),
    ("What is {p}'s favourite film?", "film"),
    ("How many languages does {p} speak?", "languages"),
    ("What is {p}'s star sign?", "star sign"),
    ("Which university did {p} study at?", "university"),
)
ABSENT_PERSON_QUESTIONS = (
    "Where does {p} work?",
    "What is {p}'s favourite food?",
    "When did {p} move to {city}?",
    "What instrument does {p} play?",
    "Where does {p} live?",
)

# Activities people like or dislike, by kind; a statement names one, a question asks another.
CATEGORIES: dict[str, dict[str, tuple[str, ...]]] = {
    "outdoors": {
        "members": (
            "a day of hiking",
            "a weekend of camping",
            "an afternoon of kayaking",
            "a long trail run",
            "a day of rock climbing",
            "a sailing trip",
            "a morning of birdwatching",
            "a mountain bike ride",
        ),
        "like": (
            "I'm never happier than when I'm outside",
            "being out in nature is what keeps me sane",
        ),
        "dislike": (
            "honestly, the outdoors is not for me, mud and bugs everywhere",
            "I really don't get the appeal of being out in the wild",
        ),
    },
    "crowds": {
        "members": (
            "a night at a packed club",
            "a crowded music festival",
            "a stadium concert",
            "a big loud house party",
            "a night of karaoke in a busy bar",
            "a street carnival",
        ),
        "like": (
            "I love the buzz of a big crowd and loud music",
            "the louder and busier the party, the better for me",
        ),
        "dislike": (
            "crowds and loud music drain me completely",
            "I can't stand packed, noisy places",
        ),
    },
    "cooking": {
        "members": (
            "a cooking class",
            "an afternoon baking bread",
            "a day making fresh pasta",
            "trying out a new curry recipe",
            "a food market tour",
            "a dumpling-making party",
        ),
        "like": (
            "cooking is how I relax, I'd spend all weekend in the kitchen",
            "nothing makes me happier than cooking for people",
        ),
        "dislike": (
            "I hate cooking, I'd rather eat cereal than stand at a stove",
            "the kitchen stresses me out, I never cook if I can help it",
        ),
    },
    "quiet": {
        "members": (
            "a quiet afternoon with a novel",
            "a poetry reading",
            "a day in the library",
            "a silent meditation retreat",
            "an evening of reading by the fire",
        ),
        "like": (
            "I need my quiet time with a book to recharge",
            "give me silence and a good book and I'm perfectly content",
        ),
        "dislike": (
            "sitting still and quiet for hours makes me restless",
            "I get bored out of my mind when things are too quiet",
        ),
    },
    "art": {
        "members": (
            "a museum visit",
            "a gallery opening",
            "a watercolour class",
            "a sketching afternoon",
            "a sculpture exhibition",
            "a printmaking workshop",
        ),
        "like": (
            "art galleries are my happy place",
            "I could spend every weekend looking at paintings",
        ),
        "dislike": (
            "museums bore me to tears, I never know what to look at",
            "art exhibitions just aren't my thing at all",
        ),
    },
    "gardening": {
        "members": (
            "planting tomatoes",
            "a day at the allotment",
            "a visit to a botanical garden",
            "pruning roses",
            "repotting houseplants",
            "a seed swap",
        ),
        "like": (
            "getting my hands in the soil is the best therapy",
            "I'm obsessed with plants, the garden is where I unwind",
        ),
        "dislike": (
            "I kill every plant I touch and gardening bores me",
            "weeding and digging are my idea of punishment",
        ),
    },
}
LIKE_TEMPLATES = (
    "{cue}. {member} is my idea of a perfect day.",
    "Honestly, {cue_lc}. I'd pick {member_lc} over almost anything.",
    "{member} last month reminded me: {cue_lc}.",
)
DISLIKE_TEMPLATES = (
    "{cue}. {member} sounds like torture to me.",
    "Please never invite me to {member_lc}, {cue_lc}.",
    "My friends wanted {member_lc} and I said no: {cue_lc}.",
)
MORNING = (
    "I'm up at half past five every day, even on weekends, I love the early hours.",
    "My best hours are before breakfast; I'm usually at my desk by six.",
    "I'm always in bed by nine and up before the sun, the mornings are mine.",
)
NIGHT = (
    "I never go to bed before two, my brain only wakes up at night.",
    "Mornings are a disaster for me, I do my best work after midnight.",
    "I'm a proper night owl, anything before ten in the morning is cruel.",
)
VEGETARIAN = (
    "I've been vegetarian for six years now, so no meat for me.",
    "I stopped eating meat a long time ago and I don't miss it at all.",
)
CARNIVORE = (
    "I grilled a huge pile of ribs for the family, I'm a proper meat lover.",
    "A meal without meat doesn't feel like a meal to me, I love a good steak.",
)
TAILS = (
    "Always have been.",
    "Don't laugh.",
    "It's just how I'm built.",
    "Some things never change.",
    "You know me.",
    "No regrets.",
)
MORNING_QUESTIONS = (
    ("Is {p} a morning person?", True),
    ("Would {p} be happy with a meeting at 6 am?", True),
    ("Is {p} a night owl?", False),
)
MEAT_QUESTIONS = (
    ("Would {p} order a steak at a restaurant?", True),
    ("Does {p} eat meat?", True),
    ("Is {p} vegetarian?", False),
)

# relative time expressions: (text, the date they name for a message sent on `day`)
RELATIVE: tuple[tuple[str, Callable[[date], date]], ...] = (
    ("yesterday", lambda d: d - timedelta(days=1)),
    ("two days ago", lambda d: d - timedelta(days=2)),
    ("three days ago", lambda d: d - timedelta(days=3)),
    ("last week", lambda d: d - timedelta(days=7)),
    ("two weeks ago", lambda d: d - timedelta(days=14)),
    ("on Saturday", lambda d: d - timedelta(days=(d.weekday() - 5) % 7 or 7)),
    ("today", lambda d: d),
)

SMALL_TALK = (
    "Hey! How's your week going?",
    "Hi, long time no talk.",
    "It's been raining non-stop here.",
    "The weather finally turned, it's lovely out.",
    "Did you watch the match on Sunday?",
    "I'm so tired, work has been a lot.",
    "Traffic was terrible this morning.",
    "I just finished a really good series, I'll send you the name.",
    "Haha, that's so you.",
    "Anyway, what's new with you?",
    "I'm making tea, give me a second.",
    "The neighbours are renovating again, so much drilling.",
    "My phone battery is dying, so quick message.",
    "Have you tried that new café near the station?",
    "I can't believe it's already the end of the month.",
    "We should call properly sometime soon.",
    "Sorry for the late reply!",
    "Sounds good to me.",
    "I've got a cold, nothing serious.",
    "The train was cancelled again, typical.",
)
REPLIES = (
    "Oh nice!",
    "That's great to hear.",
    "Wow, I didn't know that.",
    "Ha, good for you.",
    "How was it?",
    "Tell me more next time we meet.",
    "Really? That's a big deal.",
    "Makes sense.",
    "I'm glad.",
    "No way!",
)

# --- facts about a person -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: str
    text: str
    gold: tuple[str, ...]
    evidence: tuple[str, ...]
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    companion: str
    day: date
    text: str


@dataclass
class Subject:
    """Someone whose facts the corpus states (the owner or a person they know)."""

    name: str
    hometown: str
    city0: str
    job0: str
    employer0: str
    food: str
    instrument: str
    sibling: tuple[str, str]
    morning: bool
    vegetarian: bool
    likes: tuple[str, ...]
    dislike: str
    city1: str | None = None
    job1: str | None = None
    employer1: str | None = None
    pet: tuple[str, str] | None = None  # (species, name)
    partner: str | None = None
    planned: str | None = None
    events: list[Event] = field(default_factory=list)
    # statement texts and dates, filled while the sessions are written
    said: dict[str, str] = field(default_factory=dict)
    when: dict[str, date] = field(default_factory=dict)

    @property
    def city(self) -> str:
        return self.city1 or self.city0

    @property
    def employer(self) -> str:
        return self.employer1 or self.employer0

    @property
    def job(self) -> str:
        return self.job1 or self.job0


@dataclass(frozen=True, slots=True)
class QACorpus:
    seed: int
    owner: str
    people: tuple[str, ...]
    files: dict[str, bytes]
    questions: list[Question]
    subjects: dict[str, Subject]


class _Draw:
    """Sampling without replacement from the pools, so that values are unique in a corpus."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.left: dict[str, list[str]] = {}
        self.used: set[str] = set()

    def one(self, pool: str, values: tuple[str, ...]) -> str:
        if pool not in self.left:
            self.left[pool] = list(values)
            self.rng.shuffle(self.left[pool])
        return self.left[pool].pop()

    def unused(self, pool: str, values: tuple[str, ...]) -> list[str]:
        self.one(pool, values)  # make sure the pool exists
        return list(self.left[pool])


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiouAEIOU" else "a ") + noun


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def date_forms(day: date) -> tuple[str, ...]:
    """The written forms a date answer may take (ISO first)."""
    month = day.strftime("%B")
    return (
        day.isoformat(),
        f"{month} {day.day}, {day.year}",
        f"{day.day} {month} {day.year}",
        f"{month} {day.day}",
        f"{day.day} {month}",
    )


def _subject(draw: _Draw, rng: random.Random, name: str, owner: bool) -> Subject:
    def company() -> str:
        return f"{draw.one('head', COMPANY_HEADS)} {rng.choice(COMPANY_TAILS)}"

    vegetarian = rng.random() < 0.4
    cats = list(CATEGORIES)
    rng.shuffle(cats)
    subject = Subject(
        name=name,
        hometown=draw.one("city", CITIES),
        city0=draw.one("city", CITIES),
        job0=draw.one("job", JOBS),
        employer0=company(),
        food=draw.one("veg" if vegetarian else "meat", FOODS_VEG if vegetarian else FOODS_MEAT),
        instrument=draw.one("instrument", INSTRUMENTS),
        sibling=(rng.choice(SIBLINGS), draw.one("name", NAMES)),
        morning=rng.random() < 0.5,
        vegetarian=vegetarian,
        likes=(cats[0], cats[1]),
        dislike=cats[2],
    )
    if owner or rng.random() < 0.8:
        subject.city1 = draw.one("city", CITIES)
    if rng.random() < 0.75:
        subject.job1, subject.employer1 = draw.one("job", JOBS), company()
    if rng.random() < 0.75:
        subject.pet = (draw.one("species", SPECIES), draw.one("pet", PET_NAMES))
    if rng.random() < 0.6:
        subject.partner = draw.one("name", NAMES)
    subject.planned = draw.one("event", EVENTS)
    return subject


# --- statements -------------------------------------------------------------------------------


def _statement(rng: random.Random, s: Subject, key: str) -> str:
    """The first-person sentence stating the fact ``key`` (no date in it)."""
    pick = rng.choice
    if key == "hometown":
        return pick(
            (
                f"I grew up in {s.hometown}, so small towns feel like home to me.",
                f"Back in {s.hometown}, where I grew up, we'd have had snow by now.",
                f"My whole childhood was in {s.hometown}, I still miss it sometimes.",
            )
        )
    if key == "city0":
        return pick(
            (
                f"I've been living in {s.city0} for almost ten years now.",
                f"Rent in {s.city0} keeps going up, but it's been my home since university.",
                f"I've lived in {s.city0} long enough to know every bakery on my street.",
            )
        )
    if key == "job0":
        return pick(
            (
                f"I work as a {s.job0} at {s.employer0}.",
                f"At {s.employer0}, where I'm a {s.job0}, this week was hectic.",
                f"Being a {s.job0} at {s.employer0} keeps me busy, but I like the team.",
            )
        )
    if key == "food":
        return pick(
            (
                f"My favourite food is {s.food}, I could eat it every day.",
                f"Nothing beats {s.food}; it's my absolute favourite.",
                f"If I could only eat one thing forever it would be {s.food}.",
            )
        )
    if key == "instrument":
        return pick(
            (
                f"I've played the {s.instrument} since I was a kid.",
                f"I practise the {s.instrument} every evening, my neighbours must love me.",
                f"Playing the {s.instrument} is still how I switch off after work.",
            )
        )
    if key == "sibling":
        relation, sib = s.sibling
        return pick(
            (
                f"My {relation} {sib} is coming to stay with me next month.",
                f"I had a long call with my {relation} {sib} last night.",
                f"My {relation}, {sib}, just sent me the funniest video.",
            )
        )
    if key == "morning":
        return f"{pick(MORNING if s.morning else NIGHT)} {pick(TAILS)}"
    if key == "diet":
        return f"{pick(VEGETARIAN if s.vegetarian else CARNIVORE)} {pick(TAILS)}"
    if key.startswith("like") or key == "dislike":
        cat = s.dislike if key == "dislike" else s.likes[int(key[-1])]
        side = "dislike" if key == "dislike" else "like"
        member = pick(CATEGORIES[cat]["members"][:2])
        cue = pick(CATEGORIES[cat][side])
        template = pick(DISLIKE_TEMPLATES if side == "dislike" else LIKE_TEMPLATES)
        return template.format(cue=_cap(cue), cue_lc=cue, member=_cap(member), member_lc=member)
    if key == "planned":
        return pick(
            (
                f"I'm thinking about going to {_a(s.planned)} next month, we'll see.",
                f"Someone invited me to {_a(s.planned)}, but I probably won't have time.",
            )
        )
    raise KeyError(key)


def _dated(rng: random.Random, s: Subject, key: str, rel: str) -> str:
    """The first-person sentence stating the dated fact ``key`` with the time ``rel``."""
    pick = rng.choice
    relc = _cap(rel)
    if key == "move":
        return pick(
            (
                f"I finally moved to {s.city1} {rel}! The flat is tiny but I love it.",
                f"{relc} I carried the last boxes into my new place in {s.city1}.",
                f"Big news: I left {s.city0} and moved to {s.city1} {rel}.",
            )
        )
    if key == "job":
        return pick(
            (
                f"I started my new job as a {s.job1} at {s.employer1} {rel}.",
                f"{relc} was my first day at {s.employer1}; I'm a {s.job1} there now.",
                f"I left {s.employer0} and {rel} I began working at {s.employer1} as a {s.job1}.",
            )
        )
    if key == "pet":
        species, pet = s.pet  # type: ignore[misc]
        return pick(
            (
                f"We adopted a {species} {rel}, the name is {pet}.",
                f"{relc} I brought home a little {species} called {pet}.",
                f"Meet {pet}, my new {species}! I picked it up from the shelter {rel}.",
            )
        )
    if key == "partner":
        return pick(
            (
                f"I've started seeing someone, {s.partner}; our first date was {rel}.",
                f"{relc} I went on a first date with {s.partner} and we're together now.",
                f"I'm dating {s.partner}! We got together {rel}.",
            )
        )
    raise KeyError(key)


def _event_text(rng: random.Random, event: str, companion: str, rel: str) -> str:
    return rng.choice(
        (
            f"{_cap(rel)} I went to {_a(event)} with {companion}, it was great.",
            f"I was at {_a(event)} {rel} with {companion}.",
            f"{companion} dragged me to {_a(event)} {rel}, and I actually enjoyed it.",
        )
    )


SHOWS = (
    "that detective series set in the Arctic",
    "the baking competition",
    "a documentary about octopuses",
    "the new space drama",
    "that Korean thriller",
    "the cooking show with the twins",
    "the nature series about deserts",
    "a sitcom from the nineties",
    "the courtroom drama",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def _chatter(rng: random.Random) -> str:
    """Small talk that mentions things like the facts do, without stating any of them."""
    kind = rng.randrange(9)
    if kind == 0:
        return (
            f"Have you watched {rng.choice(SHOWS)}? I'm halfway through season {rng.randint(2, 6)}."
        )
    if kind == 1:
        food = rng.choice(FOODS_VEG + FOODS_MEAT)
        return f"I might try making {food} tonight, I found a recipe online."
    if kind == 2:
        return f"There's a documentary on {rng.choice(CITIES)} on tonight, looks beautiful."
    if kind == 3:
        return f"Work is mad, we have a big deadline on {rng.choice(WEEKDAYS)}."
    if kind == 4:
        instrument = rng.choice(INSTRUMENTS)
        return f"I heard someone busking on the {instrument} outside the station, so good."
    if kind == 5:
        return f"A {rng.choice(SPECIES)} ran across the road in front of my bike this morning!"
    if kind == 6:
        return f"I keep seeing posters for {_a(rng.choice(EVENTS))}, is that your kind of thing?"
    if kind == 7:
        return f"We should plan something for {rng.choice(WEEKDAYS)} evening."
    return rng.choice(SMALL_TALK)


def _near_miss(rng: random.Random, draw: _Draw) -> str:
    """A stranger's fact shaped like the subjects' facts (a distractor)."""
    who = f"my {rng.choice(('neighbour', 'colleague', 'cousin', 'old classmate'))}"
    stranger = draw.one("name", NAMES)
    kind = rng.randrange(7) % 4
    if kind == 0:
        return f"Oh, and {who} {stranger} just moved to {draw.one('city', CITIES)}."
    if kind == 1:
        company = f"{draw.one('head', COMPANY_HEADS)} {rng.choice(COMPANY_TAILS)}"
        return f"{_cap(who)} {stranger} got a job at {company}."
    if kind == 2:
        pet = draw.one("pet", PET_NAMES)
        return f"{_cap(who)} {stranger} adopted a {rng.choice(SPECIES)} called {pet}."
    event = draw.one("event", EVENTS)
    return f"{_cap(who)} {stranger} keeps talking about the {event} they went to."


# --- the sessions -------------------------------------------------------------------------------


@dataclass
class _Session:
    person: str
    day: date
    number: int  # per person, from 1
    turns: list[tuple[str, str]] = field(default_factory=list)  # (speaker, text)


def _plan(rng: random.Random, s: Subject, days: list[date]) -> dict[int, list[str]]:
    """Which statement keys go in which of ``days`` (indices into the subject's sessions)."""
    n = len(days)
    plan: dict[int, list[str]] = {i: [] for i in range(n)}
    early = max(1, n // 2)
    stable = ["hometown", "city0", "job0", "food", "instrument", "sibling", "morning", "diet"]
    stable += ["like0", "like1", "dislike"]
    for key in stable:
        plan[rng.randrange(early)].append(key)
    # changes in the second half, so that the old value was stated before
    later = list(range(early, n)) if n > early else [n - 1]
    for key in ("move", "job", "pet", "partner"):
        plan[rng.choice(later)].append(key)
    plan[rng.randrange(n)].append("planned")
    for _ in range(6):
        plan[rng.randrange(n)].append("event")
    return plan


def _write_session(
    rng: random.Random,
    draw: _Draw,
    session: _Session,
    stated: list[tuple[Subject, str]],
    owner: Subject,
) -> None:
    """Fill a session's turns: small talk, each statement with a reply, near misses."""
    person = session.person
    talk = [(rng.choice((owner.name, person)), rng.choice(SMALL_TALK))]
    for subject, key in stated:
        other = person if subject.name == owner.name else owner.name
        text = _say(rng, draw, subject, key, session.day)
        talk.append((subject.name, text))
        if rng.random() < 0.7:
            talk.append((other, rng.choice(REPLIES)))
        for _ in range(rng.randint(0, 2)):
            talk.append((rng.choice((owner.name, person)), _chatter(rng)))
    for _ in range(rng.randint(6, 14)):
        where = rng.randint(1, len(talk))
        talk.insert(where, (rng.choice((owner.name, person)), _chatter(rng)))
    for _ in range(rng.randint(1, 3)):
        where = rng.randint(1, len(talk))
        talk.insert(where, (rng.choice((owner.name, person)), _near_miss(rng, draw)))
    talk.append((rng.choice((owner.name, person)), rng.choice(SMALL_TALK)))
    session.turns = talk


def _say(rng: random.Random, draw: _Draw, s: Subject, key: str, day: date) -> str:
    """The sentence for ``key``; records its text (and for dated facts, its date) on ``s``."""
    if key in ("move", "job", "pet", "partner", "event"):
        rel, resolve = rng.choice(RELATIVE[:-1] if key == "event" else RELATIVE)
        when = resolve(day)
        if key == "event":
            event = draw.one("event", EVENTS)
            companion = draw.one("name", NAMES)
            text = _event_text(rng, event, companion, rel)
            s.events.append(Event(event, companion, when, text))
            return text
        text = _dated(rng, s, key, rel)
        s.when[key] = when
    else:
        # two people may share a trait, but each says it in words of their own
        for _ in range(100):
            text = _statement(rng, s, key)
            if text not in draw.used:
                break
        else:
            raise RuntimeError(f"no unused wording left for {key}")
    draw.used.add(text)
    s.said[key] = text
    return text


def _sessions(rng: random.Random, draw: _Draw, owner: Subject, people: list[Subject], n: int):
    start = date(2025, rng.randint(1, 3), rng.randint(1, 28))
    days: set[date] = set()
    while len(days) < n:
        day = start + timedelta(days=rng.randrange(360))
        if day.weekday() != 5:
            days.add(day)
    order = [p.name for p in people] * (n // len(people) + 1)
    order = order[:n]
    rng.shuffle(order)
    sessions: list[_Session] = []
    count: dict[str, int] = {}
    for day, person in zip(sorted(days), order, strict=True):
        count[person] = count.get(person, 0) + 1
        sessions.append(_Session(person, day, count[person]))
    plans = {owner.name: _plan(rng, owner, [s.day for s in sessions])}
    for p in people:
        plans[p.name] = _plan(rng, p, [s.day for s in sessions if s.person == p.name])
    # drop changes a subject does not have
    subjects = {owner.name: owner, **{p.name: p for p in people}}
    for name, plan in plans.items():
        s = subjects[name]
        absent = {
            "move": s.city1 is None,
            "job": s.job1 is None,
            "pet": s.pet is None,
            "partner": s.partner is None,
        }
        for keys in plan.values():
            keys[:] = [k for k in keys if not absent.get(k)]
    seen: dict[str, int] = {}
    for i, session in enumerate(sessions):
        j = seen.get(session.person, 0)
        seen[session.person] = j + 1
        stated = [(owner, k) for k in plans[owner.name][i]]
        stated += [(subjects[session.person], k) for k in plans[session.person][j]]
        rng.shuffle(stated)
        # an old value is always told in an earlier turn than its change
        stated.sort(key=lambda sk: sk[1] in ("move", "job"))
        _write_session(rng, draw, session, stated, owner)
    return sessions


def _files(rng: random.Random, sessions: list[_Session], tz: timezone) -> dict[str, bytes]:
    """JSON-lines exports: some people one file per session, others one file for all."""
    files: dict[str, bytes] = {}
    grouped: dict[str, list[str]] = {}
    shapes: dict[str, bool] = {}
    people = sorted({s.person for s in sessions})
    for i, person in enumerate(people):
        shapes[person] = i % 2 == 0  # both shapes in every corpus
    for session in sessions:
        moment = datetime.combine(session.day, time(rng.randint(8, 18), rng.randint(0, 59)), tz)
        lines = []
        tag = f"{session.person.lower()}-{session.number}"
        for speaker, text in session.turns:
            moment += timedelta(seconds=rng.randint(20, 240))
            row = {"speaker": speaker, "text": text, "time": moment.isoformat()}
            row["session"] = tag
            lines.append(json.dumps(row, ensure_ascii=False))
        slug = _slug(session.person)
        if shapes[session.person]:
            files[f"chat-{slug}-{session.number}.jsonl"] = ("\n".join(lines) + "\n").encode()
        else:
            grouped.setdefault(f"chat-{slug}.jsonl", []).extend(lines)
    for name, lines in grouped.items():
        files[name] = ("\n".join(lines) + "\n").encode()
    return files


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum()) or "x"


# --- questions ----------------------------------------------------------------------------------


def _questions(
    rng: random.Random, draw: _Draw, subjects: list[Subject], asked_at: datetime, seed: int
) -> list[Question]:
    by_kind: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {k: [] for k in KINDS}

    def add(kind: str, text: str, gold: tuple[str, ...], *evidence: str) -> None:
        by_kind[kind].append((text, gold, tuple(evidence)))

    for s in subjects:
        p, said = s.name, s.said
        # single facts
        add("single", f"Where did {p} grow up?", (s.hometown,), said["hometown"])
        here = said["move"] if s.city1 else said["city0"]
        add("single", f"Which city does {p} live in now?", (s.city,), here)
        works = said["job"] if s.employer1 else said["job0"]
        add("single", f"Where does {p} work?", (s.employer,), works)
        add("single", f"What is {p}'s job?", (s.job,), works)
        add("single", f"What is {p}'s favourite food?", (s.food,), said["food"])
        add("single", f"What instrument does {p} play?", (s.instrument,), said["instrument"])
        relation, sib = s.sibling
        add("single", f"What is the name of {p}'s {relation}?", (sib,), said["sibling"])
        if s.pet:
            species, pet = s.pet
            add("single", f"What is the name of {p}'s {species}?", (pet,), said["pet"])
            add("single", f"What kind of pet did {p} adopt?", (species,), said["pet"])
        if s.partner:
            add("single", f"Who is {p} dating?", (s.partner,), said["partner"])
        for e in s.events:
            add("single", f"Who did {p} go to the {e.name} with?", (e.companion,), e.text)
        # temporal
        for e in s.events:
            add("temporal", f"When did {p} go to the {e.name}?", date_forms(e.day), e.text)
        for key, question in (
            ("move", f"When did {p} move to {s.city1}?"),
            ("job", f"When did {p} start working at {s.employer1}?"),
            ("pet", f"When did {p} adopt {s.pet[1] if s.pet else ''}?"),
            ("partner", f"When did {p} start dating {s.partner}?"),
        ):
            if key in s.when:
                add("temporal", question, date_forms(s.when[key]), said[key])
        if "move" in s.when and "job" in s.when and s.when["move"] != s.when["job"]:
            order = "before" if s.when["move"] < s.when["job"] else "after"
            add(
                "temporal",
                f"Did {p} move to {s.city1} before or after starting at {s.employer1}?",
                (order,),
                said["move"],
                said["job"],
            )
        for _ in range(2 if len(s.events) >= 2 else 0):
            a, b = rng.sample(s.events, 2)
            if a.day != b.day:
                order = "before" if a.day < b.day else "after"
                add(
                    "temporal",
                    f"Did {p} go to the {a.name} before or after the {b.name}?",
                    (order,),
                    a.text,
                    b.text,
                )
        for key, was, now, verb in (
            ("move", s.city0, s.city1, "live"),
            ("job", s.employer0, s.employer1, "work"),
        ):
            if key not in s.when:
                continue
            changed = s.when[key]
            old = said["city0" if key == "move" else "job0"]
            first_day = asked_at.date() - timedelta(days=400)
            before = _month_before(changed, first_day)
            after = _month_after(changed, asked_at.date())
            if before:
                add("temporal", f"Where did {p} {verb} in {before}?", (was,), old, said[key])
            if after:
                add("temporal", f"Where did {p} {verb} in {after}?", (now,), said[key])
        # inference
        for i, cat in enumerate(s.likes):
            for member in CATEGORIES[cat]["members"][2:5]:
                add("inference", f"Would {p} enjoy {member}?", ("yes",), said[f"like{i}"])
        for member in CATEGORIES[s.dislike]["members"][2:5]:
            add("inference", f"Would {p} enjoy {member}?", ("no",), said["dislike"])
        for question, if_true in MORNING_QUESTIONS:
            yes = s.morning == if_true
            add("inference", question.format(p=p), ("yes" if yes else "no",), said["morning"])
        for question, if_meat in MEAT_QUESTIONS:
            yes = (not s.vegetarian) == if_meat
            add("inference", question.format(p=p), ("yes" if yes else "no",), said["diet"])
        # unanswerable
        for question, _ in UNSTATED:
            add("unanswerable", question.format(p=p), ())
        add("unanswerable", f"When did {p} go to the {s.planned}?", ())
        if s.pet is None:
            add("unanswerable", f"What is the name of {p}'s pet?", ())
        else:
            other = next(x for x in SPECIES if x != s.pet[0])
            add("unanswerable", f"What is the name of {p}'s {other}?", ())
        if s.partner is None:
            add("unanswerable", f"Who is {p}'s partner?", ())
    # unknown people
    strangers = draw.unused("name", NAMES)
    rng.shuffle(strangers)
    cities = draw.unused("city", CITIES)
    for stranger in strangers[:8]:
        question = rng.choice(ABSENT_PERSON_QUESTIONS)
        add("unanswerable", question.format(p=stranger, city=rng.choice(cities)), ())
    # multi-hop: identify someone by one fact, ask another
    for s in subjects:
        ident = [
            (f"the person who grew up in {s.hometown}", s.said["hometown"]),
            (f"the person who plays the {s.instrument}", s.said["instrument"]),
            (f"the person whose favourite food is {s.food}", s.said["food"]),
        ]
        if s.pet:
            ident.append((f"the person who adopted a {s.pet[0]}", s.said["pet"]))
        if s.partner:
            ident.append((f"the person who is dating {s.partner}", s.said["partner"]))
        ident.append(
            (f"the person who works at {s.employer}", s.said["job" if s.employer1 else "job0"])
        )
        here = s.said["move" if s.city1 else "city0"]
        asks = [
            ("In which city does {x} live?", (s.city,), here, "lives in"),
            (
                "Where does {x} work?",
                (s.employer,),
                s.said["job" if s.employer1 else "job0"],
                "works at",
            ),
            ("What instrument does {x} play?", (s.instrument,), s.said["instrument"], "plays the"),
            ("Where did {x} grow up?", (s.hometown,), s.said["hometown"], "grew up in"),
            ("What is the favourite food of {x}?", (s.food,), s.said["food"], "favourite food"),
            (
                f"What is the name of the {s.sibling[0]} of {{x}}?",
                (s.sibling[1],),
                s.said["sibling"],
                "sibling",
            ),
        ]
        for who, evidence_a in ident:
            for ask, gold, evidence_b, topic in asks:
                if topic in who:
                    continue
                text = _cap(ask.format(x=who))
                add("multihop", text, gold, evidence_a, evidence_b)
    questions: list[Question] = []
    for kind in KINDS:
        pool = by_kind[kind]
        seen: set[str] = set()
        unique = [q for q in pool if not (q[0] in seen or seen.add(q[0]))]
        rng.shuffle(unique)
        for n, (text, gold, evidence) in enumerate(unique[:PER_KIND]):
            questions.append(
                Question(f"{seed}-{kind}-{n:02}", kind, text, gold, evidence, asked_at)
            )
    return questions


def _month_before(day: date, floor: date) -> str | None:
    """A month wholly before ``day`` (and not before ``floor``), as 'May 2025'."""
    first = day.replace(day=1) - timedelta(days=1)  # last day of the month before
    month = first.replace(day=1)
    if month < floor.replace(day=1):
        return None
    return month.strftime("%B %Y")


def _month_after(day: date, ceiling: date) -> str | None:
    """A month wholly after ``day`` and before ``ceiling``."""
    month = (day.replace(day=28) + timedelta(days=8)).replace(day=1)
    end = (month.replace(day=28) + timedelta(days=8)).replace(day=1)
    if end > ceiling:
        return None
    return month.strftime("%B %Y")


# --- entry point --------------------------------------------------------------------------------

OFFSETS = (0, 1, 2, -5, -3, 5.5, 9, -8, 3, 10)


def generate(seed: int, *, people: int | None = None, sessions: int | None = None) -> QACorpus:
    """The corpus of ``seed``: the owner, 2–4 people, 20+ sessions, 200+ questions."""
    rng = random.Random(seed)
    draw = _Draw(rng)
    count = people if people is not None else rng.randint(2, 4)
    if not 1 <= count <= 8:
        raise ValueError("people must be between 1 and 8")
    n_sessions = sessions if sessions is not None else rng.randint(22, 28)
    owner = _subject(draw, rng, draw.one("name", NAMES), owner=True)
    others = [_subject(draw, rng, draw.one("name", NAMES), owner=False) for _ in range(count)]
    offset = rng.choice(OFFSETS)
    tz = timezone(timedelta(hours=offset))
    written = _sessions(rng, draw, owner, others, max(n_sessions, count))
    files = _files(rng, written, tz)
    last = max(s.day for s in written)
    asked_at = datetime.combine(last + timedelta(days=rng.randint(2, 20)), time(12, 0), tz)
    subjects = [owner, *others]
    # every fact with a statement gets questions; facts never stated are not asked about
    questions = _questions(rng, draw, subjects, asked_at, seed)
    return QACorpus(
        seed=seed,
        owner=owner.name,
        people=tuple(p.name for p in others),
        files=files,
        questions=questions,
        subjects={s.name: s for s in subjects},
    )
