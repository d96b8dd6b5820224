"""The one error type users see for bad input: :class:`SpecError`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what was expected."""

    message: str
    source: str | None = None  # file path, or a label such as "<config.json dict>"
    field: str | None = None  # dotted path, e.g. "attention.num_key_value_heads"
    line: int | None = None  # 1-based line in ``source`` where known

    def __str__(self) -> str:
        where = self.source or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecError(ValueError):
    """Invalid chip, model or scenario input.

    ``problems`` lists every problem found; the message names the file, the field path,
    the line where known, and what was expected. A subclass of ``ValueError``.

    Parameters
    ----------
    problems : list of Problem or str
        Every problem found (message, source, field path, line), or one message.
    source : str, optional
        The file or label the message belongs to, when ``problems`` is a string.

    Examples
    --------
    >>> import roofline
    >>> try:
    ...     roofline.load_chip("h1000")
    ... except roofline.SpecError as e:
    ...     print(e)
    <input>: unknown chip 'h1000'; did you mean h100, v100, h800? (`roofline chips` lists
    them; a path to a .yaml file works too)
    >>> e = roofline.SpecError("batch must be >= 1", source="<cli>")
    >>> str(e), isinstance(e, ValueError)
    ('<cli>: batch must be >= 1', True)
    """

    def __init__(self, problems: list[Problem] | str, *, source: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems, source=source)]
        self.problems: list[Problem] = problems
        super().__init__("\n".join(str(p) for p in problems))
