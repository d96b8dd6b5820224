"""Context back-of-envelope: tokens, words and pages; KV cache of a context; the longest
context that fits beside the weights."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roofline.engine.operators.memory import kv_bytes_per_sequence
from roofline.engine.scenario.precision import get_precision
from roofline.engine.scenario.rules import check
from roofline.engine.serving.inference import infer
from roofline.errors import Problem, SpecError
from roofline.results import Result
from roofline.specs.catalog import load_chip, load_model
from roofline.specs.chip import Chip
from roofline.specs.model import ModelSpec

#: English prose averages ~0.75 words per BPE token (OpenAI tokenizer guide: "1 token ~ 3/4
#: of a word") and ~500 words per single-spaced page.
WORDS_PER_TOKEN = 0.75
WORDS_PER_PAGE = 500.0


def tokens_to_words(tokens: float, words_per_token: float = WORDS_PER_TOKEN) -> float:
    return tokens * words_per_token


def words_to_tokens(words: float, words_per_token: float = WORDS_PER_TOKEN) -> float:
    return words / words_per_token


def tokens_to_pages(tokens: float, words_per_token: float = WORDS_PER_TOKEN,
                    words_per_page: float = WORDS_PER_PAGE) -> float:
    return tokens * words_per_token / words_per_page


def pages_to_tokens(pages: float, words_per_token: float = WORDS_PER_TOKEN,
                    words_per_page: float = WORDS_PER_PAGE) -> float:
    return pages * words_per_page / words_per_token


def context(model: str | Path | ModelSpec | Mapping[str, Any],
            chip: str | Path | Chip | Mapping[str, Any] | None = None, *,
            tokens: float | None = None, pages: float | None = None, batch: int = 1,
            precision: Any = "native", tp: int = 1, pp: int = 1,
            words_per_token: float = WORDS_PER_TOKEN,
            words_per_page: float = WORDS_PER_PAGE) -> Result:
    """KV cache of a context given in ``tokens`` or ``pages`` (default: the model's
    maximum), and with a ``chip``, the longest context that fits beside the weights at
    ``batch`` sequences on a tp x pp replica."""
    m = load_model(model)
    check("context", {"tokens": tokens, "pages": pages, "batch": batch, "tp": tp, "pp": pp,
                      "words_per_token": words_per_token, "words_per_page": words_per_page},
          single=("tokens", "pages", "batch", "tp", "pp", "words_per_token", "words_per_page"))
    if tokens is not None and pages is not None:
        raise SpecError([Problem("give tokens or pages, not both", field="pages")])
    p = get_precision(precision, m.quantization)
    if tokens is None:
        tokens = (pages_to_tokens(pages, words_per_token, words_per_page) if pages is not None
                  else float(m.max_position_embeddings or 8192))
    row: dict[str, Any] = {
        "model": m.name, "tokens": tokens,
        "words": tokens_to_words(tokens, words_per_token),
        "pages": tokens_to_pages(tokens, words_per_token, words_per_page),
        "kv_cache_bytes_per_sequence": float(kv_bytes_per_sequence(m, p, tokens)),
        "kv_cache_bytes_per_token": float(kv_bytes_per_sequence(m, p, 1)
                                          - kv_bytes_per_sequence(m, p, 0)),
        "batch": batch, "max_position_embeddings": m.max_position_embeddings,
    }
    if chip is not None:
        c = load_chip(chip)
        r = infer(m, c, batch=batch, prompt_len=1, output_len=1, precision=p, tp=tp, pp=pp)
        longest = float(r["max_context"])
        row.update({"chip": c.name, "tp": tp, "pp": pp, "max_context_tokens": longest,
                    "max_context_pages": tokens_to_pages(longest, words_per_token,
                                                         words_per_page),
                    "weights_bytes_per_device": float(r["weights_bytes"])})
    assumptions = {"words per token": words_per_token, "words per page": words_per_page,
                   "precision": p.label,
                   "limit": "the longest context is capped at the model's "
                            "max_position_embeddings"}
    import pandas as pd

    from roofline.results import with_aliases

    return Result(with_aliases(pd.DataFrame([row]), model=model, chip=chip), assumptions)
