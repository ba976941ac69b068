"""A deterministic synthetic corpus of one person's notes, for testing and benchmarking L1 memory.

The owner is Maria Sousa, a nurse in Lisbon. Every theme has its own vocabulary, so topic
clustering has a right answer; a handful of facts are planted verbatim, so retrieval and the
profile can be checked against ``QUESTIONS``. Filler sentences never state a planted answer,
which keeps "relevant" passages exactly those that carry a fact.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

OWNER = "Maria Sousa"


@dataclass(frozen=True)
class Document:
    """One markdown note about a single topic, with the planted facts it states."""

    name: str
    topic: str
    text: str
    facts: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """A question whose answer is a planted fact of ``topic``."""

    text: str
    topic: str
    answer_terms: tuple[str, ...]


@dataclass(frozen=True)
class Topic:
    """A theme: words only it uses, sentence templates with slot fillers, and planted facts."""

    key: str
    vocabulary: tuple[str, ...]
    titles: tuple[str, ...]
    templates: tuple[str, ...]
    slots: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    facts: tuple[str, ...] = ()


# Shared by every topic; none of these may use a topic's vocabulary.
COMMON_SLOTS: dict[str, tuple[str, ...]] = {
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "daypart": ("the morning", "the whole afternoon", "an hour after work", "the evening"),
}

NEUTRAL = (
    "I wrote this down so that I would remember it next year.",
    "It was one of those days that felt longer than it really was.",
    "I was in bed before eleven, which almost never happens.",
    "I forgot my phone at home and did not miss it at all.",
    "I should write these notes more often, even when nothing much happens.",
    "I made a mental note to come back to this when I have more time.",
    "I listened to the radio for a while and let my mind wander.",
    "I drank too much coffee and paid for it later that night.",
)

HIKING = Topic(
    key="hiking",
    vocabulary=(
        "hike",
        "hiking",
        "trail",
        "trailhead",
        "summit",
        "boots",
        "ridge",
        "switchbacks",
        "cairns",
        "blisters",
        "serra da estrela",
        "tomás",
        "torre",
        "manteigas",
        "mountains",
        "descent",
        "refuge",
        "gerês",
    ),
    titles=("Trail notes", "Up in the mountains", "A day on the ridge", "Hiking log"),
    templates=(
        "I walked {trail} with {companion}, and {weather} kept us moving faster than planned.",
        "I packed {gear} the night before, because the forecast for the mountains looked unsure.",
        "I reached the summit after {climb_time} and felt {feeling}.",
        "I counted the cairns along the ridge to stop myself thinking about my blisters.",
        "I covered {distance} on {trail}, and my boots were {boot_state} by the end.",
        "I want to hike {trail} again in {season}, when {weather} is less of a problem.",
        "I stopped at the trailhead to check the map, and Tomás teased me for folding it wrong.",
        "I tried a slower rhythm on the switchbacks, and it worked much better than rushing.",
        "I ate {snack} on a rock below the summit while {weather} rolled over the ridge.",
        "I keep a small log of every hike, and this one goes in as {rating}.",
        "I slept badly in the refuge at {altitude} metres, but the sunrise over Serra da Estrela "
        "made up for it.",
        "I twisted my ankle a little on the descent from {peak}, so I walked the last hour slowly.",
        "I noticed {nature} near {peak}, which I had never seen on that trail before.",
        "I spent the evening cleaning mud off my boots and planning the next route with Tomás.",
    ),
    slots={
        "trail": (
            "the glacier valley trail above Manteigas",
            "the Zêzere valley trail",
            "the ridge path to Torre",
            "the PR7 loop near Manteigas",
            "the old shepherd trail above Loriga",
            "the Poço do Inferno trail",
            "the Covão da Ametade loop",
            "the lagoon circuit near Penhas Douradas",
        ),
        "companion": (
            "Tomás",
            "Tomás and his dog Pico",
            "two people from the hiking club",
            "Tomás and his brother",
            "a group of strangers from an online forum",
        ),
        "weather": (
            "the fog",
            "the wind",
            "the cold",
            "the low sun",
            "the drizzle",
            "the snow on the upper slopes",
            "the heat",
        ),
        "gear": (
            "my old leather boots",
            "a spare pair of wool socks",
            "my 30-litre backpack",
            "the poles Tomás lent me",
            "a paper map and a compass",
            "two litres of water and a headlamp",
        ),
        "climb_time": ("three hours", "a little under four hours", "two and a half hours"),
        "feeling": (
            "tired but happy",
            "completely soaked",
            "strangely calm",
            "proud of my legs",
            "a bit light-headed",
            "ready for a long nap",
        ),
        "distance": ("12 km", "18 km", "9 km with 700 metres of climb", "21 km", "14 km", "26 km"),
        "boot_state": ("caked in mud", "soaked through", "grey with dust", "still somehow dry"),
        "season": ("spring", "early autumn", "late spring", "the first weeks of summer"),
        "snack": (
            "a cheese sandwich",
            "an apple and some almonds",
            "a handful of dried figs",
            "a squashed chocolate bar",
            "two cold boiled eggs",
        ),
        "rating": ("a hard day", "one of the good ones", "a lesson in humility", "a day to forget"),
        "altitude": ("1500", "1650", "1800", "1900"),
        "peak": ("Torre", "Cântaro Magro", "the Covão do Boi", "the Poios Brancos ridge"),
        "nature": (
            "a pair of griffon vultures",
            "wild thyme in flower",
            "fresh wolf tracks",
            "a herd of goats",
            "a frozen stream",
        ),
    },
    facts=(
        "On 14 June 2024 I finally reached the summit of Torre, the highest point of "
        "Serra da Estrela, with Tomás.",
        "I met Tomás in 2018 on a guided walk in Peneda-Gerês, and we have hiked together "
        "ever since.",
        "My hiking boots are brown Meindl leather boots that I bought in Manteigas in 2021.",
        "The longest hike I have ever done was 32 km along the Rota das Faias in a single day.",
        "Serra da Estrela is my favourite place to hike, because its granite and glacier "
        "valleys feel like another country.",
    ),
)

COOKING = Topic(
    key="cooking",
    vocabulary=(
        "recipe",
        "recipes",
        "kitchen",
        "bacalhau",
        "caldo verde",
        "pastel de nata",
        "pastéis de nata",
        "chouriço",
        "olive oil",
        "oven",
        "simmer",
        "garlic",
        "custard",
        "pastry",
        "cataplana",
        "sardines",
        "coriander",
        "cinnamon",
        "feijoada",
        "lurdes",
    ),
    titles=("Kitchen notebook", "What I cooked", "Recipes to keep", "Sunday cooking"),
    templates=(
        "I made {dish} for {guests}, and {outcome}.",
        "I tried {dish} with {twist}, which {verdict}.",
        "I bought {ingredient} at {market} on my way home.",
        "I spent the evening in the kitchen rewriting my recipe for {dish}.",
        "I burned the first tray of pastéis de nata because the oven runs hot on the left side.",
        "I let the {stew} simmer for {minutes} minutes while I tidied the kitchen.",
        "I keep a notebook of recipes, and {dish} now has {count} crossed-out versions in it.",
        "I peeled {amount} of garlic for {dish} and my fingers smelled of it all day.",
        "I watched an old cooking programme and copied the way the chef folds the pastry.",
        "I finally got the custard right: thick, glossy, and just a little burnt on top.",
        "I gave {guests} a box of leftovers, because my recipes never seem to scale down.",
        "I made a double batch of caldo verde and froze half of it for {when}.",
        "I used the good olive oil from {oil_origin} on the sardines, and it made a difference.",
    ),
    slots={
        "dish": (
            "bacalhau à Brás",
            "caldo verde",
            "bacalhau com natas",
            "arroz de pato",
            "a clam cataplana",
            "grilled sardines",
            "bolo de bolacha",
            "a pot of feijoada",
            "arroz doce with cinnamon",
        ),
        "guests": (
            "two neighbours",
            "my book club",
            "old friends from university",
            "the couple from the third floor",
        ),
        "outcome": (
            "nobody left a crumb",
            "it was a little too salty",
            "everyone asked for the recipe",
            "I forgot the bread",
            "we ate standing up in the kitchen",
        ),
        "twist": (
            "smoked paprika",
            "far less salt than usual",
            "fresh coriander",
            "a splash of white wine",
            "sweet potato instead of potato",
        ),
        "verdict": (
            "was a mistake",
            "worked surprisingly well",
            "I will never admit to anyone",
            "I will repeat next week",
        ),
        "ingredient": (
            "a whole salted cod",
            "fresh coriander",
            "good olive oil",
            "three kinds of chouriço",
            "a bag of lemons",
            "a kilo of clams",
            "two bunches of kale",
        ),
        "market": (
            "Mercado da Ribeira",
            "the Campo de Ourique market",
            "the little grocery on my street",
            "the Saturday farmers' market",
        ),
        "stew": ("feijoada", "caldo verde", "chouriço and bean stew", "arroz de pato"),
        "minutes": ("20", "25", "35", "45", "50"),
        "count": ("four", "six", "seven", "nine"),
        "amount": ("a whole head", "half a head", "eight cloves"),
        "when": ("a busy week", "the next cold evening", "the weekend"),
        "oil_origin": ("Alentejo", "Trás-os-Montes", "a small farm near Moura"),
    },
    facts=(
        "My grandmother Lurdes taught me to make bacalhau à Brás when I was eleven.",
        "I always soak the bacalhau for 48 hours and change the water three times a day.",
        "On 2024-11-30 I won second prize in the neighbourhood pastel de nata contest in Alfama.",
        "My caldo verde recipe uses kale, potatoes, and one thin slice of chouriço in every bowl.",
        "I bake my pastéis de nata at 290 degrees, as hot as my oven will go.",
    ),
)

NURSING = Topic(
    key="nursing",
    vocabulary=(
        "nurse",
        "nursing",
        "ward",
        "patient",
        "patients",
        "night shift",
        "night shifts",
        "hospital de santa maria",
        "rui costa",
        "handover",
        "medication",
        "vital signs",
        "discharged",
        "charting",
        "infusion",
        "bedside",
        "cardiology",
        "ecg",
    ),
    titles=("After the night shift", "Ward notes", "Notes from work", "Nursing diary"),
    templates=(
        "I started the night shift {shift_start} and the ward was {ward_state}.",
        "I spent most of the night with {patient_desc}, checking vital signs every hour.",
        "I gave handover to the morning team and {after_shift}.",
        "I went through a tricky medication chart with Dr. Rui Costa, who was {rui_mood}.",
        "I discharged {patient_desc} today, and {discharge_feel}.",
        "I caught up on charting at three in the morning while the ward was quiet.",
        "I covered two extra beds on the ward because {staffing}.",
        "I sat with {patient_desc} for a while after the medication round, just talking.",
        "I reminded a new nurse to check every infusion pump before leaving the bedside.",
        "I slept until two in the afternoon after the last night shift, and still felt "
        "{tired_state}.",
        "I learned {clinical_lesson} from Dr. Rui Costa during the ward round.",
        "I noticed {observation} in one of my patients and called the doctor on duty at once.",
        "I walked out of Hospital de Santa Maria at dawn and {dawn_feel}.",
    ),
    slots={
        "shift_start": (
            "a few minutes late",
            "early for once",
            "with a full bed board",
            "straight after a short nap",
        ),
        "ward_state": (
            "unusually calm",
            "full to the last bed",
            "loud with alarms",
            "short of two nurses",
        ),
        "patient_desc": (
            "an elderly man recovering from bypass surgery",
            "a young woman with a new pacemaker",
            "a retired fisherman with heart failure",
            "a patient who could not sleep",
            "a frightened teenager after an arrhythmia",
        ),
        "after_shift": (
            "took the metro home half asleep",
            "had breakfast with two colleagues",
            "walked home to clear my head",
        ),
        "rui_mood": (
            "patient as always",
            "clearly exhausted",
            "in an unusually good mood",
            "teaching as he went",
        ),
        "discharge_feel": (
            "it felt like a small victory",
            "I worried about him all the way home",
            "his daughters brought the whole team a cake",
        ),
        "staffing": (
            "a colleague called in sick",
            "the flu season has emptied the rota",
            "we were waiting for an agency nurse",
        ),
        "tired_state": ("completely wrung out", "oddly wide awake", "like I had jet lag"),
        "clinical_lesson": (
            "a better way to explain warfarin to patients",
            "how to spot early signs of fluid overload",
            "to trust my instinct when a patient looks wrong",
        ),
        "observation": (
            "a subtle change in breathing",
            "a heart rate that kept creeping up",
            "new swelling in the ankles",
            "confusion that was not there at handover",
        ),
        "dawn_feel": (
            "watched the sky turn pink over the car park",
            "bought a coffee from the kiosk by the entrance",
            "felt the usual mix of tired and proud",
        ),
    },
    facts=(
        "I have worked as a nurse on the cardiology ward at Hospital de Santa Maria since 2019.",
        "Dr. Rui Costa, my colleague and the senior cardiologist at Hospital de Santa Maria, "
        "taught me to read a difficult ECG in my first month.",
        "My night shifts run from 20:00 to 08:30, and I work four of them every two weeks.",
        "On 17 February 2025 I was made charge nurse for the night team.",
        "I keep a small notebook in my uniform pocket with the name of every patient who died "
        "on my shift.",
    ),
)

CELLO = Topic(
    key="cello",
    vocabulary=(
        "cello",
        "bow",
        "rosin",
        "rosined",
        "intonation",
        "metronome",
        "vibrato",
        "scales",
        "arpeggios",
        "étude",
        "études",
        "bach",
        "suite",
        "helena",
        "conservatory",
        "thumb position",
        "fingerboard",
        "recital",
    ),
    titles=("Cello practice", "Lesson notes", "Learning the cello", "Practice journal"),
    templates=(
        "I practised {piece} for {practice_time} and {practice_result}.",
        "I worked on my intonation with the metronome at {tempo}, which was humbling.",
        "I rosined the bow too much again, and the sound came out {sound}.",
        "I had my lesson with Helena, and she made me play {exercise} until {lesson_end}.",
        "I recorded myself playing {piece} on the cello and winced at {flaw}.",
        "I tried vibrato on the long notes in {piece}, and it sounded {sound}.",
        "I changed the A string on my cello, which took far longer than it should have.",
        "I listened to {cellist} play {piece} three times before picking up the bow.",
        "I finally reached thumb position in my études, and my left hand complained all evening.",
        "I practised scales slowly, with the metronome ticking, until my shoulders relaxed.",
        "I played duets with another student from the conservatory and we kept losing count.",
        "I noticed that my bow hold slips when I get nervous, so I practised {exercise} with my "
        "eyes closed.",
        "I slid my left hand up and down the fingerboard for ten minutes to warm up.",
    ),
    slots={
        "piece": (
            "the Minuet from Bach's first suite",
            "the Allemande from Bach's first suite",
            "a Breval sonata",
            "the Swan by Saint-Saëns",
            "a Popper étude",
            "a simple arrangement of Fauré's Élégie",
        ),
        "practice_time": ("half an hour", "an hour", "twenty minutes", "most of the afternoon"),
        "practice_result": (
            "the shifts finally started to feel natural",
            "my fingers were sore by the end",
            "I made no progress whatsoever",
            "the opening bars began to sing",
        ),
        "tempo": ("60", "72", "80", "92"),
        "sound": ("scratchy", "warm and round", "thin and nervous", "surprisingly confident"),
        "exercise": (
            "open-string bowing",
            "D major arpeggios",
            "slow shifting exercises",
            "long notes on the C string",
        ),
        "lesson_end": ("my arm ached", "the bow stopped bouncing", "she was satisfied"),
        "flaw": ("every out-of-tune shift", "the scraping near the frog", "the rushed ending"),
        "cellist": (
            "an old Guilhermina Suggia recording",
            "Yo-Yo Ma",
            "Jacqueline du Pré",
            "a student on the radio",
        ),
    },
    facts=(
        "I started learning the cello at 38, after hearing a street musician play Bach in "
        "the Baixa.",
        "My cello teacher is Helena Marques, who teaches at the conservatory on Rua dos Caetanos.",
        "On 21 May 2025 I played the Prelude from Bach's first cello suite at my first student "
        "recital.",
        "My cello is a secondhand German instrument from 1962 that I named Bartolomeu.",
        "I practise the cello for forty minutes every morning before work, starting with slow "
        "scales in C major.",
    ),
)

FAMILY = Topic(
    key="family",
    vocabulary=(
        "ana",
        "sister",
        "nephew",
        "mother",
        "father",
        "brother-in-law",
        "family",
        "birthday",
        "porto",
        "lisbon",
        "duarte",
        "graça",
        "pedro",
        "coimbra",
    ),
    titles=("Family", "Calls with Ana", "Thinking about home", "Letters and calls"),
    templates=(
        "I called Ana on my way home and we talked for {talk_time} about {fam_subject}.",
        "I sent my nephew {gift} for no reason except that I missed him.",
        "I had a long video call with my sister, and our mother kept interrupting to "
        "{mother_action}.",
        "I looked through old pictures of {memory} and sent the best ones to Ana.",
        "I am planning a weekend with my sister in {fam_season}, if the rota allows it.",
        "I wrote a letter to my mother, the old-fashioned way, with a stamp and everything.",
        "I remembered {memory} today and laughed out loud on the tram.",
        "My sister says I {sister_says}, and she is probably right.",
        "I forgot my brother-in-law's birthday again and had to apologise with a long message.",
        "I helped my nephew with {homework} over the phone, which was harder than it sounds.",
        "I miss the big family lunches we used to have on Sundays when my father was alive.",
        "I argued with Ana about {argument}, and then we both apologised within the hour.",
    ),
    slots={
        "talk_time": ("an hour", "almost two hours", "ten minutes", "far too long"),
        "fam_subject": (
            "her new job",
            "our mother's knee",
            "plans for Christmas",
            "nothing and everything",
            "school reports",
            "her neighbours",
        ),
        "gift": (
            "a book about volcanoes",
            "a football shirt",
            "a box of coloured pencils",
            "a postcard with a silly joke",
        ),
        "mother_action": (
            "ask if I was eating properly",
            "show me her new curtains",
            "complain about the weather",
            "tell the same story twice",
        ),
        "memory": (
            "our summer holidays in Figueira da Foz",
            "the day Ana cut my fringe",
            "our grandparents' farm",
            "the school play where I forgot my lines",
        ),
        "fam_season": ("November", "the spring", "early summer", "the Easter holidays"),
        "sister_says": (
            "worry too much",
            "never take holidays",
            "talk faster when I am tired",
            "should call more often",
        ),
        "homework": ("fractions", "a history project", "an English essay", "a science project"),
        "argument": (
            "who should host Christmas",
            "our mother's doctors",
            "something that happened twenty years ago",
        ),
    },
    facts=(
        "My sister Ana lives in Porto with her husband Pedro and their son Duarte.",
        "I have lived in Lisbon since 2016, in a small flat in Alfama with a view of the river.",
        "Ana's birthday is on 19 October, and I always phone her before breakfast to sing to her.",
        "Our mother, Graça, moved in with Ana after our father died in 2020.",
        "Ana is three years older than me, and she is the one who taught me to swim.",
        "I am Maria Sousa, born in Coimbra in 1986, the younger of two sisters.",
    ),
)

GARDENING = Topic(
    key="gardening",
    vocabulary=(
        "garden",
        "gardening",
        "compost",
        "seedlings",
        "tomatoes",
        "soil",
        "weeds",
        "allotment",
        "mulch",
        "pruned",
        "watering can",
        "courgettes",
    ),
    titles=("Allotment diary", "In the garden", "Gardening notes"),
    templates=(
        "I spent {daypart} at the allotment pulling weeds between the {crop}.",
        "I turned the compost heap and found it {compost_state}.",
        "I planted out {count_plants} {crop} seedlings along the sunny side of the garden.",
        "I pruned {shrub} much harder than I meant to and now feel guilty about it.",
        "I filled the watering can {times} before the soil looked properly wet.",
        "I spread a thick layer of mulch around the {crop} before the heatwave arrived.",
        "I lost half the {crop} to {pest}, a lesson I seem to learn every year.",
        "I swapped {crop} seeds with {gardener} over the allotment fence.",
    ),
    slots={
        "crop": ("tomatoes", "courgettes", "broad beans", "lettuces", "peppers", "runner beans"),
        "compost_state": ("warm and crumbly", "far too wet", "full of worms"),
        "count_plants": ("six", "a dozen", "twenty"),
        "shrub": ("the rosemary", "the old fig tree", "the lemon verbena"),
        "times": ("four times", "six times", "twice"),
        "pest": ("snails", "the blackbirds", "a late frost"),
        "gardener": ("Senhor Joaquim", "the retired teacher in plot nine", "a new neighbour"),
    },
    facts=(
        "My allotment is plot 14 in the community gardens of Quinta da Granja.",
        "The best tomatoes I ever grew were Coração de Boi, from seeds Senhor Joaquim gave me.",
    ),
)

PHOTOGRAPHY = Topic(
    key="photography",
    vocabulary=(
        "camera",
        "lens",
        "aperture",
        "shutter",
        "tripod",
        "darkroom",
        "film",
        "negatives",
        "exposure",
        "photograph",
        "photography",
    ),
    titles=("Film photography", "Contact sheet notes", "Shooting log"),
    templates=(
        "I took the {camera} out along {route} and shot a whole roll of film.",
        "I developed {rolls} in the darkroom at the club, and {dev_result}.",
        "I tried shooting at a wide aperture to blur {background}, with mixed results.",
        "I set up the tripod at {route} and waited for {light}.",
        "I scanned old negatives from {year_old} and found {surprise}.",
        "I got the exposure wrong on half the roll because I trusted the meter too much.",
        "I printed my best photograph of {subject} and hung it above my desk.",
        "I bought a secondhand {lens_kind} lens at a flea market for almost nothing.",
        "I cleaned the shutter curtain very carefully, holding my breath the whole time.",
    ),
    slots={
        "camera": ("old Pentax", "Olympus rangefinder", "borrowed Nikon"),
        "route": (
            "the Cais do Sodré waterfront",
            "the Miradouro de Santa Luzia",
            "the back streets of Mouraria",
            "the cloisters at Belém",
        ),
        "rolls": ("two rolls", "a single roll", "three rolls of black and white"),
        "dev_result": ("one came out blank", "the grain looked beautiful", "I scratched a frame"),
        "background": ("the traffic", "the crowds", "a messy wall"),
        "light": ("the blue hour", "the fog to lift", "the trams to line up"),
        "year_old": ("the nineties", "my student years", "a trip to Madeira"),
        "surprise": (
            "a picture of my younger self laughing",
            "a frame I had no memory of taking",
            "a double exposure made by accident",
        ),
        "subject": ("a street cat", "the old tram 28", "a fisherman mending nets"),
        "lens_kind": ("50mm", "28mm", "135mm"),
    },
    facts=(
        "My first camera was a Pentax K1000 that I bought with my first summer wages.",
        "I develop my film at a shared darkroom in Arroios on Thursday evenings.",
    ),
)

ASTRONOMY = Topic(
    key="astronomy",
    vocabulary=(
        "telescope",
        "eyepiece",
        "jupiter",
        "saturn",
        "nebula",
        "constellation",
        "meteors",
        "star chart",
        "galaxy",
        "astronomy",
    ),
    titles=("Observing log", "Under the stars", "Night sky notes"),
    templates=(
        "I carried the telescope up to {spot} and waited for my eyes to adjust.",
        "I found {sky_object} in the eyepiece after {search_time} of searching.",
        "I watched the meteors from {spot}, counting {meteor_count} before clouds came in.",
        "I tried to sketch {sky_object} by red torchlight, and the drawing looked {sketch}.",
        "I checked the star chart twice and still pointed at the wrong constellation.",
        "I showed {visitor} the rings of Saturn, and the gasp was worth the cold.",
        "I stayed up until {hour} to catch Jupiter rising above the rooftops.",
        "I read about {reading} and then went out with the telescope to look for it myself.",
    ),
    slots={
        "spot": ("the rooftop of my building", "a dark field in the Alentejo", "a hill by Sintra"),
        "sky_object": (
            "the Orion nebula",
            "the Andromeda galaxy",
            "Jupiter and its moons",
            "the Pleiades",
        ),
        "search_time": ("ten minutes", "half an hour", "far too long"),
        "meteor_count": ("twelve", "thirty", "only four"),
        "sketch": ("like a smudge", "almost right", "better than expected"),
        "visitor": ("a neighbour's kid", "two friends from work", "an old school friend"),
        "hour": ("two in the morning", "midnight", "half past three"),
        "reading": ("variable stars", "the zodiacal light", "double stars in Cygnus"),
    },
    facts=(
        "My telescope is a 130 mm Newtonian reflector that I bought secondhand.",
        "I first saw the rings of Saturn through my own telescope on a warm August night.",
    ),
)

CHESS = Topic(
    key="chess",
    vocabulary=(
        "chess",
        "knight",
        "bishop",
        "rook",
        "pawn",
        "endgames",
        "checkmate",
        "sicilian",
        "tournament",
        "blitz",
        "castled",
    ),
    titles=("Chess notes", "Games of the week", "Club night"),
    templates=(
        "I played {games} of blitz online and {blitz_result}.",
        "I studied rook endgames for {study_time}, and they are still a mystery to me.",
        "I lost a knight to a silly fork in {round_desc} and never recovered.",
        "I tried the Sicilian in {round_desc} and my opponent {opp_reaction}.",
        "I gave up a pawn early in the game, and it {sac_result}.",
        "I went to the chess club on {weekday} and played {opponent} in a long game.",
        "I missed a checkmate in two and only saw it on the bus home.",
        "I castled too late again, which my coach says is my worst habit.",
        "I traded my bishop for a knight without thinking and regretted it ten moves later.",
    ),
    slots={
        "games": ("ten games", "a dozen games", "twenty games"),
        "blitz_result": (
            "lost most of them",
            "climbed fifty rating points",
            "tilted badly after the third loss",
        ),
        "study_time": ("an hour", "the whole evening", "forty-five minutes"),
        "round_desc": ("the first round", "the club tournament", "a casual game"),
        "opp_reaction": (
            "clearly knew it better than me",
            "played something I had never seen",
            "offered a draw straight away",
        ),
        "sac_result": ("worked beautifully", "was simply lost", "confused us both"),
        "opponent": (
            "an old man called Armando",
            "a twelve-year-old prodigy",
            "the club president",
        ),
    },
    facts=(
        "I play chess at the Clube de Xadrez de Alvalade every Tuesday evening.",
        "My best tournament result was third place in the 2024 Alvalade rapid open.",
    ),
)

POTTERY = Topic(
    key="pottery",
    vocabulary=(
        "clay",
        "kiln",
        "glaze",
        "glazes",
        "pottery",
        "bisque",
        "stoneware",
        "mug",
        "trimming",
        "centering",
        "potter's wheel",
    ),
    titles=("Pottery class", "Studio notes", "From the wheel"),
    templates=(
        "I threw {count_pots} {vessel} on the potter's wheel and kept {kept}.",
        "I spent the session trimming {vessel} that had dried {dryness}.",
        "I opened the kiln and found {kiln_result}.",
        "I mixed a new glaze with {glaze_colour} tones, and it ran down onto the kiln shelf.",
        "I struggled with centering the clay for {struggle_time} before anything worked.",
        "I gave {recipient} a stoneware mug I made, slightly lopsided but full of love.",
        "I wedged a big bag of clay until my wrists hurt.",
        "I signed up for another term at the pottery studio because I cannot stop.",
        "I dipped a whole batch of bisque pieces in glaze and hoped for the best.",
    ),
    slots={
        "count_pots": ("six", "four", "nine"),
        "vessel": ("bowls", "mugs", "small vases", "cylinders"),
        "kept": ("only two", "just one", "all of them, ugly or not"),
        "dryness": ("too much", "just right", "unevenly"),
        "kiln_result": (
            "a cracked bowl",
            "the best glazes I have ever made",
            "a mug fused to the shelf",
        ),
        "glaze_colour": ("blue", "iron red", "celadon green"),
        "struggle_time": ("twenty minutes", "half the session", "an embarrassing amount of time"),
        "recipient": ("a friend from work", "the neighbour downstairs", "my dentist"),
    },
    facts=(
        "I take pottery classes at Barro Studio in Marvila with a teacher called Inês.",
        "The first thing I made that survived the kiln was a small green bowl for my keys.",
    ),
)

JAPANESE = Topic(
    key="japanese",
    vocabulary=(
        "japanese",
        "kanji",
        "hiragana",
        "katakana",
        "flashcards",
        "jlpt",
        "particles",
        "grammar",
        "textbook",
        "kenji",
    ),
    titles=("Japanese study log", "Kanji diary", "Language notes"),
    templates=(
        "I reviewed {card_count} flashcards on the tram and got {accuracy} right.",
        "I learned {kanji_count} new kanji today, including the one for {kanji_meaning}.",
        "I had my conversation lesson with Kenji and {lesson_note}.",
        "I confused the particles wa and ga again, which Kenji finds endlessly funny.",
        "I read a page of a children's book in Japanese and understood {understood}.",
        "I worked through a grammar chapter on {grammar_point} in my textbook.",
        "I practised writing katakana until {writing_end}.",
        "I watched {show} with Japanese subtitles and paused every few seconds.",
        "I went back over the hiragana chart because I keep mixing up two of the characters.",
    ),
    slots={
        "card_count": ("fifty", "a hundred", "thirty"),
        "accuracy": ("most of them", "barely half", "all but three"),
        "kanji_count": ("five", "eight", "twelve"),
        "kanji_meaning": ("rain", "river", "forest", "to eat"),
        "lesson_note": (
            "managed to order a meal in the role play",
            "forgot every verb I knew",
            "laughed through half of it",
        ),
        "understood": ("almost everything", "about half", "only the pictures"),
        "grammar_point": ("the te-form", "polite verbs", "counters"),
        "writing_end": ("my hand cramped", "it looked less childish", "the page was full"),
        "show": ("an old Ozu movie", "a quiz show", "a slow anime series"),
    },
    facts=(
        "I am preparing for the JLPT N4 exam, which I plan to sit in December 2025.",
        "My Japanese tutor Kenji Watanabe teaches me online from Osaka every Sunday morning.",
    ),
)

SAILING = Topic(
    key="sailing",
    vocabulary=(
        "sailing",
        "sail",
        "sailed",
        "tiller",
        "jib",
        "mast",
        "dinghy",
        "mooring",
        "tagus",
        "regatta",
        "capsized",
        "hull",
    ),
    titles=("On the water", "Sailing log", "Dinghy notes"),
    templates=(
        "I sailed the dinghy across the Tagus in {wind}, and {sail_result}.",
        "I helmed for {daypart} and finally felt the tiller rather than fighting it.",
        "I rigged the jib wrong and the instructor made me redo it {redo}.",
        "I capsized near the mooring buoys and climbed back in soaked and laughing.",
        "I practised tacking on the Tagus near {sail_spot} until it felt automatic.",
        "I crewed for {skipper} in the club regatta, and we finished {placing}.",
        "I scrubbed the hull at the end of the day while the sun went down behind the bridge.",
        "I learned {knot_name} and then tied it to the mast and everything else for a week.",
    ),
    slots={
        "wind": ("a gusty northerly", "almost no wind", "a steady afternoon breeze"),
        "sail_result": ("we barely moved", "the boat flew", "I lost my hat overboard"),
        "redo": ("twice", "three times"),
        "sail_spot": ("Belém", "Doca de Alcântara", "the Trafaria side"),
        "skipper": ("an old sailor called Fernando", "a teenager from the club", "the instructor"),
        "placing": ("fourth out of nine", "dead last", "a proud second"),
        "knot_name": ("the bowline", "a clove hitch", "the figure-of-eight"),
    },
    facts=(
        "I learned to sail at the Associação Naval de Lisboa in the summer of 2023.",
        "My sailing instructor Fernando once sailed solo to the Azores in a small sloop.",
    ),
)

# The core themes, used by make_documents() and QUESTIONS.
TOPICS: dict[str, Topic] = {t.key: t for t in (HIKING, COOKING, NURSING, CELLO, FAMILY)}
# Extra themes that make_corpus_bytes() mixes in so clustering has more to separate.
EXTRA_TOPICS: dict[str, Topic] = {
    t.key: t for t in (GARDENING, PHOTOGRAPHY, ASTRONOMY, CHESS, POTTERY, JAPANESE, SAILING)
}
ALL_TOPICS: dict[str, Topic] = {**TOPICS, **EXTRA_TOPICS}

# Planted names -> kind, for checking an entity graph.
ENTITIES: dict[str, str] = {
    "Maria Sousa": "person",
    "Ana": "person",
    "Dr. Rui Costa": "person",
    "Tomás": "person",
    "Helena Marques": "person",
    "Lurdes": "person",
    "Graça": "person",
    "Pedro": "person",
    "Duarte": "person",
    "Porto": "place",
    "Lisbon": "place",
    "Serra da Estrela": "place",
    "Coimbra": "place",
    "Alfama": "place",
    "Hospital de Santa Maria": "organization",
}

QUESTIONS: list[Question] = [
    Question("When did I reach the summit of Torre?", "hiking", ("14 june 2024",)),
    Question("Where did I meet my hiking friend Tomás?", "hiking", ("peneda-gerês",)),
    Question("What brand are my hiking boots?", "hiking", ("meindl",)),
    Question("What is the longest hike I have done?", "hiking", ("32 km",)),
    Question("What is my favourite place to hike?", "hiking", ("favourite", "serra da estrela")),
    Question("Who taught me to make bacalhau à Brás?", "cooking", ("lurdes",)),
    Question("How long do I soak the bacalhau?", "cooking", ("48 hours",)),
    Question("What prize did I win in the pastel de nata contest?", "cooking", ("second prize",)),
    Question("What goes into every bowl of my caldo verde?", "cooking", ("slice of chouriço",)),
    Question("At what temperature do I bake pastéis de nata?", "cooking", ("290 degrees",)),
    Question("Which ward do I work on?", "nursing", ("cardiology ward",)),
    Question("Who taught me to read an ECG?", "nursing", ("rui costa", "ecg")),
    Question("What hours are my night shifts?", "nursing", ("20:00", "08:30")),
    Question("When did I become charge nurse?", "nursing", ("17 february 2025",)),
    Question("Where do I write down patients who died?", "nursing", ("uniform pocket",)),
    Question("How old was I when I started learning the cello?", "cello", ("at 38",)),
    Question("Who is my cello teacher?", "cello", ("helena marques",)),
    Question("What did I play at my first recital?", "cello", ("prelude",)),
    Question("What did I name my cello?", "cello", ("bartolomeu",)),
    Question("How long do I practise the cello each morning?", "cello", ("forty minutes",)),
    Question("Where does my sister live?", "family", ("porto",)),
    Question("What is my nephew's name?", "family", ("duarte",)),
    Question("Which city do I live in?", "family", ("lisbon",)),
    Question("When is my sister's birthday?", "family", ("19 october",)),
    Question("What is my mother's name?", "family", ("graça",)),
    Question("Who taught me to swim?", "family", ("ana", "swim")),
    Question("Where was I born?", "family", ("coimbra",)),
]


def relevant(question: Question, text: str) -> bool:
    """True when ``text`` contains every answer term of ``question`` (case-insensitive)."""
    folded = text.casefold()
    return all(term.casefold() in folded for term in question.answer_terms)


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Day and month of every planted date: filler never uses them, so a date answers one question.
_RESERVED_DAYS = {(14, 6), (30, 11), (17, 2), (21, 5), (19, 10)}
_TITLE_SEASONS = ("spring", "summer", "autumn", "winter")


def _date_pool() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Long ("12 March 2025") and ISO spellings of every usable filler date, 2023-2025."""
    long, iso = [], []
    day = date(2023, 1, 1)
    while day.year < 2026:
        if (day.day, day.month) not in _RESERVED_DAYS:
            long.append(f"{day.day} {_MONTHS[day.month - 1]} {day.year}")
            iso.append(day.isoformat())
        day += timedelta(days=1)
    return tuple(long), tuple(iso)


_LONG_DATES, _ISO_DATES = _date_pool()
_FIELDS: dict[str, tuple[str, ...]] = {}
_DATABLE: dict[str, bool] = {}
# Irregular past forms that open templates; "On <date> I keep ..." would read wrongly.
_PAST = {
    "ate",
    "bought",
    "caught",
    "forgot",
    "found",
    "gave",
    "got",
    "had",
    "let",
    "lost",
    "made",
    "read",
    "sat",
    "sent",
    "set",
    "slept",
    "slid",
    "spent",
    "spread",
    "threw",
    "took",
    "went",
    "wrote",
}


def _fields(template: str) -> tuple[str, ...]:
    """Slot names used by a template, parsed once."""
    found = _FIELDS.get(template)
    if found is None:
        found = tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)
        _FIELDS[template] = found
    return found


def _datable(template: str) -> bool:
    """Whether a template tells one past event, so a date or "Last Monday" can lead it."""
    found = _DATABLE.get(template)
    if found is None:
        words = template.split(maxsplit=2)
        found = (
            len(words) > 1
            and words[0] == "I"
            and (words[1].endswith("ed") or words[1] in _PAST)
            and "today" not in template
        )
        _DATABLE[template] = found
    return found


def _sentence(rng: random.Random, topic: Topic) -> str:
    """One filler sentence: a template with slots filled, sometimes dated."""
    if rng.random() < 0.06:
        return rng.choice(NEUTRAL)
    template = rng.choice(topic.templates)
    values = {}
    for name in _fields(template):
        pool = topic.slots.get(name) or COMMON_SLOTS[name]
        values[name] = rng.choice(pool)
    sentence = template.format(**values) if values else template
    if _datable(template):
        roll = rng.random()
        if roll < 0.15:
            sentence = f"On {rng.choice(_LONG_DATES)} {sentence}"
        elif roll < 0.25:
            sentence = f"On {rng.choice(_ISO_DATES)} {sentence}"
        elif roll < 0.32:
            sentence = f"Last {rng.choice(COMMON_SLOTS['weekday'])} {sentence}"
    return sentence


def _document(
    rng: random.Random,
    topic: Topic,
    name: str,
    facts: tuple[str, ...],
    sentences: int = 0,
    min_bytes: int = 0,
) -> Document:
    """A note of ``topic``: filler sentences, ``facts`` at random places, in paragraphs."""
    body: list[str] = []
    seen = set(facts)
    size = sum(len(f.encode()) + 1 for f in facts)
    while len(body) + len(facts) < sentences or size < min_bytes:
        sentence = _sentence(rng, topic)
        for _ in range(20):  # prefer sentences not yet in this note
            if sentence not in seen:
                break
            sentence = _sentence(rng, topic)
        seen.add(sentence)
        body.append(sentence)
        size += len(sentence.encode()) + 1
    for fact in facts:
        body.insert(rng.randint(0, len(body)), fact)
    paragraphs = []
    start = 0
    while start < len(body):
        step = rng.randint(3, 5)
        paragraphs.append(" ".join(body[start : start + step]))
        start += step
    title = f"{rng.choice(topic.titles)}, {rng.choice(_TITLE_SEASONS)} {rng.randint(2023, 2025)}"
    text = f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n"
    return Document(name=name, topic=topic.key, text=text, facts=facts)


def _facts_for(rng: random.Random, topic: Topic, index: int, chance: float) -> tuple[str, ...]:
    """All facts for a topic's first note (so every fact is stated); later ones repeat a few."""
    if index == 0:
        return topic.facts
    if not topic.facts or rng.random() >= chance:
        return ()
    count = rng.randint(1, min(2, len(topic.facts)))
    return tuple(sorted(rng.sample(topic.facts, count), key=topic.facts.index))


def make_documents(per_topic: int = 3, seed: int = 7, sentences: int = 12) -> list[Document]:
    """``per_topic`` notes for each core topic; the first of each states all its facts."""
    rng = random.Random(seed)
    documents = []
    for topic in TOPICS.values():
        for index in range(per_topic):
            facts = _facts_for(rng, topic, index, chance=0.5)
            name = f"{topic.key}-{index + 1:02d}.md"
            documents.append(_document(rng, topic, name, facts, sentences=sentences))
    return documents


def make_corpus_bytes(target_bytes: int, seed: int = 7) -> list[Document]:
    """Notes of 4-8 KB across all topics, in turn, until their UTF-8 size reaches the target."""
    rng = random.Random(seed)
    topics = list(ALL_TOPICS.values())
    documents: list[Document] = []
    total = 0
    index = 0
    while total < target_bytes:
        topic = topics[index % len(topics)]
        number = index // len(topics)
        facts = _facts_for(rng, topic, number, chance=0.2)
        name = f"{topic.key}-{number + 1:04d}.md"
        # The body overshoots by at most one sentence, and the title adds a little more.
        body_bytes = rng.randint(4096, 7900)
        document = _document(rng, topic, name, facts, min_bytes=body_bytes)
        documents.append(document)
        total += len(document.text.encode())
        index += 1
    return documents
