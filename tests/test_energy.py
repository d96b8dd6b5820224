"""Node-level energy: the system's published power shared over its chips, then PUE."""

import pytest

import roofline
from roofline.engine.timing.cost import EnergyAssumptions, energy_kwh, power_note, serving_costs


def test_dgx_h100_draws_10_2_kw_for_5_6_kw_of_gpus():
    """NVIDIA DGX H100: ~10.2 kW max for 8 x 700 W H100 (5.6 kW): 1,275 W per GPU, of which
    575 W are the node's CPUs, memory, NICs, NVSwitches and fans (DGX H100 user guide)."""
    h100 = roofline.load_chip("h100")
    assert h100.system is not None and h100.system.max_power == 10.2e3
    assert h100.power_per_chip() == 1275.0
    assert "700 W + 575 W node overhead" in power_note(h100)
    e = EnergyAssumptions(pue=1.2, power_utilisation=0.8)
    # 512 GPUs for one hour: 64 nodes x 10.2 kW x 0.8 x 1.2.
    assert energy_kwh(h100, 512, 1.0, e) == pytest.approx(64 * 10.2 * 0.8 * 1.2)


@pytest.mark.parametrize("chip, per_chip_w", [
    ("b200", 14.3e3 / 8),        # DGX B200, 14.3 kW max
    ("a100-80gb", 6.5e3 / 8),    # DGX A100, 6.5 kW max
    ("gb200", 120e3 / 72),       # GB200 NVL72 rack, ~120 kW
    ("mi300x", 750.0),           # no published system power: the OAM's 750 W alone
])
def test_power_per_chip_by_system(chip, per_chip_w):
    assert roofline.load_chip(chip).power_per_chip() == pytest.approx(per_chip_w)


def test_serving_energy_per_token_counts_the_node():
    r = roofline.infer("llama-3.1-8b", "h100", batch=8, prompt_len=1024, output_len=128)
    out = serving_costs(r.frame, roofline.load_chip("h100"), 2.0,
                        energy=EnergyAssumptions(pue=1.0, power_utilisation=1.0))
    tpot = float(r.frame["tpot_s"].iloc[0])
    assert float(out["joules_per_output_token"][0]) == pytest.approx(1275.0 * tpot / 8)


def test_system_power_below_its_chips_is_refused():
    spec = roofline.load_chip("h100").model_dump()
    spec["system"] = {"name": "x", "chips": 8, "max_power": 5000.0}
    with pytest.raises(Exception, match=r"system\.max_power"):
        roofline.specs.chip.Chip.model_validate(spec)
