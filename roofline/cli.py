"""The ``roofline`` command line: a thin view over the specs and the engine."""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import roofline as api
from roofline.engine.cost import price_note, serving_costs
from roofline.engine.inputs import check_numbers
from roofline.engine.precision import RECIPES
from roofline.errors import SpecError
from roofline.results import Result
from roofline.specs.catalog import list_chips, list_models, load_chip, load_model
from roofline.specs.check import check_paths
from roofline.specs.chip import Chip
from roofline.specs.hf import import_hf_config
from roofline.specs.loading import parse_yaml, validate
from roofline.specs.model import ModelSpec
from roofline.specs.units import dump_with_units
from roofline.views.format import count, si, value


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=_json_default, allow_nan=False))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records"))


def cmd_chips(args: argparse.Namespace) -> int:
    df = list_chips()
    if args.json:
        _print_json(_records(df))
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
    print(view.to_string(index=False))
    print(f"\n{len(df)} chips. Peaks are dense (no 2:4 sparsity); links per direction.")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    df = list_models()
    if args.json:
        _print_json(_records(df))
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
    print(view.to_string(index=False))
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
        _print_json(d)
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
            _print_json(d)
        else:  # YAML with units, so that it loads back as a spec file
            import yaml

            d.update(dump_with_units(spec))
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
    kind = {"chip": Chip, "model": ModelSpec}[args.kind]
    _print_json(kind.model_json_schema())
    return 0


def _print_result(res: Result, columns: Sequence[str] | None = None) -> None:
    """A single-scenario result as aligned ``name  value`` lines, then its assumptions."""
    frame = res.frame
    cols = [c for c in (columns or frame.columns) if c in frame]
    if len(frame) == 1:
        row = frame.iloc[0]
        width = max(len(c) for c in cols)
        for c in cols:
            print(f"  {c:<{width}}  {value(c, row[c])}")
    else:
        view = pd.DataFrame({c: [value(c, v) for v in frame[c]] for c in cols})
        print(view.to_string(index=False))
    if res.assumptions:
        print("assumptions:")
        for k, v in res.assumptions.items():
            print(f"  {k}: {v}")


def _precision(value_: str | None) -> str | None:
    return value_ or "native"


def _ms_to_s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1e3


def _beyond(args: argparse.Namespace) -> dict[str, bool]:
    """``allow_beyond_context`` for the serving engine, when the flag is given."""
    return {"allow_beyond_context": True} if args.allow_beyond_context else {}


def cmd_infer(args: argparse.Namespace) -> int:
    res = api.infer(args.model, args.chip, batch=args.batch, prompt_len=args.prompt_len,
                    output_len=args.output_len, precision=_precision(args.precision),
                    tp=args.tp, pp=args.pp, ep=args.ep,
                    attention_kernel=args.attention_kernel, **_beyond(args))
    if args.json:
        d = res.to_dict()
        d["operators"] = {ph: _records(res.operators(ph)) for ph in ("prefill", "decode")}
        _print_json(d)
        return 0
    _print_result(res, INFER_COLUMNS)
    if args.ops:
        ops = res.operators(args.ops)
        print(f"\n{args.ops} operators (expected mode):")
        view = pd.DataFrame({c: [value(c, v) for v in ops[c]] for c in OP_COLUMNS})
        print(view.to_string(index=False))
    return 0


INFER_COLUMNS = ("model", "chip", "precision", "batch", "prompt_len", "output_len", "tp", "pp",
                 "ep", "ttft_s", "ttft_low_s", "ttft_high_s", "tpot_s", "tpot_low_s",
                 "tpot_high_s", "e2e_s", "tokens_per_s_per_request", "decode_tokens_per_s",
                 "decode_tokens_per_s_low", "decode_tokens_per_s_high",
                 "ttft_ideal_s", "tpot_ideal_s", "decode_bound",
                 "prefill_bound", "weights_bytes", "kv_cache_bytes", "activation_bytes",
                 "reserve_bytes", "memory_bytes", "memory_fraction", "fits", "max_batch",
                 "max_context")
OP_COLUMNS = ("operator", "layers", "dtype", "flops", "bytes", "intensity_flop_per_byte",
              "compute_s", "memory_s", "time_s", "bound")


def cmd_fit(args: argparse.Namespace) -> int:
    res = api.fit(args.model, args.chip, args.count, args.purpose,
                  precision=_precision(args.precision), batch=args.batch,
                  prompt_len=args.prompt_len, output_len=args.output_len,
                  seq_len=args.seq_len, global_batch=args.global_batch,
                  max_tpot_s=_ms_to_s(args.max_tpot_ms),
                  max_ttft_s=args.max_ttft_s, min_tokens_per_s=args.min_tokens_per_s,
                  **(_beyond(args) if args.purpose == "serve" else {}))
    s = res.summary()
    if args.json:
        _print_json(s)
        return 0
    where = f"{s['count']} x {s['chip']}" if s["count"] else s["chip"]
    print(f"{s['model']} for {s['purpose']} on {where}: "
          f"{'FITS' if s['fits'] else 'DOES NOT FIT'}")
    print(f"  {s['reason']}")
    if s["min_chips"]:
        print(f"  fewest chips that fit: {s['min_chips']}")
    if s["memory_per_device_bytes"]:
        parts = ", ".join(f"{k} {si(v, 'B')}" for k, v in s["memory_per_device_bytes"].items())
        print(f"  memory per device: {parts}")
    for k, v in s["assumptions"].items():
        if isinstance(v, dict):
            v = ", ".join(f"{kk} {value(kk, vv)}" for kk, vv in v.items())
        print(f"  {k}: {v}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    chips = args.chips.split(",") if args.chips else None
    res = api.compare(args.model, chips, batch=args.batch, prompt_len=args.prompt_len,
                      output_len=args.output_len, precision=_precision(args.precision),
                      max_tpot_s=_ms_to_s(args.max_tpot_ms),
                      sort_by=args.sort, **_beyond(args))
    if args.json:
        _print_json(res.to_dict())
        return 0
    cols = ["chip", "fits", "chips_needed", "tp", "pp", "tpot_s", "output_tokens_per_s",
            "usd_per_m_input_tokens", "usd_per_m_output_tokens", "joules_per_output_token",
            "note"]
    _print_result(res, cols)
    return 0


def cmd_context(args: argparse.Namespace) -> int:
    res = api.context(args.model, args.chip, tokens=args.tokens, pages=args.pages,
                      batch=args.batch, precision=_precision(args.precision), tp=args.tp,
                      pp=args.pp, words_per_token=args.words_per_token,
                      words_per_page=args.words_per_page)
    if args.json:
        _print_json(res.to_dict())
    else:
        _print_result(res)
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    if args.purpose == "train":
        return cmd_train_cost(args)
    check_numbers(utilisation=args.utilisation, usd_per_chip_hour=args.usd_per_chip_hour)
    verdict = api.fit(args.model, args.chip, args.count, "serve",
                      precision=_precision(args.precision), batch=args.batch,
                      prompt_len=args.prompt_len, output_len=args.output_len, **_beyond(args))
    if not verdict.fits:
        raise SpecError(f"{args.model} does not fit on {args.chip}: {verdict.reason}")
    lay = verdict.assumptions["layout"]
    res = api.infer(args.model, args.chip, batch=args.batch, prompt_len=args.prompt_len,
                    output_len=args.output_len, precision=_precision(args.precision),
                    tp=lay["tp"], pp=lay["pp"], ep=lay["ep"], **_beyond(args))
    chip = load_chip(args.chip)
    costs = serving_costs(res.frame, chip, args.usd_per_chip_hour, args.utilisation)
    for k, v in costs.items():
        res.frame[k] = v
    res.assumptions["price"] = price_note(chip, args.usd_per_chip_hour)
    res.assumptions["utilisation"] = f"{args.utilisation:.0%} of paid hours busy"
    if args.json:
        _print_json(res.to_dict())
        return 0
    _print_result(res, ("model", "chip", "precision", "batch", "tp", "pp", "ep", "ttft_s",
                        "tpot_s", "decode_tokens_per_s", *costs))
    return 0


def cmd_train_cost(args: argparse.Namespace) -> int:
    from roofline.engine.cost import EnergyAssumptions
    from roofline.engine.training import train

    if args.count is None or args.tokens is None:
        raise SpecError("training cost needs --count (chips) and --tokens (training tokens)")
    # the cheap checks first, before the layout search
    check_numbers(tokens=args.tokens, usd_per_chip_hour=args.usd_per_chip_hour)
    energy = EnergyAssumptions(pue=args.pue, grid_kg_co2_per_kwh=args.grid_kg_co2_per_kwh)
    verdict = api.fit(args.model, args.chip, args.count, "train",
                      precision=_precision(args.precision), seq_len=args.seq_len,
                      global_batch=args.global_batch)
    if not verdict.fits:
        raise SpecError(f"{args.model} cannot train on {args.count} x {args.chip}: "
                        f"{verdict.reason}")
    lay = verdict.assumptions["layout"]
    res = train(args.model, args.chip, count=args.count, seq_len=args.seq_len,
                global_batch=args.global_batch, tokens=args.tokens,
                precision=_precision(args.precision),
                usd_per_chip_hour=args.usd_per_chip_hour,
                energy=energy,
                **{k: v for k, v in lay.items() if k != "dp"})
    if args.json:
        _print_json(res.to_dict())
    else:
        _print_result(res, TRAIN_COST_COLUMNS)
    return 0


TRAIN_COST_COLUMNS = ("model", "chip", "count", "layout", "step_time_s", "compute_s",
                      "tp_comm_s", "ep_comm_s", "dp_comm_s", "bubble_s", "tokens_per_s", "mfu",
                      "hfu", "memory_bytes", "tokens", "total_time_s", "chip_hours",
                      "training_flops", "cost_usd", "energy_kwh", "co2_kg")


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the dashboard (``roofline.dashboard.app.main``); imported here, on demand."""
    from roofline.dashboard.app import main as serve

    serve(["--host", args.host, "--port", str(args.port)]
          + (["--production"] if args.production else []))
    return 0


def cmd_validate_runs(args: argparse.Namespace) -> int:
    """Backtest against published measurements (``roofline.validation``), on demand."""
    from roofline.validation import validate_runs

    return validate_runs(calibrate_=args.calibrate, check=args.check, cases=args.cases,
                         out=args.out)


FRONTIER_COLUMNS = ("mode", "tp", "dp", "ep", "batch", "draft_tokens", "xpyd",
                    "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user", "ttft_s",
                    "tpot_s", "usd_per_m_output_tokens")


def cmd_frontier(args: argparse.Namespace) -> int:
    """Pareto front of tokens/s per chip vs per user (``roofline.frontier``)."""
    disagg = True if args.disaggregated else (False if args.aggregated else None)
    res = api.frontier(args.model, args.chip, count=args.count, prompt_len=args.prompt_len,
                       output_len=args.output_len, workload=args.workload,
                       precision=_precision(args.precision), disaggregated=disagg,
                       max_ttft_s=args.max_ttft_s,
                       max_tpot_s=None if args.max_tpot_ms is None else args.max_tpot_ms / 1e3,
                       cache_hit=args.cache_hit, speculation=args.speculation,
                       usd_per_chip_hour=args.usd_per_chip_hour)
    if args.json:
        _print_json({"points": _records(res.frame), "assumptions": res.assumptions})
        return 0
    _print_result(res, FRONTIER_COLUMNS)
    return 0


def _frontier_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("frontier", cmd_frontier, "throughput-interactivity frontier: tokens/s per chip "
            "vs per user over every serving configuration")
    p.add_argument("model")
    p.add_argument("chip")
    p.add_argument("--count", type=int, required=True, help="chips available")
    p.add_argument("--prompt-len", type=int, help="prompt tokens (default: the workload's)")
    p.add_argument("--output-len", type=int, help="output tokens (default: the workload's)")
    p.add_argument("--workload", choices=["chat", "long", "reasoning", "rag"],
                   help="preset lengths: chat 1k/1k, long 8k/1k, reasoning 1k/3498, rag 32k/512")
    p.add_argument("--precision", help=f"recipe: native (default), {', '.join(RECIPES)}")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--disaggregated", action="store_true", help="only prefill/decode pools")
    mode.add_argument("--aggregated", action="store_true", help="only one pool per replica")
    p.add_argument("--max-ttft-s", type=float, help="time-to-first-token target")
    p.add_argument("--max-tpot-ms", type=float, help="time-per-output-token target")
    p.add_argument("--cache-hit", type=float, default=0.0, help="prefix-cache hit share")
    p.add_argument("--speculation", choices=["auto", "off", "mtp"], default="auto",
                   help="auto: MTP where the model has it")
    p.add_argument("--usd-per-chip-hour", type=float, help="override the catalog price")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roofline", description="What an LLM costs on real hardware: specs, params, "
        "roofline timing. MODEL is a catalog name, a model YAML or a HF config.json path.")
    debug_help = "on an internal error, print the traceback"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str,
            json_flag: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        # also accepted after the verb; SUPPRESS keeps a --debug given before it
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=debug_help)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(func=func)
        return p

    add("chips", cmd_chips, "list the chip catalog")
    add("models", cmd_models, "list the model catalog")
    add("show", cmd_show, "show one chip or model").add_argument("name")
    add("params", cmd_params, "parameter counts of a model").add_argument("model")
    add("validate", cmd_validate, "check chip/model YAML or config.json files",
        json_flag=False).add_argument("paths", nargs="+")
    add("schema", cmd_schema, "print the JSON Schema of a spec kind",
        json_flag=False).add_argument("kind", choices=["chip", "model"])
    p = add("import-hf", cmd_import_hf, "write a Hugging Face config.json as a model YAML",
            json_flag=False)
    p.add_argument("config", help="path to config.json (read locally)")
    p.add_argument("-o", "--output", help="YAML to write, e.g. models/NAME.yaml (default: "
                   "print it)")
    p.add_argument("--as", metavar="FAMILY", help="map an unsupported model_type as this "
                   "family (e.g. llama); every assumption is listed in the file")
    p.add_argument("--name", help="model name (default: the output file's stem)")
    p.add_argument("--force", action="store_true", help="replace an existing file")

    def workload(p: argparse.ArgumentParser) -> None:
        p.add_argument("--precision", help=f"recipe: native (default), {', '.join(RECIPES)}")
        p.add_argument("--batch", type=int, default=1, help="sequences per batch")
        p.add_argument("--prompt-len", type=int, default=1024, help="prompt tokens")
        p.add_argument("--output-len", type=int, default=256, help="generated tokens")
        p.add_argument("--allow-beyond-context", action="store_true",
                       help="evaluate a prompt + output longer than the model's "
                       "max_position_embeddings (an error otherwise)")

    p = add("infer", cmd_infer, "serving latency, throughput and memory of one scenario")
    p.add_argument("model")
    p.add_argument("chip")
    workload(p)
    for deg in ("tp", "pp", "ep"):
        p.add_argument(f"--{deg}", type=int, default=1, help=f"{deg} degree")
    p.add_argument("--attention-kernel", choices=["fused", "materialised"], default="fused")
    p.add_argument("--ops", choices=["prefill", "decode"], help="print the operator table")

    p = add("fit", cmd_fit, "does a model fit on N chips, for serving or training?")
    p.add_argument("model")
    p.add_argument("chip")
    p.add_argument("--count", type=int, help="chips available (omit: the fewest that fit)")
    p.add_argument("--purpose", choices=["serve", "train"], default="serve")
    workload(p)
    p.add_argument("--seq-len", type=int, default=2048, help="training sequence length")
    p.add_argument("--global-batch", type=int, help="training sequences per step")
    p.add_argument("--max-tpot-ms", type=float, help="latency target per output token")
    p.add_argument("--max-ttft-s", type=float, help="time-to-first-token target")
    p.add_argument("--min-tokens-per-s", type=float, help="aggregate throughput target")

    p = add("cost", cmd_cost, "$ per 1M tokens served, or the cost of a training run")
    p.add_argument("model")
    p.add_argument("chip")
    p.add_argument("--count", type=int, help="chips (training: required)")
    p.add_argument("--purpose", choices=["serve", "train"], default="serve")
    workload(p)
    p.add_argument("--usd-per-chip-hour", type=float, help="override the catalog price")
    p.add_argument("--utilisation", type=float, default=1.0, help="busy share of paid hours")
    p.add_argument("--tokens", type=float, help="training tokens (e.g. 15e12)")
    p.add_argument("--seq-len", type=int, default=4096)
    p.add_argument("--global-batch", type=int, default=1024)
    p.add_argument("--pue", type=float, default=1.2)
    p.add_argument("--grid-kg-co2-per-kwh", type=float)

    p = add("compare", cmd_compare, "one serving scenario on every catalog chip")
    p.add_argument("model")
    workload(p)
    p.set_defaults(batch=8)
    p.add_argument("--chips", help="comma-separated chips (default: all)")
    p.add_argument("--max-tpot-ms", type=float)
    p.add_argument("--sort", default="usd_per_m_output_tokens", help="column to sort by")

    p = add("context", cmd_context, "tokens <-> words <-> pages, KV cache, longest context")
    p.add_argument("model")
    p.add_argument("chip", nargs="?")
    p.add_argument("--tokens", type=float)
    p.add_argument("--pages", type=float)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--precision")
    p.add_argument("--tp", type=int, default=1)
    p.add_argument("--pp", type=int, default=1)
    p.add_argument("--words-per-token", type=float, default=0.75)
    p.add_argument("--words-per-page", type=float, default=500.0)
    _frontier_parser(add)
    p = add("serve", cmd_serve, "start the browser dashboard", json_flag=False)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default %(default)s)")
    p.add_argument("--port", type=int, default=8050, help="port (default %(default)s)")
    p.add_argument("--production", action="store_true", help="serve with waitress")
    p = add("validate-runs", cmd_validate_runs, "backtest the engine against published "
            "measurements; regenerate docs/validation.md", json_flag=False)
    p.add_argument("--calibrate", action="store_true", help="refit the efficiency defaults "
                   "first (writes roofline/engine/efficiency.yaml)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; fail when docs/validation.md is out of date")
    p.add_argument("--cases", help="case file or folder (default: validation/)")
    p.add_argument("--out", help="report path (default: docs/validation.md)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status: 2 for bad input (one clear message), 3 for a
    bug in roofline (one line and where to report it; ``--debug`` prints the traceback),
    130 on Ctrl-C. Never a traceback otherwise."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SpecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if args.debug:
            traceback.print_exc()
        else:
            print(f"internal error: {type(e).__name__}: {str(e)[:200]} -- this is a bug in "
                  "roofline; please report it to the project's issue tracker with this "
                  "command line (add --debug for the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
