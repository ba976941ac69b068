"""The text in an image, read by Tesseract on this machine.

Theory of operation: Tesseract is the distribution's ``tesseract-ocr`` program (``make setup``
installs it with its English data); pytesseract runs it on one image at a time. :class:`Tesseract`
finds the program when it is made, so that a missing one is said once and clearly
(:class:`ModelNotFound`, with the command that installs it) rather than as a traceback per photo;
every run is bounded by a timeout, after which the program is killed (:class:`ModelError`).
Tesseract reports a confidence per word; words below :attr:`Tesseract.min_confidence`, and
"words" that are mostly punctuation (the texture of a wall read as ``|;:``), are dropped, and
what is left is put back together as the lines and paragraphs Tesseract found.

Tesseract parallelises with OpenMP, whose threads spin while they wait: on a machine with few
cores that are busy with other work (the embedder, a transcription) a run with one thread is
two to three times faster than one with Tesseract's default four (measured on 2 loaded cores:
1.7 s → 0.9 s for a photo with 12 words, 8.1 s → 3.0 s for a page of 120 words). So each run
gets ``OMP_THREAD_LIMIT`` = :attr:`Tesseract.threads` (default 1) in its own environment, never
in this process's, whose OpenMP libraries must keep theirs.

pytesseract keeps the program's path (``tesseract_cmd``) and the environment it starts it with
(``environ``) in module globals; both are set only under :data:`_run_lock`, around each run, and
put back after it, so two readers with different settings cannot see each other's.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass

import pytesseract
from PIL import Image

from secondme.node.core.errors import ModelError, ModelNotFound

MISSING = (
    "Tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng); "
    "the photo's time and place are kept, its text is not"
)
"""What the owner reads when the program is missing (photos prefix it with ``photos: ``)."""

_run_lock = threading.Lock()


@dataclass(frozen=True, slots=True, kw_only=True)
class OcrText:
    """What Tesseract read in one image, after the junk words were dropped."""

    paragraphs: tuple[str, ...]
    """Each paragraph's lines joined by newlines, in reading order."""
    words: int
    seconds: float
    """How long Tesseract ran."""

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


class Tesseract:
    """One configured Tesseract: the program, the language(s), the time limit per image."""

    def __init__(
        self,
        command: str | None = None,
        *,
        language: str = "eng",
        timeout_s: float = 30.0,
        min_confidence: float = 60.0,
        threads: int = 1,
    ) -> None:
        """``command`` is a path or a name found on ``PATH`` (default ``tesseract``); a language
        is Tesseract's code, several joined by ``+`` (``eng+por``); ``threads`` is OpenMP's limit
        for each run."""
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        self.command = command or "tesseract"
        self.language = language
        self.timeout_s = timeout_s
        self.min_confidence = min_confidence
        self.threads = threads
        self.path = _find(self.command)

    @property
    def missing(self) -> str | None:
        """Why this reader cannot run, for the owner; None when the program was found."""
        return None if self.path else MISSING

    def read(self, image: Image.Image) -> OcrText:
        """The text in ``image`` (give it grayscale and no larger than needed: the time a run
        takes grows with the pixels).

        Raises :class:`ModelNotFound` when the program is missing and :class:`ModelError` when it
        fails or runs past the timeout."""
        if self.path is None:
            raise ModelNotFound(MISSING)
        runner = pytesseract.pytesseract
        with _run_lock:
            started = time.perf_counter()
            saved = runner.tesseract_cmd, runner.environ
            runner.tesseract_cmd = self.path
            runner.environ = {**os.environ, "OMP_THREAD_LIMIT": str(self.threads)}
            try:
                data = pytesseract.image_to_data(
                    image,
                    lang=self.language,
                    config="--psm 3",
                    output_type=pytesseract.Output.DICT,
                    timeout=self.timeout_s,
                )
            except pytesseract.TesseractNotFoundError as exc:
                raise ModelNotFound(MISSING) from exc
            except pytesseract.TesseractError as exc:
                raise ModelError(f"Tesseract failed: {_reason(exc)}") from exc
            except RuntimeError as exc:  # pytesseract's way of saying the timeout struck
                raise ModelError(
                    f"Tesseract took longer than {self.timeout_s:g} s and was stopped"
                ) from exc
            finally:
                runner.tesseract_cmd, runner.environ = saved
        paragraphs, words = _assemble(data, self.min_confidence)
        return OcrText(paragraphs=paragraphs, words=words, seconds=time.perf_counter() - started)


def _find(command: str) -> str | None:
    if os.sep in command:
        return command if os.path.isfile(command) and os.access(command, os.X_OK) else None
    return shutil.which(command)


def _reason(exc: pytesseract.TesseractError) -> str:
    message = exc.message if isinstance(exc.message, str) else str(exc)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    text = lines[-1] if lines else f"exit status {exc.status}"
    return text if len(text) <= 160 else text[:157] + "..."


def is_junk(word: str) -> bool:
    """A "word" that is mostly not letters or digits: what Tesseract makes of texture."""
    letters = sum(ch.isalnum() for ch in word)
    return letters == 0 or letters * 2 < len(word)


def _assemble(data: dict[str, list], min_confidence: float) -> tuple[tuple[str, ...], int]:
    """Tesseract's word table → paragraphs of lines, keeping only confident, word-like words."""
    lines: dict[tuple[int, int, int], list[str]] = {}
    for i, word in enumerate(data.get("text", ())):
        word = (word or "").strip()
        try:
            confidence = float(data["conf"][i])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if not word or confidence < min_confidence or is_junk(word):
            continue
        where = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        lines.setdefault(where, []).append(word)
    paragraphs: dict[tuple[int, int], list[str]] = {}
    words = 0
    for (block, par, _), line in lines.items():
        if not any(sum(ch.isalnum() for ch in w) >= 2 for w in line):
            continue  # a line of lone letters is noise far more often than text
        paragraphs.setdefault((block, par), []).append(" ".join(line))
        words += len(line)
    return tuple("\n".join(lines_) for lines_ in paragraphs.values()), words
