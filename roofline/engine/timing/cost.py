"""Money and energy: $ per million tokens served, training-run cost, kWh and CO2.

Energy = chips x power per chip x utilisation x PUE x hours (assumptions printed with each
result). Power per chip is node-level: the published maximum power of the system the chip
ships in (DGX H100 ~10.2 kW for 8 x 700 W GPUs: CPUs, NICs, NVSwitches and fans add 575 W
a GPU) shared over its chips, else the chip's TDP alone (said so in the assumptions);
utilisation is the average fraction of it drawn; PUE the facility's overhead on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from roofline.engine.scenario.rules import check
from roofline.errors import SpecError
from roofline.specs.chip import Chip

if TYPE_CHECKING:
    import pandas as pd

Array = NDArray[np.float64]

#: Data-centre power usage effectiveness (Uptime Institute 2024 survey: industry mean 1.56;
#: hyperscale AI halls report 1.1-1.2). Default for new AI clusters; overridable.
DEFAULT_PUE = 1.2
#: Average share of TDP drawn by a busy accelerator (training and heavy serving draw
#: 70-90% of TDP on H100, per nvidia-smi traces reported in MLPerf Power submissions).
DEFAULT_POWER_UTILISATION = 0.8


@dataclass(frozen=True)
class EnergyAssumptions:
    """How energy and carbon are estimated."""

    pue: float = DEFAULT_PUE
    power_utilisation: float = DEFAULT_POWER_UTILISATION
    grid_kg_co2_per_kwh: float | None = None

    def __post_init__(self) -> None:
        inputs = {"pue": self.pue, "power_utilisation": self.power_utilisation,
                  "grid_kg_co2_per_kwh": self.grid_kg_co2_per_kwh}
        check("energy", inputs, single=inputs)

    def describe(self) -> str:
        co2 = (f", grid {self.grid_kg_co2_per_kwh} kg CO2e/kWh"
               if self.grid_kg_co2_per_kwh is not None else "")
        return (f"energy = chips x node power per chip (system max power / chips, else TDP) "
                f"x {self.power_utilisation:.0%} utilisation x PUE {self.pue:g} x hours{co2}")


def price_per_chip_hour(chip: Chip, override: float | None = None) -> float:
    """$/chip-hour: the override, else the chip spec's indicative price; a clear error if
    neither exists."""
    if override is not None:
        check("cost", {"usd_per_chip_hour": override}, single=("usd_per_chip_hour",))
        return float(override)
    if chip.price is None:
        raise SpecError(f"{chip.name} has no indicative price in hardware_specs/"
                        f"{chip.name}.yaml; pass usd_per_chip_hour=")
    return chip.price.usd_per_chip_hour


def price_note(chip: Chip, override: float | None) -> str:
    if override is not None:
        return f"${override:g}/chip-hour (given)"
    assert chip.price is not None
    return (f"${chip.price.usd_per_chip_hour:g}/chip-hour ({chip.price.provider}, "
            f"{chip.price.date})")


def chip_watts(chip: Chip) -> float:
    """Watts per chip at full load, node overhead included (:meth:`Chip.power_per_chip`);
    a clear error when the chip spec publishes no power."""
    w = chip.power_per_chip()
    if w is None:
        raise SpecError(f"{chip.name} has no TDP in hardware_specs/{chip.name}.yaml; energy "
                        "cannot be estimated")
    return w


def power_note(chip: Chip) -> str:
    """Where the watts per chip come from, for a result's assumptions."""
    s = chip.system
    if s is not None:
        per = s.max_power / s.chips
        over = f" (TDP {chip.tdp:g} W + {per - chip.tdp:g} W node overhead)" if chip.tdp else ""
        return f"{s.name} {s.max_power / 1e3:g} kW max / {s.chips} chips = {per:g} W per chip{over}"
    return f"TDP {chip.tdp:g} W per chip (no system power published: chip only)"


def energy_kwh(chip: Chip, chips: ArrayLike, hours: ArrayLike,
               e: EnergyAssumptions) -> Array:
    """kWh drawn by ``chips`` chips for ``hours``, node and facility overhead included."""
    return (np.asarray(chips, dtype=np.float64) * chip_watts(chip) * e.power_utilisation *
            e.pue * np.asarray(hours, dtype=np.float64) / 1e3)


def usd_per_million_tokens(chips: ArrayLike, usd_per_chip_hour: float,
                           tokens_per_s: ArrayLike, utilisation: ArrayLike = 1.0) -> Array:
    """$ per 1M tokens when ``chips`` chips produce ``tokens_per_s`` while busy for a
    ``utilisation`` share of the hours paid for."""
    rate = np.asarray(tokens_per_s, dtype=np.float64) * np.asarray(utilisation)
    with np.errstate(divide="ignore"):
        usd: Array = np.asarray(chips) * usd_per_chip_hour / (rate * 3600.0) * 1e6
    return usd


def serving_costs(frame: Mapping[str, Any] | pd.DataFrame, chip: Chip,
                  usd_per_chip_hour: float | None = None,
                  utilisation: float = 1.0,
                  energy: EnergyAssumptions | None = None) -> dict[str, Array]:
    """Cost of a static-batch serving result (``infer`` frame): chip time spent in prefill
    is charged to input tokens, chip time in decode to output tokens."""
    check("cost", {"utilisation": utilisation}, single=("utilisation",))
    price = price_per_chip_hour(chip, usd_per_chip_hour)
    chips = np.asarray(frame["tp"]) * np.asarray(frame["pp"])  # one replica
    b, s = (np.asarray(frame[k], dtype=np.float64) for k in ("batch", "prompt_len"))
    ttft, tpot = np.asarray(frame["ttft_s"]), np.asarray(frame["tpot_s"])
    out = {
        "usd_per_m_input_tokens": usd_per_million_tokens(chips, price, b * s / ttft,
                                                         utilisation),
        "usd_per_m_output_tokens": usd_per_million_tokens(chips, price, b / tpot, utilisation),
    }
    if chip.power_per_chip() is not None:
        e = energy or EnergyAssumptions()
        watts = chips * chip_watts(chip) * e.power_utilisation * e.pue
        out["joules_per_output_token"] = watts * tpot / b
    return out
