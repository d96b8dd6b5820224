"""Numeric formats: names, storage bytes per element, and the fallback order on chips
that lack native support (CONVENTIONS.md)."""

from __future__ import annotations

from enum import StrEnum


class Dtype(StrEnum):
    """A tensor-core / matrix-unit data type, as named in chip specs.

    A string enum: ``Dtype("fp8") == "fp8"``. ``roofline.BYTES_PER_ELEMENT`` gives the
    storage bytes of each; a chip without native support for one computes in the next
    wider (``Chip.resolve_dtype``).

    Parameters
    ----------
    value : str
        One of ``fp64``, ``fp32``, ``tf32``, ``bf16``, ``fp16``, ``fp8``, ``fp6``, ``fp4``,
        ``int8``, ``int4``.

    Examples
    --------
    >>> import roofline
    >>> roofline.Dtype("fp8"), roofline.Dtype.bf16 == "bf16"
    (<Dtype.fp8: 'fp8'>, True)
    >>> roofline.BYTES_PER_ELEMENT[roofline.Dtype.fp4]
    0.5
    """

    fp64 = "fp64"
    fp32 = "fp32"
    tf32 = "tf32"
    bf16 = "bf16"
    fp16 = "fp16"
    fp8 = "fp8"
    fp6 = "fp6"
    fp4 = "fp4"
    int8 = "int8"
    int4 = "int4"


#: Storage bytes per element (tf32 is stored in 4 bytes).
BYTES_PER_ELEMENT: dict[Dtype, float] = {
    Dtype.fp64: 8.0, Dtype.fp32: 4.0, Dtype.tf32: 4.0, Dtype.bf16: 2.0, Dtype.fp16: 2.0,
    Dtype.fp8: 1.0, Dtype.fp6: 0.75, Dtype.fp4: 0.5, Dtype.int8: 1.0, Dtype.int4: 0.5,
}

#: When a chip has no native peak for a dtype, compute runs in the next wider one.
WIDER: dict[Dtype, tuple[Dtype, ...]] = {
    Dtype.fp4: (Dtype.fp6, Dtype.fp8, Dtype.bf16, Dtype.fp16, Dtype.fp32),
    Dtype.fp6: (Dtype.fp8, Dtype.bf16, Dtype.fp16, Dtype.fp32),
    Dtype.fp8: (Dtype.bf16, Dtype.fp16, Dtype.fp32),
    Dtype.int4: (Dtype.int8, Dtype.fp16, Dtype.bf16, Dtype.fp32),
    Dtype.int8: (Dtype.fp16, Dtype.bf16, Dtype.fp32),
    Dtype.bf16: (Dtype.fp16, Dtype.fp32),
    Dtype.fp16: (Dtype.bf16, Dtype.fp32),
    Dtype.tf32: (Dtype.fp32,),
    Dtype.fp32: (Dtype.fp64,),
    Dtype.fp64: (),
}
