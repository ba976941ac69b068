"""Small files of every supported format, each with a fact planted in it."""

from __future__ import annotations

import json
from pathlib import Path

# format -> (file name, planted fact, a question whose answer is the fact)
FACTS = {
    "text": (
        "journal.txt",
        "My first bicycle was a green Peugeot bought in Nantes in 1998.",
        "Which bicycle did I own first?",
    ),
    "markdown": (
        "garden.md",
        "The quince tree in my garden was planted by my grandmother Odile.",
        "Who planted the quince tree?",
    ),
    "pdf": (
        "thesis.pdf",
        "My thesis measured glacier retreat on the Aletsch using lidar scans.",
        "What did my thesis measure?",
    ),
    "docx": (
        "letter.docx",
        "I adopted a three-legged cat called Pistachio from the shelter.",
        "What is the name of my cat?",
    ),
    "html": (
        "blog.html",
        "My sourdough starter is named Gerald and lives in the fridge.",
        "What is my sourdough starter called?",
    ),
    "csv": ("runs.csv", "marathon,Valencia,3:41:07", "What was my Valencia marathon time?"),
    "json": (
        "trip.json",
        "We rented a campervan in Tasmania for nineteen days.",
        "How long was the Tasmania campervan trip?",
    ),
    "chat": (
        "chat.jsonl",
        "The saxophone lessons are every Thursday with Marguerite.",
        "When are my saxophone lessons?",
    ),
}

FILLER = (
    "Some days are ordinary: I answer email, walk to the bakery, and read in the evening. "
    "Nothing in this paragraph is worth remembering for long. "
)


def _pdf(path: Path, fact: str) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawString(72, 800, "Research summary")
    pdf.drawString(72, 780, fact)
    pdf.showPage()
    pdf.drawString(72, 800, FILLER[:90])
    pdf.save()


def _docx(path: Path, fact: str) -> None:
    import docx

    document = docx.Document()
    document.add_heading("A letter to my sister", level=1)
    document.add_paragraph(FILLER)
    document.add_paragraph(fact)
    document.save(str(path))


def write_samples(folder: Path) -> dict[str, Path]:
    """Write one file per format into ``folder``; returns format -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, (name, fact, _question) in FACTS.items():
        path = folder / name
        if kind == "text":
            path.write_text(f"{FILLER}\n\n{fact}\n\n{FILLER}\n")
        elif kind == "markdown":
            path.write_text(f"# My garden\n\n{FILLER}\n\n## Trees\n\n{fact}\n")
        elif kind == "pdf":
            _pdf(path, fact)
        elif kind == "docx":
            _docx(path, fact)
        elif kind == "html":
            path.write_text(
                f"<html><head><title>Baking notes</title><script>var x = 1;</script></head>"
                f"<body><nav>home | about</nav><p>{FILLER}</p><p>{fact}</p></body></html>"
            )
        elif kind == "csv":
            path.write_text("race,city,time\n10k,Lyon,0:49:10\n" + fact + "\n")
        elif kind == "json":
            path.write_text(json.dumps({"trip": {"where": "Tasmania", "notes": fact}}))
        elif kind == "chat":
            turns = [
                {
                    "speaker": "Me",
                    "text": "Did you book the music thing?",
                    "time": "2024-03-01T10:00",
                },
                {"speaker": "Sam", "text": fact, "time": "2024-03-01T10:01"},
                {"speaker": "Me", "text": "Great, thanks!", "time": "2024-03-01T10:02"},
            ]
            path.write_text("\n".join(json.dumps(t) for t in turns) + "\n")
        paths[kind] = path
    return paths
