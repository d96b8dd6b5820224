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

from roofline._version import __version__
from roofline.broadcasting import grid
from roofline.engine.capacity import FitResult, fit, search_layouts
from roofline.engine.cluster import Cluster, load_cluster, make_cluster
from roofline.engine.compare import compare
from roofline.engine.context import context
from roofline.engine.efficiency import Efficiency, efficiency_for
from roofline.engine.fidelity import Fidelity, fidelity
from roofline.engine.frontier import FrontierResult, frontier
from roofline.engine.inference import InferenceResult, infer
from roofline.engine.params import ParamCount, count_params
from roofline.engine.precision import RECIPES, Precision, get_precision
from roofline.engine.queueing import max_rate, serve_at_rate
from roofline.engine.serving import continuous, decode_crossover_batch
from roofline.engine.serving_layouts import search_serving_layouts
from roofline.engine.speculative import expected_tokens_per_step, speculative
from roofline.engine.sweep import sweep
from roofline.engine.training import TrainingResult, search_training_layouts, train
from roofline.engine.training_flops import compute_optimal, training_compute
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
    "TrainingResult",
    "__version__",
    "compare",
    "compute_optimal",
    "context",
    "continuous",
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
    "train",
    "training_compute",
]
