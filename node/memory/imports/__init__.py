"""Exports of other apps (chats, mail, note vaults) and media (photos, voice) read into memory.

Theory of operation: a format module offers ``sniff(name, data) -> bool``, which looks at the
content (the name is only a hint), and ``read(name, data) -> Imported``, which turns the bytes into
one :class:`~secondme.node.memory.parsers.ParsedDocument` per conversation, email or note, each
with a stable ``key`` and, for messages, stable message ids on its segments, plus a
:class:`Found` line saying what the file held. :mod:`.detect` asks each format in turn; a file
no format claims is read by its suffix as before. Everything here is pure: bytes in, documents
out; the ingestor decides what is new.
"""
