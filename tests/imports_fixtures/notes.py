"""A generated Obsidian vault, varied by a seed, with what each note must read as.

Notes are written the way Obsidian writes them: YAML front matter (``tags`` as a flow list, a
block list or a string; ``aliases``; ``date`` or ``created``), ``#tags`` and ``#nested/tags``
inline, ``[[wikilinks]]`` with aliases and headings, embeds of notes and of attachments, daily
notes named by their day, folders, code blocks and URLs holding what looks like tags and links
but is not. Some notes are plain markdown, which the importer must leave to the plain parser.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

TITLES = {
    "en": ["Garden plan", "Reading list", "Trip to Porto", "Alice Moore", "Budget 2024"],
    "pt": ["Plano da horta", "Viagem a Évora", "Inês Gonçalves", "Receitas", "Orçamento"],
    "de": ["Gartenplan", "Reise nach Köln", "Jürgen Weiß", "Leseliste", "Haushaltsbuch"],
}
TAGS = ["idea", "project/garden", "people", "travel/2024", "reading", "Ménage", "höhle"]
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "pt": ["segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo"],
    "de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
}
WORDS = "apple river stone cloud maple copper violet thunder harbor saffron".split()


@dataclass
class Note:
    path: str
    data: bytes
    obsidian: bool
    """Has front matter tags or aliases, a wikilink or a tag: the importer claims it."""
    tags: set[str] = field(default_factory=set)
    links: set[str] = field(default_factory=set)
    day: str | None = None
    shown: list[str] = field(default_factory=list)
    """Text a reader sees (link aliases and names): must be in the document's text."""
    hidden: list[str] = field(default_factory=list)
    """Front matter text: must not be in the document's text."""


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_vault(seed: int) -> list[Note]:
    rng = random.Random(seed)
    locale = rng.choice(sorted(TITLES))
    titles = TITLES[locale]
    folder = rng.choice(["", "Notes/", "Vault/Projects/"])
    notes: list[Note] = []
    for index, title in enumerate(titles):
        other, third = rng.sample([t for t in titles if t != title], 2)
        tags = set(rng.sample(TAGS, 2))
        inline = rng.choice([t for t in TAGS if t not in tags])
        alias = f"{_words(rng, 2)} {index}"
        marker = f"{rng.choice(WORDS)}{rng.randrange(1000, 9999)}"
        style = index % 3
        front_tags = {
            0: "tags: [" + ", ".join(f'"{t}"' for t in sorted(tags)) + "]",
            1: "tags:\n" + "".join(f"  - {t}\n" for t in sorted(tags)).rstrip("\n"),
            2: "tags: " + " ".join(sorted(tags)),
        }[style]
        hidden_alias = f"{marker} alias"
        day = f"2023-0{index + 1}-0{index + 1}"
        front = f"---\n{front_tags}\naliases: [{hidden_alias}]\ncreated: {day}\n---\n"
        body = (
            f"# {title}\n\n{_words(rng, 5)} [[{other}|{alias}]] and [[{third}#Part {index}]].\n"
            f"More about #{inline} here, see https://example.com/page#anchor, "
            f"issue #{index + 40}.\n\n"
            f"![[{other}]]\n![[photo {index}.png]]\n\n"
            f"```\n#notatag [[Not a link]]\n```\n"
            f"Inline `#code [[Code link]]` stays. {_words(rng, 4)} {marker}.\n"
        )
        notes.append(
            Note(
                path=f"{folder}{title}.md",
                data=(front + body).encode(),
                obsidian=True,
                tags={t.lower() for t in tags | {inline}},
                links={other, third},
                day=day,
                shown=[alias, f"{third} > Part {index}", marker, f"photo {index}.png"],
                hidden=[hidden_alias, "tags:", "aliases:"],
            )
        )
    first = date(2024, 1, 1) + timedelta(days=rng.randrange(300))
    for offset in range(3):
        day = first + timedelta(days=offset)
        named = day.isoformat()
        if offset == 1:
            named += " " + WEEKDAYS[locale][day.weekday()]
        link = rng.choice(titles)
        notes.append(
            Note(
                path=f"Daily/{named}.md",
                data=f"- {_words(rng, 4)} with [[{link}]]\n- #journal {_words(rng, 3)}\n".encode(),
                obsidian=True,
                tags={"journal"},
                links={link},
                day=day.isoformat(),
                shown=[link],
            )
        )
    notes.append(
        Note(
            path=f"{folder}Plain {seed}.md",
            data=(
                f"---\ndate: 2022-05-0{seed % 9 + 1}\n---\n# Plain\n\n{_words(rng, 6)}.\n\n"
                "## Section\n\nC# and F# and issue #12, https://example.com/#top.\n"
            ).encode(),
            obsidian=False,
        )
    )
    return notes
