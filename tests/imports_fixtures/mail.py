"""A generated mailbox in the real mbox format, varied by a seed, with what each email must read as.

Messages are built with :mod:`email` (the way mail clients write them: quoted-printable and
base64 bodies, RFC 2047 headers, ISO-8859-1 and UTF-8) and joined as an mbox: a ``From `` line
of sender and asctime date before each, body lines starting ``From `` quoted as ``>From ``, a
blank line after each message; odd seeds end lines with CRLF, as some exporters do. Each email
carries marker words: ``fresh`` ones in what the sender wrote, ``gone`` ones only in what must be
cut (quotes, signature, attachments).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

PEOPLE = {
    "en": [("Alice Moore", "alice"), ("Tom Baker", "tom"), ("Grace Hill", "grace")],
    "pt": [("José Araújo", "jose"), ("Inês Gonçalves", "ines"), ("João Brandão", "joao")],
    "de": [("Jürgen Weiß", "juergen"), ("Käthe Müller", "kaethe"), ("Björn Schäfer", "bjoern")],
    "fr": [("Hélène Dubois", "helene"), ("François Lefèvre", "francois"), ("Zoé Roux", "zoe")],
}
DOMAINS = ("example.com", "mail.example.org", "post.example.net")
WORDS = (
    "garden harbour lantern meadow orchard pebble quartz ribbon saddle timber velvet willow "
    "anchor biscuit candle dolphin ember falcon glacier hazel island juniper kettle lemon"
).split()
KINDS = (
    "reply",
    "latin1",
    "alternative",
    "html_only",
    "attachment",
    "unknown_charset",
    "outlook",
    "from_line",
    "no_id",
    "broken_utf8",
)


@dataclass
class Expected:
    """What one email must read as."""

    kind: str
    key: str | None
    sender: str
    subject: str
    date: str
    fresh: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    attachments: int = 0
    damaged: bool = False
    addresses: set[str] = field(default_factory=set)
    thread: str | None = None


@dataclass
class Mailbox:
    data: bytes
    emails: list[Expected]

    @property
    def people(self) -> int:
        return len({a for e in self.emails for a in e.addresses})


def _marker(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}{rng.randrange(1000, 9999)}"


def _sentence(rng: random.Random, marker: str) -> str:
    words = rng.sample(WORDS, 6)
    words.insert(rng.randrange(1, 6), marker)
    return " ".join(words).capitalize() + "."


def _wrap(words: str, width: int = 60) -> str:
    lines, line = [], ""
    for word in words.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def make_mailbox(seed: int, count: int = 20) -> Mailbox:
    rng = random.Random(seed)
    locale = rng.choice(sorted(PEOPLE))
    people = [(n, f"{u}@{rng.choice(DOMAINS)}") for n, u in PEOPLE[locale] + PEOPLE["en"][:1]]
    start = datetime(2019, 1, 3, 9, 0, tzinfo=UTC) + timedelta(days=rng.randrange(300))
    crlf = seed % 2 == 1
    chunks: list[bytes] = []
    emails: list[Expected] = []
    previous_id: str | None = None
    for number in range(count):
        kind = KINDS[number % len(KINDS)] if number < len(KINDS) else rng.choice(KINDS)
        sender, *others = rng.sample(people, 3)
        zone = timezone(timedelta(hours=rng.choice((-5, 0, 1, 2, 9))))
        when = (start + timedelta(days=number * 7, minutes=rng.randrange(600))).astimezone(zone)
        message_id = f"{seed}.{number}.{rng.randrange(10**9)}@{sender[1].split('@')[1]}"
        subject = f"{rng.choice(WORDS).capitalize()} {number} {sender[0].split()[0]}"
        fresh = [_marker(rng), _marker(rng)]
        gone = [_marker(rng)]
        greeting = others[0][0].split()[0]
        body = f"{greeting},\n\n" + _wrap(_sentence(rng, fresh[0]))
        body += "\n\n" + _wrap(_sentence(rng, fresh[1]))
        if kind != "unknown_charset":
            fresh.append(greeting)
        expected = Expected(
            kind=kind,
            key=None if kind == "no_id" else f"email:{message_id}",
            sender=sender[0],
            subject=subject,
            date=when.isoformat(timespec="seconds"),
            fresh=fresh,
            gone=gone,
            addresses={sender[1], others[0][1]},
        )
        msg = EmailMessage()
        msg["From"] = f"{sender[0]} <{sender[1]}>"
        msg["To"] = f"{others[0][0]} <{others[0][1]}>"
        msg["Subject"] = subject
        msg["Date"] = format_datetime(when)
        if kind != "no_id":
            msg["Message-ID"] = f"<{message_id}>"
        if previous_id and kind in ("reply", "outlook"):
            msg["In-Reply-To"] = f"<{previous_id}>"
            msg["References"] = f"<{previous_id}>"
            expected.thread = previous_id
        quote = _wrap(_sentence(rng, gone[0]))
        signature = f"-- \n{sender[0]}\n{_marker(rng)} phone"
        if kind == "reply":
            attribution = f"On {format_datetime(when - timedelta(days=1))}, {others[0][0]} <"
            text = (
                f"{body}\n\n{attribution}\n{others[0][1]}> wrote:\n"
                + "\n".join("> " + x for x in quote.split("\n"))
                + f"\n>\n> {_marker(rng)}\n\n{signature}\n"
            )
            msg.set_content(text, cte="quoted-printable")
        elif kind == "latin1":
            msg.set_content(
                f"{body}\n\n{signature}\n", charset="iso-8859-1", cte="quoted-printable"
            )
        elif kind == "alternative":
            msg.set_content(body + "\n")
            html = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
            msg.add_alternative(f"<html><body>{html}</body></html>", subtype="html", cte="base64")
        elif kind == "html_only":
            html = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
            html += f"<div>{others[0][0]} wrote:</div><blockquote>{quote}</blockquote>"
            msg.set_content(
                f"<html><head><style>p {{}}</style></head><body>{html}</body></html>",
                subtype="html",
                cte="base64",
            )
        elif kind == "attachment":
            msg.set_content(body + "\n")
            blob = f"%PDF-1.4 {gone[0]} ".encode() + bytes(rng.randrange(256) for _ in range(300))
            msg.add_attachment(blob, maintype="application", subtype="pdf", filename="a.pdf")
            msg.add_attachment(f"{gone[0]} notes".encode(), "text", "plain", filename="n.txt")
            expected.attachments = 2
        elif kind == "outlook":
            original = (
                f"-----Original Message-----\nFrom: {others[0][0]}\n"
                f"Sent: {format_datetime(when - timedelta(hours=3))}\nTo: {sender[0]}\n"
                f"Subject: {subject}\n\n{quote}\n"
            )
            msg.set_content(f"{body}\n\n{original}", cte="quoted-printable")
        elif kind == "from_line":
            msg.set_content(f"{body}\n\nFrom {fresh[0]} onwards it holds.\n", cte="8bit")
            fresh.append(f"From {fresh[0]} onwards")
        elif kind == "no_id":
            msg.set_content(f"{body}\n", cte="base64")
        raw = bytes(msg) if kind not in ("unknown_charset", "broken_utf8") else b""
        if kind == "unknown_charset":
            raw = _raw_message(msg, "x-unknown-8", body.encode("latin-1", errors="replace"))
            expected.damaged = True
        elif kind == "broken_utf8":
            raw = _raw_message(msg, "utf-8", body.encode() + b"\n\n\xff\xfe bad bytes\n")
            expected.damaged = True
        if kind == "from_line":
            raw = raw.replace(b"\nFrom ", b"\n>From ")
        asctime = when.astimezone(UTC).strftime("%a %b %d %H:%M:%S %Y")
        raw = raw.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n"
        chunks.append(
            f"From {sender[1]} {asctime}\n".encode()
            + (raw.replace(b"\n", b"\r\n") if crlf else raw)
        )
        emails.append(expected)
        previous_id = message_id if kind != "no_id" else previous_id
    return Mailbox(b"".join(chunks), emails)


def _raw_message(msg: EmailMessage, charset: str, body: bytes) -> bytes:
    """The message's headers with an 8-bit text body in ``charset``, written by hand, since a
    broken or unknown charset is what no library writes."""
    headers = b"".join(
        f"{k}: {v}\n".encode() for k, v in msg.items() if not k.lower().startswith("content")
    )
    return (
        headers
        + f"MIME-Version: 1.0\nContent-Type: text/plain; charset={charset}\n".encode()
        + b"Content-Transfer-Encoding: 8bit\n\n"
        + body
        + b"\n"
    )
