"""Backtest cases: published measurements and the scenarios that reproduce them.

The cases live in ``validation/*.yaml`` (one entry per measurement: source, measured value,
the scenario that reproduces it, what the source leaves unsaid). Each case belongs to a
*group* (its source: one paper, one results page, one README), the unit the
cross-validation holds out together (:mod:`roofline.validation.crossval`), and to a
*category* (training; serving at batch 1, ``latency``, or at the largest batch,
``throughput``; matmul; memory) with descriptive tags (``moe``, ``blackwell``,
``non-nvidia``, ``consumer``) the report counts and scores separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urldefrag

import yaml
from pydantic import Field

from roofline.errors import SpecError
from roofline.specs.catalog import catalog_dir, load_chip, load_model
from roofline.specs.common import Strict
from roofline.specs.loading import read_text

Kind = Literal["training", "serving", "matmul", "memory"]
Unit = Literal["FLOP/s per chip", "MFU", "tokens/s per chip", "tokens/s", "FLOP/s", "B/s"]
KINDS: tuple[Kind, ...] = ("training", "serving", "matmul", "memory")
#: Report categories: training, serving split by batch regime, and the microbenchmarks.
CATEGORIES = ("training", "serving", "serving: batch 1", "serving: throughput", "matmul",
              "memory")
#: Chips of NVIDIA's Blackwell generation (tagged ``blackwell``).
BLACKWELL = frozenset({"nvidia-b200", "nvidia-b300", "nvidia-gb200", "nvidia-rtx-5090"})
#: Consumer / workstation GPUs (tagged ``consumer``).
CONSUMER = frozenset({"nvidia-rtx-4090", "nvidia-rtx-5090", "apple-m4-max"})


class CaseSource(Strict):
    """Where the measured number comes from, and where it was read."""

    citation: str = Field(min_length=3)
    url: str = Field(min_length=3)
    retrieved: str = Field(min_length=3)
    group: str | None = Field(
        default=None, description="cross-validation group; default: the url without its "
        "fragment (one page, one group)")


class Measured(Strict):
    """The published value in the source's own unit (SI)."""

    value: float = Field(gt=0)
    unit: Unit
    convention: Literal["megatron", "model"] | None = None


class Case(Strict):
    """One published measurement and the scenario that reproduces it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    kind: Kind
    title: str
    source: CaseSource
    measured: Measured
    scenario: dict[str, Any]
    assumptions: list[str] = Field(default_factory=list)
    discrepancy: str | None = Field(
        default=None, description="why the engine disagrees beyond the guard, when it does")
    fitted: bool = Field(
        default=True, description="false: scored but left out of the calibration fit, "
        "because its discrepancy names an effect the engine does not model yet")
    pending: str | None = Field(
        default=None, description="why the engine cannot express this case yet (the "
        "feature and the issue adding it); the case is listed, not scored, until removed")

    @property
    def chip(self) -> str:
        return str(self.scenario["chip"])

    @property
    def group(self) -> str:
        """The cross-validation group: the source's ``group``, else its url's page."""
        return self.source.group or urldefrag(self.source.url).url

    @property
    def category(self) -> str:
        """``training``, ``serving: batch 1``, ``serving: throughput``, ``matmul``, ``memory``."""
        if self.kind != "serving":
            return self.kind
        b = self.scenario.get("batch", 1)
        return "serving: batch 1" if not isinstance(b, Mapping) and float(b) == 1 else (
            "serving: throughput")

    @property
    def tags(self) -> frozenset[str]:
        """Descriptive tags: ``moe``, ``blackwell``, ``non-nvidia``, ``consumer``."""
        chip = load_chip(self.chip)
        out = set()
        if chip.name in BLACKWELL:
            out.add("blackwell")
        if chip.name in CONSUMER:
            out.add("consumer")
        if chip.vendor != "nvidia":
            out.add("non-nvidia")
        if "model" in self.scenario and load_model(self.scenario["model"]).moe is not None:
            out.add("moe")
        return frozenset(out)


def validation_dir() -> Path:
    """The shipped ``validation/`` folder (repository root, or ``roofline/_catalog``)."""
    return catalog_dir("validation")


def load_cases(path: str | Path | None = None) -> list[Case]:
    """Every case in ``path`` (a YAML file or a folder of them; default: the shipped set)."""
    p = Path(path) if path is not None else validation_dir()
    files = sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    cases: list[Case] = []
    for f in files:
        try:  # case files use YAML anchors, so PyYAML's safe loader, on the bounded reader
            data = yaml.safe_load(read_text(f)) or []
        except yaml.YAMLError as e:
            raise SpecError(f"invalid YAML: {e}", source=str(f)) from None
        if not isinstance(data, list):
            raise SpecError(f"{f}: a list of cases was expected")
        for item in data:
            try:
                cases.append(Case.model_validate(item))
            except ValueError as e:
                raise SpecError(f"{f}: case {item.get('id', '?')!r}: {e}") from e
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SpecError(f"duplicate case ids: {', '.join(dupes)}")
    return cases
