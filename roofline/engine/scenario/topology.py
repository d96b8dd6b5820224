"""The wiring of a cluster's two networks as the collectives see it: a scale-up domain that
is a switch, a full mesh, a 2D/3D torus or a PCIe fabric, and a scale-out network of NICs.

A group of ``n`` ranks ``stride`` apart (ranks numbered innermost-first, packed domain by
domain) has ``d`` members in each domain it touches; on a torus its members cover ``n_i``
chips along each axis ``i`` (x fastest). Wrap-around links come with whole cubes or whole
axes ("How to Scale Your Model", ch. 2: v4/v5p wrap on multiples of a 4x4x4 cube, v5e/v6e
only on a full 16-chip axis), so by default the torus is laid out in those units (v5p:
4 x 4 x 560, v5e: 16 x 16) and a group's axis is a ring when it covers a multiple of
``wraparound_every`` chips along it (the slice cut to fit it), else a line; the layout does
not depend on the cluster's size, so one answer is the same alone or in a vectorised call.
With an explicit ``torus_shape`` an axis wraps only when the group covers all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from roofline.errors import Problem, SpecError
from roofline.specs.chip import Chip

Array = NDArray[np.float64]

#: Seconds per hop of one collective step, by topology, when the chip spec gives none.
#: NVLink and PCIe: NCCL's LL-protocol hardware latencies (src/graph/tuning.cc, hwLat:
#: NVLink 0.6 us, PCI 1.0 us); a mesh link is taken as an NVLink-class hop; ICI: ~1 us a hop
#: ("How to Scale Your Model", ch. 3, "A note on ICI latency").
HOP_LATENCY_S = {"switch": 0.6e-6, "mesh": 0.6e-6, "pcie": 1.0e-6, "torus": 1.0e-6}
#: A scale-out (InfiniBand / RoCE / DCN) hop: NCCL's network latency for tree steps, LL
#: protocol (hwLat NET, 5.0 us; ring steps are modelled the same).
SCALE_OUT_HOP_S = 5.0e-6


@dataclass(frozen=True)
class Fabric:
    """A cluster's networks, resolved to scalars (SI units, per chip, per direction)."""

    kind: str                  # switch | mesh | torus | pcie (scale-up wiring)
    domain: int                # chips in one scale-up domain (a torus: its slice)
    up_bw: float               # scale-up bytes/s per chip (0 = none)
    link_bw: float             # bytes/s of one scale-up link
    links_per_peer: int        # mesh: links between two chips
    shape: tuple[int, ...]     # torus layout, x fastest (empty otherwise)
    exact_shape: bool          # the shape is the user's slice (wrap only on full axes)
    wraparound_every: int      # torus axes of a multiple of this length wrap around
    nvls: bool                 # in-network reduction on the switch
    up_hop_s: float            # seconds per scale-up hop
    out_bw: float              # scale-out bytes/s per chip (0 = none)
    out_hop_s: float           # seconds per scale-out hop

    def group_bw(self, d: Array) -> Array:
        """Scale-up bytes/s a member of a ``d``-member group can send to the others: the
        full per-chip bandwidth on a switch, its links to the ``d - 1`` peers on a mesh."""
        if self.kind != "mesh":
            return np.full(np.shape(d), self.up_bw)
        peers = np.maximum(np.asarray(d, dtype=np.float64) - 1, 1)
        return np.minimum(self.up_bw, peers * self.links_per_peer * self.link_bw)

    def peer_bw(self) -> float:
        """Bytes/s between two chips of one domain (a point-to-point send)."""
        if self.kind == "mesh":
            return self.links_per_peer * self.link_bw
        if self.kind == "torus":
            return self.link_bw
        return self.up_bw


def default_torus_shape(chips: int, axes: int, wraparound_every: int = 0) -> tuple[int, ...]:
    """The torus layout of ``chips`` chips: inner axes of ``wraparound_every`` chips (its
    wrap-around unit, v5p 4, v5e 16) and the rest along the last axis; without a unit, the
    most even ``axes``-dimensional shape (64 -> 4 x 4 x 4)."""
    chips = max(int(chips), 1)
    unit = int(wraparound_every)
    if unit > 1 and chips % unit ** (axes - 1) == 0:
        return (unit,) * (axes - 1) + (chips // unit ** (axes - 1),)
    dims: list[int] = []
    left = chips
    for i in range(axes, 0, -1):
        target = left ** (1.0 / i)
        divisors = [x for x in range(1, left + 1) if left % x == 0]
        best = min(divisors, key=lambda x: (abs(np.log(x / target)), -x))
        dims.append(best)
        left //= best
    return tuple(sorted(dims))


def make_fabric(chip: Chip, domain: int, up_bw: float, out_bw: float, *,
                up_hop_s: float | None, out_hop_s: float | None,
                torus_shape: tuple[int, ...] | None) -> Fabric:
    """Resolve a chip's scale-up / scale-out specs (and a cluster's overrides) to a Fabric."""
    su = chip.scale_up
    kind = su.topology if su else "switch"
    links = su.link_count if su else 1
    shape: tuple[int, ...] = ()
    if kind == "torus":
        assert su is not None and su.torus_axes is not None
        if torus_shape is not None:
            shape = tuple(int(x) for x in torus_shape)
            if len(shape) != su.torus_axes:
                raise SpecError([Problem(
                    f"torus_shape has {len(shape)} axes; {chip.name} is a "
                    f"{su.torus_axes}D torus: give {su.torus_axes} lengths", field="torus_shape")])
        else:
            shape = default_torus_shape(domain, su.torus_axes, su.wraparound_every or 0)
        domain = int(np.prod(shape))
    peers = max(domain - 1, 1)
    hop = up_hop_s if up_hop_s is not None else (
        su.hop_latency_s if su and su.hop_latency_s is not None else HOP_LATENCY_S[kind])
    return Fabric(
        kind=kind, domain=domain, up_bw=up_bw, link_bw=up_bw / links,
        links_per_peer=max(links // peers, 1) if kind == "mesh" else 1, shape=shape,
        exact_shape=torus_shape is not None,
        wraparound_every=(su.wraparound_every or 0) if su else 0,
        nvls=bool(su and su.in_network_reduction), up_hop_s=hop, out_bw=out_bw,
        out_hop_s=SCALE_OUT_HOP_S if out_hop_s is None else out_hop_s)


def torus_axes(f: Fabric, n: Array, stride: Array) -> tuple[list[Array], list[Array]]:
    """Chips a group covers along each torus axis, and whether that axis is a wrapped ring.

    Ranks ``0, s, 2s, ...`` of a slice numbered x fastest: along axis ``i`` (``P_i`` ranks
    below it, length ``L_i``) the group covers ``min(n s, P_i L_i) / max(s, P_i)`` chips.
    """
    covered: list[Array] = []
    wraps: list[Array] = []
    below = 1.0
    span_ranks = n * stride
    for length in f.shape:
        c = np.clip(np.minimum(span_ranks, below * length) / np.maximum(stride, below), 1, length)
        c = np.floor(c + 1e-9)
        covered.append(c)
        unit = max(f.wraparound_every, 1)
        ring = (c > 2) & (f.wraparound_every > 0) & (c % unit == 0)
        wraps.append(ring & (c == length) if f.exact_shape else ring)
        below *= length
    return covered, wraps
