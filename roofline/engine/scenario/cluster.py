"""A cluster: N chips of one kind on a two-level network (a fast scale-up domain, e.g.
NVLink / ICI, wired as a switch, mesh, torus or PCIe fabric, and a slower scale-out network,
e.g. InfiniBand), with YAML and API forms."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, model_validator

from roofline.engine.scenario.topology import Fabric, make_fabric
from roofline.specs.catalog import load_chip
from roofline.specs.chip import Chip
from roofline.specs.common import Strict
from roofline.specs.loading import load_yaml_spec
from roofline.specs.memo import per_spec
from roofline.specs.units import BytesPerS

#: Largest cluster described (chips).
MAX_CHIPS = 10_000_000


class Cluster(Strict):
    """``count`` chips of kind ``chip``; link figures and topology default to the chip
    spec's. Latencies are seconds per hop of one collective step (defaults: NCCL's for
    NVLink / PCIe / network, ~1 us per ICI hop; see :mod:`roofline.engine.scenario.topology`)."""

    chip: Chip
    count: int = Field(ge=1, le=MAX_CHIPS)
    scale_up_domain: int | None = Field(default=None, ge=1,
                                        description="chips per scale-up domain")
    scale_up_bandwidth_per_direction: BytesPerS | None = None
    scale_out_bandwidth_per_direction: BytesPerS | None = None
    scale_up_latency_s: float | None = Field(default=None, ge=0, le=1e-3)
    scale_out_latency_s: float | None = Field(default=None, ge=0, le=1e-2)
    torus_shape: tuple[int, ...] | None = Field(
        default=None, min_length=1, max_length=3,
        description="torus slice, x fastest (default: laid out in wrap-around units, "
                    "see roofline.engine.scenario.topology)")

    @model_validator(mode="before")
    @classmethod
    def _resolve_chip(cls, data: object) -> object:
        if isinstance(data, dict) and not isinstance(data.get("chip"), Chip | dict):
            data = {**data, "chip": load_chip(data["chip"])} if "chip" in data else data
        return data

    @property
    def domain(self) -> int:
        """Chips in one scale-up domain (1 when the chip has no scale-up link)."""
        if self.scale_up_domain is not None:
            return self.scale_up_domain
        return self.chip.scale_up.domain_size if self.chip.scale_up else 1

    @property
    def up_bw(self) -> float:
        """Scale-up bandwidth per chip, one direction, bytes/s (0 = none)."""
        if self.scale_up_bandwidth_per_direction is not None:
            return self.scale_up_bandwidth_per_direction
        return self.chip.scale_up.bandwidth_per_direction if self.chip.scale_up else 0.0

    @property
    def out_bw(self) -> float:
        """Scale-out bandwidth per chip, one direction, bytes/s (0 = none)."""
        if self.scale_out_bandwidth_per_direction is not None:
            return self.scale_out_bandwidth_per_direction
        return self.chip.scale_out.bandwidth_per_direction if self.chip.scale_out else 0.0

    @cached_property
    def fabric(self) -> Fabric:
        """The two networks resolved for the collectives (topology, links, latencies)."""
        return make_fabric(self.chip, self.domain, self.up_bw, self.out_bw,
                           up_hop_s=self.scale_up_latency_s,
                           out_hop_s=self.scale_out_latency_s,
                           torus_shape=self.torus_shape)


@per_spec
def default_cluster(chip: Chip, count: int) -> Cluster:
    """``count`` chips with the chip spec's own links (one object per chip and count)."""
    return Cluster(chip=chip, count=count)


def make_cluster(chip: str | Chip, count: int, **links: float) -> Cluster:
    """A cluster of ``count`` chips (catalog name, path or :class:`Chip`)."""
    return Cluster(chip=load_chip(chip), count=count, **links)


def load_cluster(path: str | Path) -> Cluster:
    """A cluster from YAML: ``chip: h100``, ``count: 512`` and optional link overrides."""
    return load_yaml_spec(Cluster, path)
