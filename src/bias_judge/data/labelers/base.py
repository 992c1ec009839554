"""What every labeler returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LabelResult:
    rows: list[dict]                       # labelled_pair rows, sorted by pair_id
    counts: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
