"""Training commands: ``train`` (one layout) and ``cost --purpose train``."""

from __future__ import annotations

import argparse

import roofline as api
from roofline.cli.output import precision_arg, print_json, print_result
from roofline.cli.parser import EXIT_DOES_NOT_FIT, EXIT_OK
from roofline.errors import SpecError


def cmd_train_cost(args: argparse.Namespace) -> int:
    from roofline.engine.timing.cost import EnergyAssumptions
    from roofline.engine.training.run import train

    if args.count is None or args.tokens is None:
        raise SpecError("training cost needs --count (chips) and --tokens (training tokens)")
    from roofline.engine.scenario.rules import check

    # the cheap checks first, before the layout search
    check("train", {"tokens": args.tokens, "usd_per_chip_hour": args.usd_per_chip_hour})
    energy = EnergyAssumptions(pue=args.pue, grid_kg_co2_per_kwh=args.grid_kg_co2_per_kwh)
    verdict = api.fit(args.model, args.chip, args.count, "train",
                      precision=precision_arg(args.precision), seq_len=args.seq_len,
                      global_batch=args.global_batch)
    if not verdict.fits:
        raise SpecError(f"{args.model} cannot train on {args.count} x {args.chip}: "
                        f"{verdict.reason}")
    lay = verdict.assumptions["layout"]
    res = train(args.model, args.chip, count=args.count, seq_len=args.seq_len,
                global_batch=args.global_batch, tokens=args.tokens,
                precision=precision_arg(args.precision),
                usd_per_chip_hour=args.usd_per_chip_hour, energy=energy,
                **{k: v for k, v in lay.items() if k != "dp"})
    if args.json:
        print_json(res.to_dict())
    else:
        print_result(res, TRAIN_COST_COLUMNS)
    return 0


TRAIN_COST_COLUMNS = ("model", "chip", "count", "layout", "step_time_s", "compute_s",
                      "tp_comm_s", "ep_comm_s", "dp_comm_s", "bubble_s", "tokens_per_s", "mfu",
                      "hfu", "memory_bytes", "tokens", "total_time_s", "chip_hours",
                      "training_flops", "cost_usd", "energy_kwh", "co2_kg")

TRAIN_COLUMNS = ("model", "chip", "precision", "count", "tp", "pp", "dp", "cp", "ep",
                 "micro_batch", "zero", "recompute", "interleave", "seq_len", "global_batch",
                 "step_time_s", "compute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s",
                 "pp_comm_s", "bubble_s", "dp_comm_s", "optimizer_s", "tokens_per_s", "mfu",
                 "hfu", "weights_bytes", "gradients_bytes", "optimizer_bytes",
                 "activation_bytes", "reserve_bytes", "memory_bytes", "capacity_bytes",
                 "fits", "tokens", "total_time_s", "chip_hours", "cost_usd", "energy_kwh",
                 "co2_kg")


def cmd_train(args: argparse.Namespace) -> int:
    """One training layout on ``--count`` chips: exit 0 when it fits, 1 when it does not
    fit in memory (the numbers are still printed); an impossible layout is bad input."""
    from roofline.engine.timing.cost import EnergyAssumptions

    res = api.train(args.model, args.chip, count=args.count, seq_len=args.seq_len,
                    global_batch=args.global_batch, tokens=args.tokens,
                    precision=args.precision, tp=args.tp, pp=args.pp, dp=args.dp,
                    cp=args.cp, ep=args.ep, zero=args.zero, recompute=args.recompute,
                    interleave=args.interleave, micro_batch=args.micro_batch,
                    usd_per_chip_hour=args.usd_per_chip_hour,
                    energy=EnergyAssumptions(pue=args.pue,
                                             grid_kg_co2_per_kwh=args.grid_kg_co2_per_kwh))
    status = EXIT_OK if bool(res.frame["fits"].iloc[0]) else EXIT_DOES_NOT_FIT
    if args.json:
        print_json(res.to_dict())
        return status
    print_result(res, TRAIN_COLUMNS)
    return status
