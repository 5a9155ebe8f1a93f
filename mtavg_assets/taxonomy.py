"""The failure taxonomy, loaded from its versioned data file and validated before use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

REQUIRED_DIMENSIONS = ("acting", "narrative", "atmosphere", "av_language")
QUESTION_TYPES = ("mcq", "yes_no", "temporal", "drama")
SUBSETS = ("core", "short_drama", "temporal_localization", "unlabelled")  # unlabelled: no answer, never scored


class TaxonomyError(ValueError):
    """The taxonomy file cannot be used as it is."""


@dataclass(frozen=True)
class Taxonomy:
    version: str
    categories: dict[str, str]  # category -> dimension
    descriptions: dict[str, str]

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.categories.values())))

    def dimension_of(self, category: str) -> str | None:
        return self.categories.get(category)

    def categories_of(self, dimension: str) -> list[str]:
        return [c for c, d in self.categories.items() if d == dimension]


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate: the required dimensions (MTAVG's four unless the file lists its own under
    `required_dimensions`, as an imported sister benchmark's does), each with categories, no label
    used twice."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"cannot read taxonomy {path}: {exc}") from exc
    if not isinstance(doc, dict) or not doc.get("version") or not isinstance(doc.get("dimensions"), dict):
        raise TaxonomyError(f"{path}: needs a 'version' and a 'dimensions' mapping")
    dims = doc["dimensions"]
    required = doc.get("required_dimensions", REQUIRED_DIMENSIONS)
    if not isinstance(required, list | tuple):
        raise TaxonomyError(f"{path}: required_dimensions must be a list")
    missing = [d for d in required if d not in dims]
    if missing:
        raise TaxonomyError(f"{path}: missing dimensions {missing}")
    categories: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for dim, body in dims.items():
        cats = (body or {}).get("categories") if isinstance(body, dict) else None
        if not isinstance(cats, dict) or not cats:
            raise TaxonomyError(f"{path}: dimension {dim!r} has no categories")
        for cat, desc in cats.items():
            if cat in categories:
                raise TaxonomyError(f"{path}: category {cat!r} appears in {categories[cat]!r} and {dim!r}")
            categories[cat] = dim
            descriptions[cat] = str(desc or "")
    return Taxonomy(version=str(doc["version"]), categories=categories, descriptions=descriptions)
