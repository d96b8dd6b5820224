"""A cluster: N chips of one kind on a two-level network (a fast scale-up domain, e.g.
NVLink / ICI, and a slower scale-out network, e.g. InfiniBand), with YAML and API forms."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from roofline.specs.catalog import load_chip
from roofline.specs.chip import Chip
from roofline.specs.common import Strict
from roofline.specs.loading import load_yaml_spec
from roofline.specs.memo import per_spec
from roofline.specs.units import BytesPerS

#: Per-message latency (alpha) of one collective step. NCCL's small-message all-reduce on
#: an 8-GPU NVLink node takes roughly 10-20 us over 2(n-1) = 14 ring steps (nccl-tests
#: all_reduce_perf), i.e. about 1 us a step; an InfiniBand hop adds a few microseconds
#: (switch + NIC, ~2-5 us). Assumptions, overridable per cluster.
SCALE_UP_LATENCY_S = 1.0e-6
SCALE_OUT_LATENCY_S = 5.0e-6
#: Largest cluster described (chips).
MAX_CHIPS = 10_000_000


class Cluster(Strict):
    """``count`` chips of kind ``chip``; link figures default to the chip spec's."""

    chip: Chip
    count: int = Field(ge=1, le=MAX_CHIPS)
    scale_up_domain: int | None = Field(default=None, ge=1,
                                        description="chips per scale-up domain")
    scale_up_bandwidth_per_direction: BytesPerS | None = None
    scale_out_bandwidth_per_direction: BytesPerS | None = None
    scale_up_latency_s: float = Field(default=SCALE_UP_LATENCY_S, ge=0)
    scale_out_latency_s: float = Field(default=SCALE_OUT_LATENCY_S, ge=0)

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
