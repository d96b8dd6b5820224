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
    """``count`` chips of kind ``chip``, and the network between them.

    Link figures and topology default to the chip spec's. Latencies are seconds per hop of
    one collective step (defaults: NCCL's for NVLink / PCIe / network, ~1 us per ICI hop;
    see :mod:`roofline.engine.scenario.topology`). ``domain``, ``up_bw`` and ``out_bw``
    give the resolved figures.

    Parameters
    ----------
    chip : Chip or str
        The chip spec, or a catalog name / alias / path (see :func:`load_chip`).
    count : int
        Chips in the cluster, in [1, 10000000].
    scale_up_domain : int, optional
        Chips per scale-up domain (NVLink / ICI island, >= 1); default: the chip's.
    scale_up_bandwidth_per_direction : float or str, optional
        Scale-up bandwidth per chip, one direction, bytes/s (``"450 GB/s"`` also works);
        default: the chip's.
    scale_out_bandwidth_per_direction : float or str, optional
        Scale-out (network) bandwidth per chip, one direction, bytes/s; default: the
        chip's.
    scale_up_latency_s : float, optional
        Seconds per scale-up hop, in [0, 1e-3].
    scale_out_latency_s : float, optional
        Seconds per scale-out hop, in [0, 1e-2].
    torus_shape : tuple of int, optional
        Torus slice (1 to 3 axes, x fastest) for torus chips; default: laid out in
        wrap-around units.

    Examples
    --------
    >>> import roofline
    >>> c = roofline.Cluster(chip="h100", count=16, scale_out_bandwidth_per_direction="25 GB/s")
    >>> c.domain, c.up_bw, c.out_bw
    (8, 450000000000.0, 25000000000.0)
    """

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
    """A cluster of ``count`` chips (catalog name, path or :class:`Chip`).

    Parameters
    ----------
    chip : str or Chip
        Catalog name or alias, chip YAML path, or spec (see :func:`load_chip`).
    count : int
        Chips, in [1, 10000000].
    **links : float
        Overrides of the chip's network, as :class:`Cluster` fields
        (``scale_out_bandwidth_per_direction`` in bytes/s, ``scale_up_domain``, latencies
        in s, ...).

    Returns
    -------
    Cluster
        The validated cluster; ``domain`` (chips per scale-up domain), ``up_bw`` and
        ``out_bw`` (bytes/s per chip per direction) resolve the defaults.

    Examples
    --------
    >>> import roofline
    >>> c = roofline.make_cluster("h100", 512)
    >>> c.chip.name, c.count, c.domain, c.up_bw, c.out_bw
    ('nvidia-h100-sxm', 512, 8, 450000000000.0, 50000000000.0)
    >>> roofline.make_cluster("h100", 64, scale_up_domain=4).domain
    4
    """
    return Cluster(chip=load_chip(chip), count=count, **links)


def load_cluster(path: str | Path) -> Cluster:
    """A cluster from YAML: ``chip: h100``, ``count: 512`` and optional link overrides.

    Parameters
    ----------
    path : str or pathlib.Path
        A YAML file with :class:`Cluster`'s fields (``chip`` a catalog name or path,
        ``count``, optional link overrides with units such as ``25 GB/s``).

    Returns
    -------
    Cluster
        The validated cluster.

    Raises
    ------
    SpecError
        A missing file or an invalid field, naming the file, line and field.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import roofline
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder, "cluster.yaml")
    ...     _ = path.write_text("{chip: h100, count: 512, "
    ...                         "scale_out_bandwidth_per_direction: 25 GB/s}")
    ...     cluster = roofline.load_cluster(path)
    >>> cluster.chip.name, cluster.count, cluster.out_bw
    ('nvidia-h100-sxm', 512, 25000000000.0)
    """
    return load_yaml_spec(Cluster, path)
