"""Accelerator chip spec (``hardware_specs/*.yaml``), in SI base units."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from roofline.errors import SpecError
from roofline.specs.common import Name, Source, Strict
from roofline.specs.dtypes import WIDER, Dtype
from roofline.specs.memo import per_spec
from roofline.specs.units import Bytes, BytesPerS, FlopsPerS, Watts

#: Figure groups a chip's ``sources[].covers`` must account for.
FIGURE_GROUPS = ("peak_flops", "memory", "on_chip_sram", "scale_up", "scale_out", "host",
                 "tdp", "system")


class Memory(Strict):
    """Device memory (HBM, GDDR, LPDDR, DDR)."""

    capacity: Bytes = Field(description="bytes")
    bandwidth: BytesPerS = Field(description="bytes/s")
    kind: str | None = None


#: How a scale-up domain is wired: every chip on a switch (NVSwitch, NVL72 rack), a link to
#: every peer (full mesh: MI300X, Gaudi 3), a 2D/3D torus of neighbour links (TPU, Trainium),
#: or a PCIe host fabric (no peer-to-peer one-shot collectives).
Topology = Literal["switch", "mesh", "torus", "pcie"]


class ScaleUp(Strict):
    """The fast domain (NVLink, Infinity Fabric, ICI): per chip, per direction, and how it is
    wired. A YAML without ``topology`` is read as a switch (every chip reaches every other at
    the full per-chip bandwidth), as before topologies were data."""

    technology: str
    bandwidth_per_direction: BytesPerS = Field(description="bytes/s per chip, one direction")
    domain_size: int = Field(ge=1, le=1_000_000, description="chips in one scale-up domain")
    topology: Topology = Field(default="switch", description="switch, mesh, torus or pcie")
    links: int | None = Field(
        default=None, ge=1, le=256,
        description="links per chip sharing bandwidth_per_direction equally (mesh: links to "
                    "peers, spread evenly over them; torus: 2 per axis, the default)")
    torus_axes: int | None = Field(default=None, ge=1, le=3,
                                   description="torus dimensions (2 or 3); torus only")
    wraparound_every: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="a torus axis whose length is a multiple of this has wrap-around links "
                    "(TPU v4/v5p: 4, full cubes via optical switches; v5e/v6e: 16)")
    in_network_reduction: bool = Field(
        default=False, description="the switch reduces in the network (NVLink SHARP / NVLS: "
                                   "NVSwitch gen 3+, NVL72); switch only")
    hop_latency_s: float | None = Field(
        default=None, ge=0, le=1e-3,
        description="seconds per hop of one collective step (default by topology)")

    @model_validator(mode="after")
    def _topology_fields(self) -> ScaleUp:
        t = self.topology
        if t == "mesh" and self.links is None:
            raise ValueError("scale_up.links: a mesh needs its number of links per chip "
                             "(e.g. 7 for MI300X: one Infinity Fabric link to each peer)")
        if t == "torus" and self.torus_axes is None:
            raise ValueError("scale_up.torus_axes: a torus needs its dimensions (2 or 3)")
        if t != "torus" and (self.torus_axes is not None or self.wraparound_every is not None):
            raise ValueError("scale_up.torus_axes / wraparound_every apply to topology: torus "
                             "only; remove them or set topology: torus")
        if self.in_network_reduction and t != "switch":
            raise ValueError("scale_up.in_network_reduction needs topology: switch (NVLS "
                             "reduces inside an NVSwitch)")
        return self

    @property
    def link_count(self) -> int:
        """Links per chip: as given, else 2 per torus axis, else 1 (a switch port group)."""
        if self.links is not None:
            return self.links
        return 2 * self.torus_axes if self.torus_axes else 1


class ScaleOut(Strict):
    """The network between scale-up domains (InfiniBand, RoCE, EFA, DCN), per chip."""

    technology: str
    bandwidth_per_direction: BytesPerS = Field(description="bytes/s per chip, one direction")
    nics_per_chip: float | None = Field(
        default=None, gt=0, le=16,
        description="NICs per chip (DGX H100: 1; a 2-8-5 PCIe server: 0.5); documents how "
                    "bandwidth_per_direction is made up")
    rail_optimized: bool | None = Field(
        default=None, description="chips of the same local rank share a leaf switch (rails), "
                                  "so a collective over them crosses one switch hop")


class Host(Strict):
    """The host tier beside device memory (CPU DRAM, optionally local NVMe) that KV-cache
    blocks can be offloaded to: per chip, per direction (PCIe, NVLink-C2C on Grace)."""

    technology: str = Field(description="device-to-host link, e.g. PCIe Gen5 x16")
    bandwidth_per_direction: BytesPerS = Field(description="bytes/s per chip, one direction")
    memory_capacity: Bytes = Field(description="host memory bytes per chip (system / chips)")
    ssd_capacity: Bytes | None = Field(default=None, description="local NVMe bytes per chip")
    ssd_bandwidth: BytesPerS | None = Field(default=None,
                                            description="NVMe read bytes/s per chip")


class System(Strict):
    """The server or rack the chip ships in, for node-level power: its published maximum
    draw covers the chips and what runs them (CPUs, memory, NICs, switches, fans)."""

    name: str = Field(description="e.g. NVIDIA DGX H100")
    chips: int = Field(ge=1, le=1024, description="accelerators in one system")
    max_power: Watts = Field(description="W, the system's published maximum power")


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
    system: System | None = Field(default=None,
                                  description="the system it ships in, for node-level power")
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
        if self.system is not None and self.tdp is not None and (
                self.system.max_power < self.system.chips * self.tdp):
            gpus_w = self.system.chips * self.tdp
            raise ValueError(f"system.max_power: {self.system.max_power:g} W is below its "
                             f"{self.system.chips} chips' TDP ({gpus_w:g} W); give the whole "
                             "system's published maximum power")
        return self

    def power_per_chip(self) -> float | None:
        """Watts per chip at full load, node included: the system's published maximum power
        shared over its chips when known (DGX H100: 10.2 kW / 8 = 1,275 W for a 700 W GPU),
        else the chip's TDP alone; None when neither is published."""
        if self.system is not None:
            return self.system.max_power / self.system.chips
        return self.tdp

    @per_spec
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
