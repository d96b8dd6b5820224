"""Pieces shared by chip and model specs: the strict base model, names and sources."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: Catalog names: lower case letters, digits and ``. _ -``.
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]


class Strict(BaseModel):
    """Base for every spec: unknown keys are errors and specs are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Source(Strict):
    """Where a figure comes from: a datasheet, whitepaper, config.json or paper."""

    title: str = Field(min_length=3)
    url: str | None = None
    covers: list[str] | None = Field(
        default=None, description="figure groups this source supports (chips only)")
