"""Catalog commands: ``chips``, ``models``, ``show``, ``params``, ``validate``, ``schema``."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from roofline.cli.output import print_json, print_table, records
from roofline.errors import SpecError
from roofline.formatting import count, si
from roofline.specs.catalog import list_chips, list_models, load_chip, load_model
from roofline.specs.check import check_paths
from roofline.specs.chip import Chip
from roofline.specs.hf import import_hf_config
from roofline.specs.loading import parse_yaml, validate
from roofline.specs.model import ModelSpec
from roofline.specs.units import dump_with_units


def cmd_chips(args: argparse.Namespace) -> int:
    import pandas as pd

    df = list_chips()
    if args.json:
        print_json(records(df))
        return 0
    view = pd.DataFrame({
        "name": df["name"], "vendor": df["vendor"], "year": df["release_year"],
        "bf16 dense": [si(v, "FLOP/s") for v in df["bf16_flops_per_s"]],
        "fp8 dense": [si(v, "FLOP/s") for v in df["fp8_flops_per_s"]],
        "memory": [si(v, "B") for v in df["memory_bytes"]],
        "bandwidth": [si(v, "B/s") for v in df["memory_bandwidth_bytes_per_s"]],
        "ridge bf16": [f"{v:.0f} FLOP/B" for v in df["ridge_point_bf16_flop_per_byte"]],
        "scale-up/dir": [si(v, "B/s") for v in df["scale_up_bytes_per_s"]],
        "domain": df["scale_up_domain"],
        "$/h": [f"{v:.2f}" if v == v and v is not None else "-" for v in df["usd_per_chip_hour"]],
        "sources": df["sources"].str.slice(0, 60),
    })
    print_table(view)
    print(f"\n{len(df)} chips. Peaks are dense (no 2:4 sparsity); links per direction.")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import pandas as pd

    df = list_models()
    if args.json:
        print_json(records(df))
        return 0
    view = pd.DataFrame({
        "name": df["name"], "type": df["model_type"],
        "total": [count(v) for v in df["total_params"]],
        "active": [count(v) for v in df["active_params"]],
        "layers": df["layers"], "hidden": df["hidden_size"], "attention": df["attention"],
        "experts": [f"{int(k)}/{int(e)}" if e == e and e is not None else "-"
                    for e, k in zip(df["experts"], df["experts_per_token"], strict=True)],
        "context": df["max_position_embeddings"].map(
            lambda v: "-" if v != v or v is None else f"{int(v):,}"),
        "rumoured": df["rumoured"].map({True: "yes", False: ""}),
    })
    print_table(view)
    print(f"\n{len(df)} models.")
    return 0


def _params_dict(m: ModelSpec) -> dict[str, Any]:
    p = m.params()
    d: dict[str, Any] = {"model": m.name, **p.breakdown()}
    if m.published:
        d["published_total"] = int(m.published.total_params)
        if m.published.active_params:
            d["published_active"] = int(m.published.active_params)
        d["published_source"] = m.published.source
    return d


def cmd_params(args: argparse.Namespace) -> int:
    m = load_model(args.model)
    d = _params_dict(m)
    if args.json:
        print_json(d)
        return 0
    print(f"{m.display_name or m.name}: {count(d['total'])} parameters, "
          f"{count(d['active'])} active per token")
    for k in ("embedding", "lm_head", "attention", "ssm", "mlp", "router", "experts_routed",
              "experts_shared", "norms", "non_embedding", "mtp"):
        if d[k]:
            print(f"  {k:<15} {d[k]:>20,}  ({count(d[k])})")
    if m.published:
        err = d["total"] / m.published.total_params - 1
        print(f"  published total {count(m.published.total_params)} ({err:+.2%}); "
              f"source: {m.published.source}")
    return 0


def _chip_dict(c: Chip) -> dict[str, Any]:
    d = c.model_dump(mode="json")
    d["ridge_point_flop_per_byte"] = {k.value: c.ridge_point(k) for k in c.peak_flops}
    return d


def cmd_show(args: argparse.Namespace) -> int:
    errors = []
    for loader in (load_chip, load_model):
        try:
            spec = loader(args.name)
        except SpecError as e:
            errors.append(e)
            continue
        if isinstance(spec, Chip):
            d = _chip_dict(spec)
        else:
            d = spec.model_dump(mode="json", exclude_none=True)
            d["params"] = spec.params().breakdown()
        if args.json:
            print_json(d)
        else:
            import yaml

            d.update(dump_with_units(spec))  # YAML with units, so it loads back as a spec
            print(yaml.safe_dump(d, sort_keys=False, width=100), end="")
        return 0
    raise SpecError([p for e in errors for p in e.problems])


def cmd_validate(args: argparse.Namespace) -> int:
    checked = check_paths(args.paths)
    for c in checked:
        if c.ok:
            print(f"ok    {c.path}  ({c.kind} {c.name})")
        for p in c.problems:
            print(f"FAIL  {p}", file=sys.stderr)
    bad = sum(not c.ok for c in checked)
    kinds = ", ".join(f"{k}: {n}" for k, n in sorted(
        Counter(c.kind for c in checked).items()))
    print(f"{len(checked)} file(s) checked ({kinds}): {len(checked) - bad} valid, "
          f"{bad} with problems ({sum(len(c.problems) for c in checked)} problem(s))")
    return 1 if bad else 0


def cmd_import_hf(args: argparse.Namespace) -> int:
    """Write a config.json as an editable model YAML headed by its source and assumptions."""
    import yaml

    out = Path(args.output) if args.output else None
    name = args.name or (out.stem if out is not None else None)
    imp = import_hf_config(args.config, name=name, as_family=getattr(args, "as"))
    spec = imp.spec
    head = [f"# {spec.name}: imported by `roofline import-hf` from {args.config}",
            f"# read as the {imp.family} family (roofline/specs/hf/families.py)"]
    head += [f"# assumption: {a}" for a in imp.assumptions]
    head += [f"# {t} tower ({m}): {n:,} parameters, counted apart, not costed"
             for t, m, n in imp.towers]
    fields = spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    body = yaml.safe_dump(fields, sort_keys=False, width=100, allow_unicode=True)
    text = "\n".join(head) + "\n" + body
    data, lines = parse_yaml(body, "<import-hf output>")
    validate(ModelSpec, data, "<import-hf output>", lines)  # what is written must load back
    if out is None:
        print(text, end="")
        return 0
    # a FIFO would block the write (never open one); a NUL byte makes exists() raise
    if "\x00" in str(out) or (out.exists() and not out.is_file()):
        raise SpecError("is not a regular file; give a path for the YAML to write",
                        source=str(out))
    if out.exists() and not args.force:
        raise SpecError(f"{out} exists; pass --force to replace it", source=str(out))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as e:
        raise SpecError(f"cannot write: {e.strerror}", source=str(out)) from None
    print(f"wrote {out} ({spec.name}, {imp.family}, {len(imp.assumptions)} assumption(s))")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    kind: type[Chip] | type[ModelSpec] = Chip if args.kind == "chip" else ModelSpec
    print_json(kind.model_json_schema())
    return 0
