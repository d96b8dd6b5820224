"""roofline: what an LLM costs on real hardware, from chip and model specs alone.

One data flow: spec (YAML -> pydantic) -> scenario -> per-operator table -> roofline
timing -> report. Every verb takes catalog names, spec files or spec objects, accepts
arrays for numeric inputs, and returns a :class:`Result` (a tidy DataFrame underneath).

>>> import roofline
>>> roofline.load_model("deepseek-v3").params().total
671026419200
>>> roofline.fit("gpt-4", "h100", 32).fits
False
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from roofline._version import __version__

if TYPE_CHECKING:
    from roofline.broadcasting import grid
    from roofline.engine.planning.compare import compare
    from roofline.engine.planning.context import context
    from roofline.engine.planning.cost_curve import cost_curve
    from roofline.engine.planning.fit import FitResult, fit, search_layouts
    from roofline.engine.planning.frontier import FrontierResult, frontier
    from roofline.engine.planning.serving_layouts import search_serving_layouts
    from roofline.engine.planning.sweep import sweep
    from roofline.engine.planning.timeline import TimelineResult, timeline
    from roofline.engine.scenario.cluster import Cluster, load_cluster, make_cluster
    from roofline.engine.scenario.precision import RECIPES, Precision, get_precision
    from roofline.engine.serving.batching import continuous, decode_crossover_batch
    from roofline.engine.serving.inference import InferenceResult, infer
    from roofline.engine.serving.queueing import max_rate, serve_at_rate
    from roofline.engine.serving.speculative import expected_tokens_per_step, speculative
    from roofline.engine.timing.efficiency import Efficiency, efficiency_for
    from roofline.engine.timing.fidelity import Fidelity, fidelity
    from roofline.engine.training.flops import compute_optimal, training_compute
    from roofline.engine.training.run import TrainingResult, train
    from roofline.engine.training.search import search_training_layouts
    from roofline.errors import SpecError
    from roofline.results import Result
    from roofline.specs import (
        BYTES_PER_ELEMENT,
        Chip,
        Dtype,
        ModelSpec,
        from_hf_config,
        list_chips,
        list_models,
        load_chip,
        load_model,
    )
    from roofline.specs.params import ParamCount, count_params

#: Where each public name lives. ``import roofline`` loads none of them (it stays fast and
#: pulls in neither pandas nor plotly); a name's module is imported on first access.
_EXPORTS: dict[str, str] = {
    "grid": "roofline.broadcasting",
    "Cluster": "roofline.engine.scenario.cluster",
    "load_cluster": "roofline.engine.scenario.cluster",
    "make_cluster": "roofline.engine.scenario.cluster",
    "compare": "roofline.engine.planning.compare",
    "cost_curve": "roofline.engine.planning.cost_curve",
    "context": "roofline.engine.planning.context",
    "FitResult": "roofline.engine.planning.fit",
    "fit": "roofline.engine.planning.fit",
    "search_layouts": "roofline.engine.planning.fit",
    "FrontierResult": "roofline.engine.planning.frontier",
    "frontier": "roofline.engine.planning.frontier",
    "search_serving_layouts": "roofline.engine.planning.serving_layouts",
    "sweep": "roofline.engine.planning.sweep",
    "TimelineResult": "roofline.engine.planning.timeline",
    "timeline": "roofline.engine.planning.timeline",
    "Precision": "roofline.engine.scenario.precision",
    "RECIPES": "roofline.engine.scenario.precision",
    "get_precision": "roofline.engine.scenario.precision",
    "continuous": "roofline.engine.serving.batching",
    "decode_crossover_batch": "roofline.engine.serving.batching",
    "InferenceResult": "roofline.engine.serving.inference",
    "infer": "roofline.engine.serving.inference",
    "max_rate": "roofline.engine.serving.queueing",
    "serve_at_rate": "roofline.engine.serving.queueing",
    "expected_tokens_per_step": "roofline.engine.serving.speculative",
    "speculative": "roofline.engine.serving.speculative",
    "Efficiency": "roofline.engine.timing.efficiency",
    "efficiency_for": "roofline.engine.timing.efficiency",
    "Fidelity": "roofline.engine.timing.fidelity",
    "fidelity": "roofline.engine.timing.fidelity",
    "compute_optimal": "roofline.engine.training.flops",
    "training_compute": "roofline.engine.training.flops",
    "TrainingResult": "roofline.engine.training.run",
    "search_training_layouts": "roofline.engine.training.search",
    "train": "roofline.engine.training.run",
    "SpecError": "roofline.errors",
    "Result": "roofline.results",
    "BYTES_PER_ELEMENT": "roofline.specs",
    "Chip": "roofline.specs",
    "Dtype": "roofline.specs",
    "ModelSpec": "roofline.specs",
    "from_hf_config": "roofline.specs",
    "list_chips": "roofline.specs",
    "list_models": "roofline.specs",
    "load_chip": "roofline.specs",
    "load_model": "roofline.specs",
    "ParamCount": "roofline.specs.params",
    "count_params": "roofline.specs.params",
}


__all__ = [
    "BYTES_PER_ELEMENT",
    "RECIPES",
    "Chip",
    "Cluster",
    "Dtype",
    "Efficiency",
    "Fidelity",
    "FitResult",
    "FrontierResult",
    "InferenceResult",
    "ModelSpec",
    "ParamCount",
    "Precision",
    "Result",
    "SpecError",
    "TimelineResult",
    "TrainingResult",
    "__version__",
    "compare",
    "compute_optimal",
    "context",
    "continuous",
    "cost_curve",
    "count_params",
    "decode_crossover_batch",
    "efficiency_for",
    "expected_tokens_per_step",
    "fidelity",
    "fit",
    "from_hf_config",
    "frontier",
    "get_precision",
    "grid",
    "infer",
    "list_chips",
    "list_models",
    "load_chip",
    "load_cluster",
    "load_model",
    "make_cluster",
    "max_rate",
    "search_layouts",
    "search_serving_layouts",
    "search_training_layouts",
    "serve_at_rate",
    "speculative",
    "sweep",
    "timeline",
    "train",
    "training_compute",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562)."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")  # a subpackage: roofline.specs
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
