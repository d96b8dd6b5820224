"""The analytical engine: parameters, per-operator FLOPs and bytes, memory, roofline timing."""

from roofline.engine.params import ParamCount, count_params

__all__ = ["ParamCount", "count_params"]
