"""What a replay left out of its input, and how it says so (docs/recording.md, "What a replay skips").

A damaged recording still replays: frames the decoder refuses, a tail the container (or video_ts.csv) declares
but the file no longer holds, frames past the last row of video_ts.csv, and malformed lines of a sensor file are
counted and skipped. Each is one `Skip`; the replay's summary carries them, the commands print them as one line
on stderr, write them into a RUN.jsonl's last line, and end with exit status 3 (edge/exits.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("edge.skips")

# kind -> (one, several): what was skipped, as the line on stderr says it
KINDS: dict[str, tuple[str, str]] = {
    "undecodable_frames": ("frame that did not decode", "frames that did not decode"),
    "missing_frames": ("frame missing at the end", "frames missing at the end"),
    "untimed_frames": ("frame past the last row of video_ts.csv", "frames past the last row of video_ts.csv"),
    "malformed_lines": ("malformed line", "malformed lines"),
}
PLACES = 5  # places (times, lines) kept per skip: the first ones


@dataclass(frozen=True, slots=True)
class Skip:
    """`count` items of `kind` left out of `file`; `at_s` the first few places on the recording's clock (seconds),
    `lines` their line numbers (a line file), `detail` what the reader knows besides (the first line's problem,
    what the container declares)."""

    file: str
    kind: str
    count: int
    at_s: tuple[float, ...] = ()
    lines: tuple[int, ...] = ()
    detail: str = ""

    def text(self, within: str = "") -> str:
        """E.g. "physio.csv: 7 malformed lines, the first at 3.2 s (line 12: ...)"; the file named relative to
        `within` (the replayed path), and not at all when it is that path."""
        one, several = KINDS.get(self.kind, (self.kind, self.kind))
        folder = within.rstrip("/") + "/"
        name = "" if self.file == within else self.file.removeprefix(folder) if within else self.file
        where = "" if not self.at_s else f", {'from' if self.kind == 'missing_frames' else 'the first at'} " \
            f"{self.at_s[0]:.1f} s"
        return f"{name + ': ' if name else ''}{self.count} {one if self.count == 1 else several}{where}" + \
            (f" ({self.detail})" if self.detail else "")

    def payload(self) -> dict[str, Any]:
        return {"file": self.file, "kind": self.kind, "count": self.count, "at_s": [round(t, 3) for t in self.at_s],
                "lines": list(self.lines), "detail": self.detail}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> Skip:
        """The inverse of payload(); raises KeyError, TypeError or ValueError on something else."""
        return cls(str(p["file"]), str(p["kind"]), int(p["count"]), tuple(float(t) for t in p["at_s"]),
                   tuple(int(n) for n in p["lines"]), str(p["detail"]))


def skips_line(skips: Iterable[Skip], within: str = "") -> str:
    """The one line that says what was skipped ("" when nothing was); files named relative to `within`."""
    texts = [s.text(within) for s in skips]
    return f"skipped {'; '.join(texts)}" if texts else ""


class LineSkips:
    """Malformed lines of one file: counted, the first PLACES kept (line, time of the good sample before, problem)
    and logged at INFO. (With --strict a reader refuses the file at its first malformed line instead.)"""

    def __init__(self, file: str):
        self.file = file
        self.count = 0
        self._first: list[tuple[int, float, str]] = []

    def add(self, line: int, t: float, problem: str) -> None:
        self.count += 1
        if len(self._first) < PLACES:
            self._first.append((line, t, problem))
            log.info("%s:%d: %s: line skipped", self.file, line, problem)

    def skip(self) -> Skip | None:
        if not self.count:
            return None
        line, _, problem = self._first[0]
        return Skip(self.file, "malformed_lines", self.count, tuple(t for _, t, _ in self._first),
                    tuple(n for n, _, _ in self._first), f"line {line}: {problem}")
