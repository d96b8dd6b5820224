"""Inputs several pages share, declared once (key, type, default, bounds).

Bounds keep a request cheap and the numbers meaningful; they are input checks, not
physics (the engine decides what fits).
"""

from __future__ import annotations

from dataclasses import replace

from roofline.dashboard.state import Field
from roofline.engine.scenario.precision import RECIPES
from roofline.specs.dtypes import Dtype

PRECISIONS: tuple[str, ...] = ("native", *RECIPES)
DTYPES: tuple[str, ...] = tuple(d.value for d in Dtype)

MODEL = Field("model", "str", "llama-3.1-70b", "model")
CHIP = Field("chip", "str", "nvidia-h100-sxm", "chip")
CHIPS = Field("chips", "list", ["nvidia-h100-sxm", "amd-mi300x", "nvidia-b200"], "chips")
PRECISION = Field("precision", "str", "native", "precision", choices=PRECISIONS)
BATCH = Field("batch", "int", 8, "batch (sequences)", lo=1, hi=65_536)
PROMPT = Field("prompt", "int", 2048, "prompt / context (tokens)", lo=1, hi=10_000_000)
OUTPUT = Field("output", "int", 256, "output (tokens)", lo=1, hi=1_000_000)
TP = Field("tp", "int", 1, "tensor parallel (tp)", lo=1, hi=1024)
PP = Field("pp", "int", 1, "pipeline parallel (pp)", lo=1, hi=1024)
EP = Field("ep", "int", 1, "expert parallel (ep)", lo=1, hi=1024)
PURPOSE = Field("purpose", "str", "serve", "purpose", choices=("serve", "train"))
COUNT = Field("count", "int", 8, "chips available", lo=1, hi=1_000_000, optional=True)
SEQ_LEN = Field("seq", "int", 4096, "training sequence length (tokens)", lo=1, hi=10_000_000)
GLOBAL_BATCH = Field("gbatch", "int", 1024, "global batch (sequences)", lo=1, hi=1_000_000)
TOKENS = Field("tokens", "float", 1e12, "training tokens", lo=1, hi=1e17)


def with_default(f: Field, default: object) -> Field:
    """The same field with another default (a page's own starting point)."""
    return replace(f, default=default)
