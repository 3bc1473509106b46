"""Numbers as the payloads carry them: rounded, so that a replay's JSON lines are stable and short."""

from __future__ import annotations


def rounded(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def rounded_scores(scores: dict[str, float] | None) -> dict[str, float] | None:
    return None if scores is None else {k: round(v, 4) for k, v in scores.items()}
