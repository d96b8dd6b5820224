"""Reading one ``config.json``: field aliases shared by every family, typed look-ups, and a
record of every default applied where the file is silent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from roofline.errors import Problem, SpecError

Config = Mapping[str, Any]

#: Canonical field -> the names families use for it, most common first. GPT-2 and its
#: descendants say n_embd / n_layer / n_head; ChatGLM says num_layers / ffn_hidden_size /
#: multi_query_group_num / padded_vocab_size / kv_channels; MPT and DBRX say d_model.
ALIASES: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "n_embd", "d_model", "dim", "model_dim"),
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head", "num_heads", "n_heads"),
    "num_key_value_heads": ("num_key_value_heads", "num_kv_heads", "n_head_kv",
                            "multi_query_group_num", "kv_n_heads"),
    "head_dim": ("head_dim", "kv_channels"),
    "intermediate_size": ("intermediate_size", "n_inner", "ffn_hidden_size", "ffn_dim",
                          "d_ff", "inner_hidden_size"),
    "vocab_size": ("vocab_size", "padded_vocab_size", "n_vocab"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "seq_length",
                                "max_sequence_length", "max_seq_len", "n_ctx"),
    "num_experts": ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"),
    "num_experts_per_tok": ("num_experts_per_tok", "moe_k", "moe_top_k", "experts_per_token",
                            "num_selected_experts", "moe_topk"),
    "moe_intermediate_size": ("moe_intermediate_size", "expert_intermediate_size"),
    "n_shared_experts": ("n_shared_experts", "num_shared_experts", "moe_num_shared_experts",
                         "num_shared_expert"),
    "sliding_window": ("sliding_window", "sliding_window_size"),
    "hidden_act": ("hidden_act", "hidden_activation", "activation_function", "activation"),
}

#: MoE fields some families give per layer (HunYuan: ``moe_topk: [8, 8, ...]``); a list
#: whose entries all agree is read as that one value.
PER_LAYER = frozenset({"num_experts", "num_experts_per_tok", "moe_intermediate_size",
                       "n_shared_experts"})


@dataclass
class Reader:
    """Typed access to one config.json; remembers each default it fills in (``defaults``,
    listed when a config is mapped as another family) and each approximation a builder
    makes (``notes``, always listed)."""

    cfg: Config
    source: str
    family: str
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def names(self, key: str) -> tuple[str, ...]:
        return self.fields.get(key) or ALIASES.get(key, (key,))

    def has(self, key: str) -> bool:
        return any(self.cfg.get(n) is not None for n in self.names(key))

    def get(self, key: str, default: Any = None, *, why: str | None = None) -> Any:
        """The first present alias of ``key``, else ``default`` (recorded as an assumption
        when not None)."""
        for n in self.names(key):
            if self.cfg.get(n) is not None:
                return self._one(key, n)
        if default is not None:
            self.defaults.append(f"{key} absent: {default!r}" + (f" ({why})" if why else
                                                                   f" ({self.family} default)"))
        return default

    def req(self, key: str) -> Any:
        for n in self.names(key):
            if self.cfg.get(n) is not None:
                return self._one(key, n)
        raise self.error(f"required for model_type {self.cfg.get('model_type')!r} (read as "
                         f"{self.family}) but missing", " or ".join(self.names(key)))

    def _one(self, key: str, name: str) -> Any:
        """The value of field ``name``; a uniform per-layer list of a :data:`PER_LAYER`
        field is read as its one value."""
        v = self.cfg[name]
        if key not in PER_LAYER or not isinstance(v, list):
            return v
        if v and all(x == v[0] for x in v):
            return v[0]
        raise self.error(f"per-layer values that differ ({v!r:.60}) are not expressible; "
                         "the engine takes one value for every layer", name)

    def whole(self, key: str, default: int | None = None) -> int:
        """A whole number the mapper does arithmetic on before validation."""
        v = self.req(key) if default is None else self.get(key, default)
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 2**40:
            return v
        raise self.error(f"expected a whole number >= 0, got {v!r:.40}", key)

    def flag(self, key: str, default: bool) -> bool:
        v = self.get(key)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        raise self.error(f"expected true or false, got {v!r:.40}", key)

    def int_list(self, key: str) -> list[int] | None:
        v = self.cfg.get(key)
        if v is None:
            return None
        if isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool)
                                       for x in v):
            return list(v)
        raise self.error(f"expected a list of whole numbers, got {v!r:.60}", key)

    def error(self, message: str, key: str | None = None) -> SpecError:
        return SpecError([Problem(message, self.source, key)])


def pattern(items: list[Any]) -> list[Any]:
    """The shortest prefix that, repeated, gives ``items`` (the whole list if none does)."""
    n = len(items)
    for p in range(1, n + 1):
        if n % p == 0 and items[:p] * (n // p) == items:
            return items[:p]
    return items
