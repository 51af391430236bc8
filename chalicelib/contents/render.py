"""Pure, safe rendering of content text: a fixed set of named variables, no attribute or index access."""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

VARIABLES: tuple[str, ...] = ("nickname", "store_name", "coupon_name", "coupon_value", "claim_link",
                              "unsubscribe_link")


class TemplateError(ValueError):
    """The text is not a valid template (unknown variable, unbalanced braces, format tricks)."""


class RenderError(Exception):
    """A variable the text uses has no value at send time; rendering never leaves a blank."""

    def __init__(self, variable: str) -> None:
        super().__init__(f"no value for {{{variable}}}")
        self.variable = variable


def template_variables(text: str) -> list[str]:
    """The variables `text` uses, in order of first use; TemplateError when the text is not a valid template.

    Write `{{` and `}}` for literal braces. Only bare names from VARIABLES are allowed: `{a.b}`, `{a[0]}`,
    `{0}`, `{}`, conversions (`!r`) and format specs (`:>10`) are refused, so nothing but the given
    strings can ever reach the output.
    """
    try:
        parts = list(Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"unbalanced braces ({exc}); write {{{{ or }}}} for a literal brace") from exc
    used: list[str] = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in VARIABLES:
            shown = name or "(empty)"
            raise TemplateError(f"unknown variable {{{shown}}}; allowed: {', '.join(VARIABLES)}")
        if spec or conversion:
            raise TemplateError(f"variable {{{name}}} takes no format spec or conversion")
        if name not in used:
            used.append(name)
    return used


class _Strict(dict[str, str]):
    """format_map mapping that refuses missing keys instead of inventing them."""

    def __missing__(self, key: str) -> str:
        raise RenderError(key)


def render(text: str, values: Mapping[str, str | None]) -> str:
    """`text` with each variable replaced; RenderError naming the first variable without a non-blank value."""
    used = template_variables(text)
    strict = _Strict()
    for name in used:
        value = values.get(name)
        if value is None or not str(value).strip():
            raise RenderError(name)
        strict[name] = str(value)
    return text.format_map(strict)
