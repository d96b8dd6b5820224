"""roofline: what an LLM costs on real hardware, from chip and model specs alone.

>>> import roofline
>>> roofline.load_model("deepseek-v3").params().total  # doctest: +SKIP
"""

from roofline.engine.params import ParamCount, count_params
from roofline.errors import SpecError
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

__version__ = "0.1.0"

__all__ = ["BYTES_PER_ELEMENT", "Chip", "Dtype", "ModelSpec", "ParamCount", "SpecError",
           "count_params", "from_hf_config", "list_chips", "list_models", "load_chip",
           "load_model"]
