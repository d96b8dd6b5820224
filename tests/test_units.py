"""Unit strings are converted once, exactly, at the edge."""

import pytest

from roofline.specs.units import parse_quantity


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("3.35 TB/s", "bytes_per_s", 3.35e12),
    ("80 GB", "bytes", 80e9),
    ("96 GiB", "bytes", 96 * 2**30),
    ("989 TFLOP/s", "flops_per_s", 989e12),
    ("1,979 TOP/s", "flops_per_s", 1979e12),
    ("989 TFLOPS", "flops_per_s", 989e12),
    ("900 GB/s", "bytes_per_s", 900e9),
    ("400 Gb/s", "bytes_per_s", 50e9),  # bits, not bytes
    ("700 W", "watts", 700.0),
    ("1.5 kW", "watts", 1500.0),
    ("671B", "count", 671e9),
    ("1.76T", "count", 1.76e12),
    (2.5e12, "bytes_per_s", 2.5e12),
    (80, "bytes", 80.0),
])
def test_parse(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected, rel=1e-12)


def test_gb_and_gib_differ_exactly():
    assert parse_quantity("1 GiB", "bytes") - parse_quantity("1 GB", "bytes") == 2**30 - 10**9


@pytest.mark.parametrize(("text", "kind"), [
    ("80 GX", "bytes"), ("3 TB", "bytes_per_s"), ("5 furlongs", "watts"), ("fast", "bytes"),
    (True, "bytes"), ([1], "bytes"),
])
def test_unknown_or_wrong_unit_is_an_error(text, kind):
    with pytest.raises(ValueError):
        parse_quantity(text, kind)
