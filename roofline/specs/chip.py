"""Accelerator chip spec (``hardware_specs/*.yaml``), in SI base units."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from roofline.errors import SpecError
from roofline.specs.common import Name, Source, Strict
from roofline.specs.dtypes import WIDER, Dtype
from roofline.specs.units import Bytes, BytesPerS, FlopsPerS, Watts

#: Figure groups a chip's ``sources[].covers`` must account for.
FIGURE_GROUPS = ("peak_flops", "memory", "on_chip_sram", "scale_up", "scale_out", "host",
                 "tdp")


class Memory(Strict):
    """Device memory (HBM, GDDR, LPDDR, DDR)."""

    capacity: Bytes = Field(description="bytes")
    bandwidth: BytesPerS = Field(description="bytes/s")
    kind: str | None = None


class ScaleUp(Strict):
    """The fast domain (NVLink, Infinity Fabric, ICI): per chip, per direction."""

    technology: str
    bandwidth_per_direction: BytesPerS = Field(description="bytes/s per chip, one direction")
    domain_size: int = Field(ge=1, le=1_000_000, description="chips in one scale-up domain")


class ScaleOut(Strict):
    """The network between scale-up domains (InfiniBand, RoCE, EFA, DCN)."""

    technology: str
    bandwidth_per_direction: BytesPerS = Field(description="bytes/s per chip, one direction")


class Host(Strict):
    """The host tier beside device memory (CPU DRAM, optionally local NVMe) that KV-cache
    blocks can be offloaded to: per chip, per direction (PCIe, NVLink-C2C on Grace)."""

    technology: str = Field(description="device-to-host link, e.g. PCIe Gen5 x16")
    bandwidth_per_direction: BytesPerS = Field(description="bytes/s per chip, one direction")
    memory_capacity: Bytes = Field(description="host memory bytes per chip (system / chips)")
    ssd_capacity: Bytes | None = Field(default=None, description="local NVMe bytes per chip")
    ssd_bandwidth: BytesPerS | None = Field(default=None,
                                            description="NVMe read bytes/s per chip")


class Price(Strict):
    """An indicative rental price, with where and when it was seen."""

    usd_per_chip_hour: float = Field(gt=0, lt=1e4)
    provider: str
    date: dt.date
    url: str | None = None


class Chip(Strict):
    """One accelerator (or CPU socket), with dense peak throughput per data type."""

    name: Name
    display_name: str | None = None
    aliases: list[Name] = Field(default_factory=list)
    vendor: Name
    release_year: int = Field(ge=1990, le=2100)
    form_factor: str
    peak_flops: dict[Dtype, FlopsPerS] = Field(
        min_length=1, description="dense peak FLOP/s per data type; absent = unsupported")
    memory: Memory
    on_chip_sram: Bytes | None = Field(default=None, description="bytes of L2 / SRAM")
    scale_up: ScaleUp | None = None
    scale_out: ScaleOut | None = None
    host: Host | None = None
    tdp: Watts | None = Field(default=None, description="W")
    price: Price | None = None
    sources: list[Source] = Field(min_length=1)
    notes: str | None = None

    @model_validator(mode="after")
    def _sources_cover_figures(self) -> Chip:
        given = {g for g in FIGURE_GROUPS if getattr(self, g) is not None}
        covered: set[str] = set()
        for s in self.sources:
            unknown = set(s.covers or ()) - set(FIGURE_GROUPS)
            if unknown:
                raise ValueError(f"sources: unknown figure group(s) {sorted(unknown)} in covers; "
                                 f"use {list(FIGURE_GROUPS)}")
            covered |= set(s.covers or ())
        missing = sorted(given - covered)
        if missing:
            raise ValueError(f"sources: no source covers {missing}; add them to a source's "
                             "`covers:` list (every figure needs a datasheet)")
        return self

    def resolve_dtype(self, dtype: Dtype | str) -> Dtype:
        """The dtype compute actually runs in: ``dtype`` if native, else the next wider one."""
        d = Dtype(dtype)
        for cand in (d, *WIDER[d]):
            if cand in self.peak_flops:
                return cand
        raise SpecError(f"chip {self.name} supports none of {d} and its wider formats; "
                        f"it has {', '.join(self.peak_flops)}")

    def peak(self, dtype: Dtype | str) -> float:
        """Dense peak FLOP/s for ``dtype`` (falling back to a wider supported dtype)."""
        return self.peak_flops[self.resolve_dtype(dtype)]

    def ridge_point(self, dtype: Dtype | str) -> float:
        """Arithmetic intensity (FLOP/byte) where compute and memory time are equal."""
        return self.peak(dtype) / self.memory.bandwidth
