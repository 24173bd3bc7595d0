"""Analyzers: the built-in ones Snowplow indexes meet, and custom ones from ``settings.analysis``.

An analyzer turns a text value into the list of terms stored for ``text`` fields (and applied to
``match`` queries).  Mini's default analyzer is ``{tokenizer: keyword, filter: [length max 8191]}``:
the whole string is one term, so ``match`` is an exact, case-sensitive comparison.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Callable

from .errors import bad_request

Analyzer = Callable[[str], list[str]]

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|_+", re.UNICODE)


def _standard_tokens(text: str) -> list[str]:
    # Unicode word segmentation, approximated: runs of letters/digits (apostrophes inside words kept);
    # the standard tokenizer also drops tokens longer than 255 chars (max_token_length) by splitting.
    out = []
    for token in _WORD.findall(text):
        if token.strip("_") == "":
            continue
        while len(token) > 255:
            out.append(token[:255])
            token = token[255:]
        out.append(token)
    return out


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "standard": _standard_tokens,
    "keyword": lambda text: [text],
    "whitespace": lambda text: text.split(),
    "letter": lambda text: re.findall(r"[^\W\d_]+", text),
    "lowercase": lambda text: [t.lower() for t in re.findall(r"[^\W\d_]+", text)],
}


def _fold(token: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


def _filter(spec: dict[str, Any] | str, name: str) -> Callable[[list[str]], list[str]]:
    kind = spec if isinstance(spec, str) else spec.get("type")
    if kind == "lowercase":
        return lambda tokens: [t.lower() for t in tokens]
    if kind == "uppercase":
        return lambda tokens: [t.upper() for t in tokens]
    if kind == "asciifolding":
        return lambda tokens: [_fold(t) for t in tokens]
    if kind == "trim":
        return lambda tokens: [t.strip() for t in tokens]
    if kind == "length":
        low = int(spec.get("min", 0)) if isinstance(spec, dict) else 0
        high = int(spec.get("max", 2**31 - 1)) if isinstance(spec, dict) else 2**31 - 1
        return lambda tokens: [t for t in tokens if low <= len(t) <= high]
    if kind == "truncate":
        length = int(spec.get("length", 10)) if isinstance(spec, dict) else 10
        return lambda tokens: [t[:length] for t in tokens]
    if kind == "unique":
        return lambda tokens: list(dict.fromkeys(tokens))
    raise bad_request(f"token filter [{name}] of type [{kind}] is not supported by the Mini search node")


def _chain(tokenizer: Callable[[str], list[str]], filters: list[Callable[[list[str]], list[str]]]) -> Analyzer:
    def analyze(text: str) -> list[str]:
        tokens = tokenizer(text)
        for f in filters:
            tokens = f(tokens)
        return [t for t in tokens if t != ""] if tokens != [""] else tokens
    return analyze


BUILTIN: dict[str, Analyzer] = {
    "standard": _chain(_standard_tokens, [_filter("lowercase", "lowercase")]),
    "simple": _chain(TOKENIZERS["lowercase"], []),
    "whitespace": _chain(TOKENIZERS["whitespace"], []),
    "keyword": _chain(TOKENIZERS["keyword"], []),
    "stop": _chain(TOKENIZERS["lowercase"], []),
}


class Analysis:
    """The analyzers an index can name: built-ins plus ``index.analysis.analyzer.*``."""

    def __init__(self, analysis: dict[str, Any] | None):
        analysis = analysis or {}
        self.analyzers: dict[str, Analyzer] = dict(BUILTIN)
        # analyzers that keep the whole value as its only term (up to a length): name -> max length
        self.identity: dict[str, int] = {"keyword": 2**31 - 1}
        filters = analysis.get("filter", {}) or {}
        tokenizers = analysis.get("tokenizer", {}) or {}
        if analysis.get("char_filter"):
            raise bad_request("char_filter is not supported by the Mini search node")
        for name, spec in (analysis.get("analyzer", {}) or {}).items():
            self.analyzers[name] = self._build(name, spec, filters, tokenizers)

    def _build(self, name: str, spec: dict[str, Any], filters: dict, tokenizers: dict) -> Analyzer:
        kind = spec.get("type", "custom")
        if kind != "custom":
            if kind not in BUILTIN:
                raise bad_request(f"Unknown analyzer type [{kind}] for [{name}]")
            return BUILTIN[kind]
        tok_name = spec.get("tokenizer")
        if tok_name is None:
            raise bad_request(f"analyzer [{name}] must specify either an analyzer type, or a tokenizer")
        tok_spec = tokenizers.get(tok_name, tok_name)
        tok_kind = tok_spec if isinstance(tok_spec, str) else tok_spec.get("type")
        if tok_kind not in TOKENIZERS:
            raise bad_request(f"tokenizer [{tok_name}] is not supported by the Mini search node")
        if spec.get("char_filter"):
            raise bad_request(f"char_filter on analyzer [{name}] is not supported by the Mini search node")
        names = spec.get("filter", []) or []
        if isinstance(names, str):
            names = [names]
        chain = [_filter(filters.get(f, f), f) for f in names]
        if tok_kind == "keyword":
            specs = [filters.get(f, f) for f in names]
            if all(isinstance(x, dict) and x.get("type") == "length" and int(x.get("min", 0)) <= 1 for x in specs):
                self.identity[name] = min([int(x.get("max", 2**31 - 1)) for x in specs] or [2**31 - 1])
        return _chain(TOKENIZERS[tok_kind], chain)

    def get(self, name: str | None, fallback: str = "default") -> Analyzer:
        if name is None:
            name = fallback
        if name == "default" and "default" not in self.analyzers:
            return self.analyzers["standard"]
        try:
            return self.analyzers[name]
        except KeyError:
            raise bad_request(f"analyzer [{name}] has not been configured in mappings") from None

    def identity_max(self, name: str | None) -> int | None:
        """For an analyzer whose single term is the whole value: the longest value it keeps; else None."""
        name = name or "default"
        if name == "default" and "default" not in self.analyzers:
            return None
        return self.identity.get(name)

    def search_default(self) -> Analyzer:
        if "default_search" in self.analyzers:
            return self.analyzers["default_search"]
        return self.get("default")
