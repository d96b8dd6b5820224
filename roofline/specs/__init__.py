"""Specs: YAML -> pydantic for chips and models, units, loading, the shipped catalogs."""

from roofline.specs.catalog import (
    chips,
    list_chips,
    list_models,
    load_chip,
    load_model,
    models,
)
from roofline.specs.chip import Chip
from roofline.specs.dtypes import BYTES_PER_ELEMENT, Dtype
from roofline.specs.hf import from_hf_config
from roofline.specs.model import ModelSpec

__all__ = ["BYTES_PER_ELEMENT", "Chip", "Dtype", "ModelSpec", "chips", "from_hf_config",
           "list_chips", "list_models", "load_chip", "load_model", "models"]
