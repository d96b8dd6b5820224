"""Serving commands: ``infer``, ``fit``, ``compare``, ``context``, ``cost``."""

from __future__ import annotations

import argparse

import pandas as pd

import roofline as api
from roofline.cli.output import (
    precision_arg,
    print_json,
    print_result,
    print_table,
    records,
)
from roofline.cli.parser import EXIT_DOES_NOT_FIT, EXIT_OK
from roofline.engine.timing.cost import price_note, serving_costs
from roofline.errors import SpecError
from roofline.formatting import si, value
from roofline.specs.catalog import load_chip


def ms_to_s(ms: float | None) -> float | None:
    """A ``--max-tpot-ms`` value in seconds (unset stays unset; 0 and NaN reach the
    engine's checks instead of being dropped)."""
    return None if ms is None else ms / 1e3


def beyond_context(args: argparse.Namespace) -> dict[str, bool]:
    """``allow_beyond_context`` for the serving engine, when the flag is given."""
    return {"allow_beyond_context": True} if getattr(args, "allow_beyond_context", False) else {}


def cmd_infer(args: argparse.Namespace) -> int:
    res = api.infer(args.model, args.chip, batch=args.batch, prompt_len=args.prompt_len,
                    output_len=args.output_len, precision=precision_arg(args.precision),
                    tp=args.tp, pp=args.pp, ep=args.ep, dp=args.dp, tbo=args.tbo,
                    attention_kernel=args.attention_kernel,
                    allow_beyond_context=args.allow_beyond_context)
    if args.json:
        d = res.to_dict()
        d["operators"] = {ph: records(res.operators(ph)) for ph in ("prefill", "decode")}
        print_json(d)
        return 0
    print_result(res, INFER_COLUMNS)
    if args.ops:
        ops = res.operators(args.ops)
        print(f"\n{args.ops} operators (expected mode):")
        print_table(pd.DataFrame({c: [value(c, v) for v in ops[c]] for c in OP_COLUMNS}))
    return 0


INFER_COLUMNS = ("model", "chip", "precision", "batch", "prompt_len", "output_len", "tp", "pp",
                 "ep", "dp", "ttft_s", "ttft_low_s", "ttft_high_s", "tpot_s", "tpot_low_s",
                 "tpot_high_s", "e2e_s", "request_tokens_per_s", "decode_tokens_per_s",
                 "decode_low_tokens_per_s", "decode_high_tokens_per_s",
                 "output_tokens_per_s",
                 "ttft_ideal_s", "tpot_ideal_s", "decode_bound",
                 "prefill_bound", "weights_bytes", "kv_cache_bytes", "activation_bytes",
                 "reserve_bytes", "memory_bytes", "memory_fraction", "fits", "max_batch",
                 "max_context")
OP_COLUMNS = ("operator", "layers", "dtype", "flops", "bytes", "intensity_flop_per_byte",
              "compute_s", "memory_s", "time_s", "bound")


def cmd_fit(args: argparse.Namespace) -> int:
    res = api.fit(args.model, args.chip, args.count, args.purpose,
                  precision=precision_arg(args.precision), batch=args.batch,
                  prompt_len=args.prompt_len, output_len=args.output_len,
                  seq_len=args.seq_len, global_batch=args.global_batch,
                  max_tpot_s=ms_to_s(args.max_tpot_ms),
                  max_ttft_s=args.max_ttft_s, min_tokens_per_s=args.min_tokens_per_s,
                  **(beyond_context(args) if args.purpose == "serve" else {}))
    s = res.summary()
    status = EXIT_OK if s["fits"] else EXIT_DOES_NOT_FIT
    if args.json:
        print_json(s)
        return status
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
    if args.purpose == "train" and s["fits"]:
        _print_top_layouts(res.layouts)
    return status


def _print_top_layouts(table: pd.DataFrame, top: int = 5) -> None:
    """The fastest training layouts (near-ties marked) and how robust the pick is."""
    ok = table[table["ok"]].head(top)
    print("  top layouts (step time; with half the overlap hidden):")
    for _, r in ok.iterrows():
        tie = ", within 5% of the best" if r["near_tie"] and r["rank"] > 1 else ""
        print(f"    {int(r['rank'])}. {r['layout']}: {value('step_time_s', r['step_time_s'])}"
              f"; {value('step_time_s', r['step_time_pessimistic_s'])}{tie}")
    print(f"  {table.attrs.get('robustness', '')}")


def cmd_compare(args: argparse.Namespace) -> int:
    chips = args.chips.split(",") if args.chips is not None else None  # "" is no chip
    res = api.compare(args.model, chips, batch=args.batch, prompt_len=args.prompt_len,
                      output_len=args.output_len, precision=precision_arg(args.precision),
                      max_tpot_s=ms_to_s(args.max_tpot_ms),
                      sort_by=args.sort, allow_beyond_context=args.allow_beyond_context)
    if args.json:
        print_json(res.to_dict())
        return 0
    cols = ["chip", "fits", "chips_needed", "tp", "pp", "tpot_s", "decode_tokens_per_s",
            "usd_per_m_input_tokens", "usd_per_m_output_tokens", "joules_per_output_token",
            "note"]
    print_result(res, cols)
    return 0


def cmd_context(args: argparse.Namespace) -> int:
    res = api.context(args.model, args.chip, tokens=args.tokens, pages=args.pages,
                      batch=args.batch, precision=precision_arg(args.precision), tp=args.tp,
                      pp=args.pp, words_per_token=args.words_per_token,
                      words_per_page=args.words_per_page)
    if args.json:
        print_json(res.to_dict())
    else:
        print_result(res)
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    if args.purpose == "train":
        from roofline.cli.training import cmd_train_cost

        return cmd_train_cost(args)
    from roofline.engine.scenario.rules import check

    # the cheap checks first, before the layout search
    check("cost", {"utilisation": args.utilisation, "usd_per_chip_hour": args.usd_per_chip_hour})
    verdict = api.fit(args.model, args.chip, args.count, "serve",
                      precision=precision_arg(args.precision), batch=args.batch,
                      prompt_len=args.prompt_len, output_len=args.output_len,
                      **beyond_context(args))
    if not verdict.fits:
        raise SpecError(f"{args.model} does not fit on {args.chip}: {verdict.reason}")
    lay = verdict.assumptions["layout"]
    res = api.infer(args.model, args.chip, batch=args.batch, prompt_len=args.prompt_len,
                    output_len=args.output_len, precision=precision_arg(args.precision),
                    tp=lay["tp"], pp=lay["pp"], ep=lay["ep"],
                    allow_beyond_context=args.allow_beyond_context)
    chip = load_chip(args.chip)
    costs = serving_costs(res.frame, chip, args.usd_per_chip_hour, args.utilisation)
    for k, v in costs.items():
        res.frame[k] = v
    res.assumptions["price"] = price_note(chip, args.usd_per_chip_hour)
    res.assumptions["utilisation"] = f"{args.utilisation:.0%} of paid hours busy"
    if args.json:
        print_json(res.to_dict())
        return 0
    print_result(res, ("model", "chip", "precision", "batch", "tp", "pp", "ep", "ttft_s",
                        "tpot_s", "decode_tokens_per_s", *costs))
    return 0


FRONTIER_COLUMNS = ("mode", "tp", "dp", "ep", "batch", "draft_tokens", "xpyd",
                    "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user", "ttft_s",
                    "tpot_s", "usd_per_m_output_tokens")


def cmd_frontier(args: argparse.Namespace) -> int:
    """Pareto front of tokens/s per chip vs per user (``roofline.frontier``)."""
    disagg = True if args.disaggregated else (False if args.aggregated else None)
    res = api.frontier(args.model, args.chip, count=args.count, prompt_len=args.prompt_len,
                       output_len=args.output_len, workload=args.workload,
                       precision=precision_arg(args.precision), disaggregated=disagg,
                       max_ttft_s=args.max_ttft_s,
                       max_tpot_s=ms_to_s(args.max_tpot_ms),
                       cache_hit=args.cache_hit, speculation=args.speculation,
                       usd_per_chip_hour=args.usd_per_chip_hour)
    if args.json:
        print_json({"points": records(res.frame), "assumptions": res.assumptions})
        return 0
    print_result(res, FRONTIER_COLUMNS)
    return 0
