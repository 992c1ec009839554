"""Code comments cite pages of the repository's own docs/, never a document outside it: every
cited page and section exists, and nothing cites the SPEC, which is not part of the product."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = [*REPO.glob("src/**/*.py"), *REPO.glob("stages/*.py"), *REPO.glob("schemas/*.json"),
           *REPO.glob("model_card/*.j2")]
CITATION = re.compile(r"docs/([A-Za-z0-9_.-]+\.md)(?:#([a-z0-9-]+))?")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces -> -."""
    out = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return out


def test_no_code_cites_the_spec():
    cited = [f"{p.relative_to(REPO)}:{i}" for p in SOURCES
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
             if re.search(r"SPEC (§|\\u00a7)", line)]
    assert cited == []


def test_every_cited_docs_page_and_section_exists():
    missing = []
    found = 0
    for source in SOURCES:
        for page, anchor in CITATION.findall(source.read_text(encoding="utf-8")):
            found += 1
            path = REPO / "docs" / page
            if not path.is_file():
                missing.append(f"{source.relative_to(REPO)}: docs/{page}")
            elif anchor and anchor not in _anchors(path):
                missing.append(f"{source.relative_to(REPO)}: docs/{page}#{anchor}")
    assert found > 20 and missing == []
