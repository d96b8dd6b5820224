"""Every ``roofline`` command's arguments, declared without importing the engine, so that
``--help``, ``--version``, completion and bad-input errors answer at once.

Each command is one ``add_<command>`` function here and one ``cmd_<command>`` function in
a module of this package, named by a ``"module:function"`` string and imported only when
that command runs (see :func:`roofline.cli.main`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from roofline._version import __version__

EXIT_OK = 0  # the command ran; for ``fit`` and ``train``: it fits
EXIT_DOES_NOT_FIT = 1  # the model does not fit (``fit``, ``train``), or ``validate`` found problems
EXIT_BAD_INPUT = 2  # a flag, file or spec is invalid; the message names it and the fix
EXIT_BUG = 3  # an internal error: a bug in roofline, reported in one line

PRECISION_HELP = "precision recipe: native (the model's dtype, default), bf16, fp8, fp4, ..."


class UsageError(Exception):
    """A command line argparse rejects; raised instead of exiting so that ``main`` can
    print it as text or, under ``--json``, as JSON (exit 2 either way)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors raise :class:`UsageError`."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


Adder = Callable[..., argparse.ArgumentParser]


def _workload(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", help=PRECISION_HELP)
    p.add_argument("--batch", type=int, default=1, help="sequences per batch")
    p.add_argument("--prompt-len", type=int, default=1024, help="prompt tokens")
    p.add_argument("--output-len", type=int, default=256, help="generated tokens")
    p.add_argument("--allow-beyond-context", action="store_true",
                   help="evaluate a prompt + output longer than the model's "
                   "max_position_embeddings (an error otherwise)")


def _model_chip(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="catalog name or alias, model YAML, or HF config.json")
    p.add_argument("chip", help="catalog name or alias, or chip YAML")


def add_catalog(add: Adder) -> None:
    add("chips", "catalog:cmd_chips", "list the chip catalog")
    add("models", "catalog:cmd_models", "list the model catalog")
    add("show", "catalog:cmd_show", "show one chip or model").add_argument("name")
    add("params", "catalog:cmd_params", "parameter counts of a model").add_argument("model")
    add("validate", "catalog:cmd_validate", "check chip/model YAML or config.json files "
        "(exit 1 when any has a problem)", json_flag=False).add_argument("paths", nargs="+")
    add("schema", "catalog:cmd_schema", "print the JSON Schema of a spec kind",
        json_flag=False).add_argument("kind", choices=["chip", "model"])
    p = add("import-hf", "catalog:cmd_import_hf", "write a Hugging Face config.json as a "
            "model YAML", json_flag=False)
    p.add_argument("config", help="path to config.json (read locally)")
    p.add_argument("-o", "--output", help="YAML to write, e.g. models/NAME.yaml (default: "
                   "print it)")
    p.add_argument("--as", metavar="FAMILY", help="map an unsupported model_type as this "
                   "family (e.g. llama); every assumption is listed in the file")
    p.add_argument("--name", help="model name (default: the output file's stem)")
    p.add_argument("--force", action="store_true", help="replace an existing file")


def add_infer(add: Adder) -> None:
    p = add("infer", "serving:cmd_infer", "serving latency, throughput and memory of one "
            "scenario")
    _model_chip(p)
    _workload(p)
    for deg in ("tp", "pp", "ep"):
        p.add_argument(f"--{deg}", type=int, default=1, help=f"{deg} degree")
    p.add_argument("--dp", type=int, default=1,
                   help="data-parallel attention groups per replica (MoE; ep divides tp x dp)")
    p.add_argument("--tbo", action="store_true",
                   help="two-batch overlap of the expert all-to-all with compute")
    p.add_argument("--attention-kernel", choices=["fused", "materialised"], default="fused")
    p.add_argument("--ops", choices=["prefill", "decode"], help="print the operator table")


def add_fit(add: Adder) -> None:
    p = add("fit", "serving:cmd_fit", "does a model fit on N chips, for serving or training? "
            "(exit 0 fits, 1 does not fit)")
    _model_chip(p)
    p.add_argument("--count", type=int, help="chips available (omit: the fewest that fit)")
    p.add_argument("--purpose", choices=["serve", "train"], default="serve")
    _workload(p)
    p.add_argument("--seq-len", type=int, default=2048, help="training sequence length")
    p.add_argument("--global-batch", type=int, help="training sequences per step")
    p.add_argument("--max-tpot-ms", type=float, help="latency target per output token")
    p.add_argument("--max-ttft-s", type=float, help="time-to-first-token target")
    p.set_defaults(progress="searching layouts")
    p.add_argument("--min-tokens-per-s", type=float, help="aggregate throughput target")


def _run_cost(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokens", type=float, help="training tokens (e.g. 15e12)")
    p.add_argument("--usd-per-chip-hour", type=float, help="override the catalog price")
    p.add_argument("--pue", type=float, default=1.2, help="data-centre PUE")
    p.add_argument("--grid-kg-co2-per-kwh", type=float, help="grid carbon intensity")


def add_cost(add: Adder) -> None:
    p = add("cost", "serving:cmd_cost", "$ per 1M tokens served, or the cost of a training run")
    _model_chip(p)
    p.add_argument("--count", type=int, help="chips (training: required)")
    p.add_argument("--purpose", choices=["serve", "train"], default="serve")
    _workload(p)
    p.add_argument("--utilisation", type=float, default=1.0, help="busy share of paid hours")
    p.set_defaults(progress="searching layouts")
    p.add_argument("--seq-len", type=int, default=4096)
    p.add_argument("--global-batch", type=int, default=1024)
    _run_cost(p)


def add_train(add: Adder) -> None:
    p = add("train", "training:cmd_train", "step time, MFU, memory and cost of one training "
            "layout (exit 0 fits, 1 does not fit, 2 invalid layout)")
    _model_chip(p)
    p.add_argument("--count", type=int, required=True, help="chips")
    p.add_argument("--seq-len", type=int, required=True, help="tokens per sequence")
    p.add_argument("--global-batch", type=int, required=True, help="sequences per step")
    p.add_argument("--precision", default="bf16", help=PRECISION_HELP.replace(
        "native (the model's dtype, default), bf16", "bf16 (default)"))
    for deg, text in (("tp", "tensor"), ("pp", "pipeline"), ("cp", "context"),
                      ("ep", "expert")):
        p.add_argument(f"--{deg}", type=int, default=1, help=f"{text}-parallel degree")
    p.add_argument("--dp", type=int, help="data-parallel degree (default: count / (tp cp pp))")
    p.add_argument("--zero", type=int, choices=range(4), default=1, help="ZeRO stage (3: FSDP)")
    p.add_argument("--recompute", choices=["none", "selective", "full"], default="selective")
    p.add_argument("--interleave", type=int, default=1, help="virtual stages per device")
    p.add_argument("--micro-batch", type=int, default=1, help="sequences per micro-batch")
    _run_cost(p)


def add_compare(add: Adder) -> None:
    p = add("compare", "serving:cmd_compare", "one serving scenario on every catalog chip")
    p.add_argument("model")
    _workload(p)
    p.set_defaults(batch=8)
    p.add_argument("--chips", help="comma-separated chips (default: all)")
    p.add_argument("--max-tpot-ms", type=float)
    p.add_argument("--sort", default="usd_per_m_output_tokens", help="column to sort by")
    p.set_defaults(progress="pricing every chip")


def add_context(add: Adder) -> None:
    p = add("context", "serving:cmd_context", "tokens <-> words <-> pages, KV cache, longest "
            "context")
    p.add_argument("model")
    p.add_argument("chip", nargs="?")
    p.add_argument("--tokens", type=float)
    p.add_argument("--pages", type=float)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--precision", help=PRECISION_HELP)
    p.add_argument("--tp", type=int, default=1)
    p.add_argument("--pp", type=int, default=1)
    p.add_argument("--words-per-token", type=float, default=0.75)
    p.add_argument("--words-per-page", type=float, default=500.0)


def add_frontier(add: Adder) -> None:
    p = add("frontier", "serving:cmd_frontier", "throughput-interactivity frontier: tokens/s "
            "per chip vs per user over every serving configuration")
    _model_chip(p)
    p.add_argument("--count", type=int, required=True, help="chips available")
    p.add_argument("--prompt-len", type=int, help="prompt tokens (default: the workload's)")
    p.add_argument("--output-len", type=int, help="output tokens (default: the workload's)")
    p.add_argument("--workload", choices=["chat", "long", "reasoning", "rag"],
                   help="preset lengths: chat 1k/1k, long 8k/1k, reasoning 1k/3498, rag 32k/512")
    p.add_argument("--precision", help=PRECISION_HELP)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--disaggregated", action="store_true", help="only prefill/decode pools")
    mode.add_argument("--aggregated", action="store_true", help="only one pool per replica")
    p.add_argument("--max-ttft-s", type=float, help="time-to-first-token target")
    p.add_argument("--max-tpot-ms", type=float, help="time-per-output-token target")
    p.add_argument("--cache-hit", type=float, default=0.0, help="prefix-cache hit share")
    p.add_argument("--speculation", choices=["auto", "off", "mtp"], default="auto",
                   help="auto: MTP where the model has it")
    p.add_argument("--usd-per-chip-hour", type=float, help="override the catalog price")
    p.set_defaults(progress="searching serving configurations")


def add_tools(add: Adder) -> None:
    p = add("serve", "tools:cmd_serve", "start the browser dashboard (needs the dashboard "
            "extra)", json_flag=False)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default %(default)s)")
    p.add_argument("--port", type=int, default=8050, help="port (default %(default)s)")
    p.add_argument("--production", action="store_true", help="serve with waitress")
    p = add("validate-runs", "tools:cmd_validate_runs", "backtest the engine against "
            "published measurements; writes only where told", json_flag=False)
    p.add_argument("--calibrate", action="store_true", help="refit the efficiency defaults "
                   "first (a source checkout: writes roofline/engine/efficiency.yaml)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; fail when the report on disk is out of date")
    p.add_argument("--cases", help="case file or folder (default: the shipped validation/)")
    p.add_argument("--output", "--out", dest="out", help="write the report here (default: "
                   "docs/validation.md in a source checkout; elsewhere nothing is written)")
    p.add_argument("--calibration-output", dest="calibration_file",
                   help="with --calibrate: write the fitted efficiencies here")
    p = add("completion", "tools:cmd_completion", "print a shell completion script: "
            "eval \"$(roofline completion bash)\"", json_flag=False)
    p.add_argument("shell", choices=["bash", "zsh", "tcsh"])


COMMANDS: tuple[Callable[[Adder], None], ...] = (
    add_catalog, add_infer, add_fit, add_cost, add_train, add_compare, add_context,
    add_frontier, add_tools)


def build_parser() -> Parser:
    """The ``roofline`` argument parser: one sub-command per verb."""
    parser = Parser(prog="roofline", description="What an LLM costs on real hardware: "
                    "specs, params, roofline timing. MODEL is a catalog name, a model YAML "
                    "or a HF config.json path.", epilog="exit status: 0 ok (fits), 1 does "
                    "not fit, 2 bad input, 3 a bug in roofline (--debug prints its "
                    "traceback). Under --json, errors print as JSON on stdout.")
    parser.add_argument("--version", action="version", version=f"roofline {__version__}")
    debug_help = "on an internal error, print the traceback"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: str, help_: str, json_flag: bool = True,
            **kwargs: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, **kwargs)
        # also accepted after the verb; SUPPRESS keeps a --debug given before it
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=debug_help)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(func=func, json=False)
        return p

    for register in COMMANDS:
        register(add)
    return parser
