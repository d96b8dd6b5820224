"""Hugging Face ``config.json`` -> :class:`~roofline.specs.model.ModelSpec`: family
knowledge as data (``families``), shared block builders (``blocks``, ``hybrids``), the
checkpoint's quantisation (``quantization``) and multimodal towers (``multimodal``)."""

from roofline.specs.hf.families import FAMILIES, MULTIMODAL
from roofline.specs.hf.importer import HFImport, from_hf_config, import_hf_config

__all__ = ["FAMILIES", "MULTIMODAL", "HFImport", "from_hf_config", "import_hf_config"]
