"""What a training run is asked beyond its layout: the pipeline schedule and how much
communication it hides, the gradient accumulation / reduction dtype, the expert dispatch
format and node-limited routing, multi-token prediction; and the bytes per parameter
that follow from the precision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from roofline.engine.network import moe_comm
from roofline.engine.scenario.precision import Precision
from roofline.engine.training.memory import MASTER_BYTES
from roofline.specs.dtypes import Dtype

Array = NDArray[np.float64]
#: Gradient accumulation and reduction bytes per element.
GRAD_BYTES = {"fp32": 4.0, "bf16": 2.0}


@dataclass(frozen=True)
class MoeOverlap:
    """Schedule, overlap and MoE-communication options of a training run (checked by
    :func:`~roofline.engine.training.run.train`): ``schedule`` codes
    (:data:`~roofline.engine.training.schedules.SCHEDULE_CODES`), the share
    ``comm_overlap`` of overlappable communication hidden, gradient accumulation /
    reduction dtype ``grad_dtype``, expert ``dispatch`` format, the routing ``node_limit``
    (scale-up domains per token) and whether the MTP modules train (``mtp``)."""

    schedule: NDArray[np.int64]
    comm_overlap: Array
    grad_dtype: str = "fp32"
    dispatch: str = "auto"
    node_limit: int | None = None
    mtp: bool = True

    def dispatch_bytes(self, p: Precision) -> float | None:
        """Bytes per element of the expert dispatch: fp8 (with its 1 x 128 scales) when
        asked, or under ``auto`` when the experts compute in fp8; else None (activation
        bytes)."""
        fp8 = self.dispatch == "fp8" or (self.dispatch == "auto" and
                                         p.compute_dtype("experts") == Dtype.fp8)
        return moe_comm.FP8_DISPATCH_BYTES if fp8 else None


def train_bytes(p: Precision, master_weights: str,
                grad_dtype: str = "fp32") -> tuple[float, float, float]:
    """(weight, gradient, master) bytes per parameter: 16-bit weights unless the recipe
    computes in fp32 (fp8/fp4 recipes keep 16-bit weights and cast per matmul, as
    Transformer Engine and DeepSeek-V3 do); no master copy when weights are fp32.
    Gradients are accumulated and reduced in fp32 by default: Megatron-LM forces
    ``accumulate_allreduce_grads_in_fp32`` for bf16 (its ``--grad-reduce-in-bf16`` opts
    out), and Llama 3 does the same (Dubey et al. 2024 sec. 3.3.2). ``master_weights`` and
    ``grad_dtype`` are checked by the verb (scenario/rules.py)."""
    wb = 4.0 if p.activations in (Dtype.fp32, Dtype.tf32) else 2.0
    master = 0.0 if wb == 4.0 else MASTER_BYTES[master_weights]
    return wb, max(wb, GRAD_BYTES[grad_dtype]), master
