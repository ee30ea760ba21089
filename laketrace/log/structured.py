"""Masking structured data (LakeTrace 1.x's ``mask_pii``) and `log_structured`'s call.

`mask_pii` applies the built-in PII patterns (`laketrace.log.pii`) to a text, or to every
text inside mappings, lists and tuples (keys are kept). `log_structured` with
``mask_sensitive=True`` masks its data the same way and, in addition, masks the values of
secret-named keys and the built-in secret patterns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from ..record.message import safe_str
from .redact import Redactor, compile_redactor
from .secret_fields import SecretWalk

_MAX_DEPTH = 32


@functools.lru_cache(maxsize=2)
def _masker(spec: tuple[str, ...]) -> Redactor:
    redactor = compile_redactor(list(spec))
    assert redactor is not None
    return redactor


def _walk(value: Any, mask: Callable[[str], str], depth: int = 0) -> Any:
    if isinstance(value, str):
        return mask(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {k: _walk(v, mask, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_walk(v, mask, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def mask_pii(value: Any) -> Any:
    """``value`` with e-mail addresses, card numbers, SSNs, IBANs, IP addresses and phone
    numbers masked, keeping a hint; mappings, lists and tuples are copied with every text
    inside masked (LakeTrace 1.x's helper; other values are returned as they are).

    >>> mask_pii({"user": "john@example.com", "ids": ["card 4242 4242 4242 4242"]})
    {'user': 'j***@example.com', 'ids': ['card **** **** **** 4242']}
    """
    return _walk(value, _masker(("pii",)))


def structured_call(message: Any, data: Any, mask_sensitive: bool) -> tuple[Any, dict[str, Any]]:
    """The message and fields `LakeTraceLogger.log_structured` logs.

    ``data``'s items become fields (anything else but None becomes the field ``data``); the
    message stays literal: its braces are escaped when fields would otherwise format it.
    """
    if data is None:
        fields: dict[str, Any] = {}
    elif isinstance(data, Mapping):
        fields = {str(k): v for k, v in data.items()}
    else:
        fields = {"data": data}
    if mask_sensitive and fields:
        walk = SecretWalk()
        fields = {k: walk.field(k, v) for k, v in fields.items()}
        fields = _walk(fields, _masker(("builtin", "pii")))
    text = message if type(message) is str else safe_str(message)
    if fields and "{" in text:
        text = text.replace("{", "{{").replace("}", "}}")
    return text, fields


__all__ = ["mask_pii", "structured_call"]
