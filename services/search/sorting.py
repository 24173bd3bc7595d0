"""Sort keys: a field, ``_doc``, ``_score`` or ``_id`` compiled to a SQL expression over a hit's rowid.

Missing values sort last (or first) through sentinels, as OpenSearch's ``missing`` does, and sort values
come back to the client in OpenSearch's form (epoch millis for dates, null for a missing keyword).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import SearchError, bad_request, parsing, unsupported
from .doc_values import DV_VALUE, dv_field
from .mapping import INTEGRAL, NUMERIC

LONG_MAX, LONG_MIN = 9223372036854775807, -9223372036854775808


class Sort:
    """One sort key compiled to a SQL expression over ``h.k`` (the hit's rowid)."""

    def __init__(self, index, spec: Any):
        if isinstance(spec, str):
            name, opts = spec, {}
        elif isinstance(spec, dict) and len(spec) == 1:
            name, opts = next(iter(spec.items()))
            if isinstance(opts, str):
                opts = {"order": opts}
        else:
            raise parsing("[sort] malformed")
        self.name = name
        unknown = set(opts) - {"order", "missing", "unmapped_type", "mode", "format", "numeric_type", "nested"}
        if unknown:
            raise parsing(f"[field_sort] unknown field [{sorted(unknown)[0]}]")
        if "nested" in opts:
            raise unsupported("[nested] in sort")
        default = "desc" if name == "_score" else "asc"
        self.order = str(opts.get("order", default)).lower()
        if self.order not in ("asc", "desc"):
            raise parsing(f"[sort] unknown order [{self.order}]")
        self.desc = self.order == "desc"
        self.field = None
        self.kind = name
        self.mode_default = True
        self.missing = "_last"
        if name in ("_score", "_doc", "_id"):
            self.expr = {"_score": "1.0", "_doc": "h.k", "_id": "(SELECT id FROM docs WHERE rowid = h.k)"}[name]
            self.numeric = name != "_id"
            return
        field = index.mapping.field(name)
        if field is None:
            if "unmapped_type" not in opts:
                raise SearchError(400, "query_shard_exception", f"No mapping found for [{name}] in order to sort on",
                                  index_uuid=index.uuid, index=index.name)
            self.expr = "NULL"
            self.numeric = opts["unmapped_type"] not in ("keyword", "text")
        else:
            if not field.aggregatable:
                raise bad_request(
                    f"Text fields are not optimised for operations that require per-document field data like "
                    f"aggregations and sorting, so these operations are disabled by default. Please use a keyword "
                    f"field instead. Alternatively, set fielddata=true on [{name}] in order to load field data by "
                    f"uninverting the inverted index. Note that this can use significant memory.")
            if field.nested is not None:
                raise unsupported(f"sorting on nested field [{name}]")
            fid = index.fids.get(field.path)
            mode = opts.get("mode", "max" if self.desc else "min")
            self.mode_default = "mode" not in opts or mode == ("max" if self.desc else "min")
            func = {"min": "min", "max": "max", "sum": "sum", "avg": "avg"}.get(mode)
            if func is None or (func in ("sum", "avg") and field.type not in NUMERIC):
                raise unsupported(f"sort mode [{mode}]")
            self.expr = f"(SELECT {func}({DV_VALUE}) FROM dv CROSS JOIN {dv_field(fid)} WHERE dv.k = h.k)" if fid else "NULL"
            self.numeric = field.type != "keyword"
            self.field = field
        missing = opts.get("missing", "_last")
        self.missing = missing
        if missing == "_last":
            self.sentinel = (LONG_MIN if self.desc else LONG_MAX) if self.numeric else (LONG_MIN if self.desc else "x'ff'")
        elif missing == "_first":
            self.sentinel = (LONG_MAX if self.desc else LONG_MIN) if self.numeric else ("x'ff'" if self.desc else LONG_MIN)
        else:
            self.sentinel = json.dumps(missing) if not self.numeric else float(missing)
            if isinstance(self.sentinel, str):
                self.sentinel = "'" + str(missing).replace("'", "''") + "'"
        self.expr = f"coalesce({self.expr}, {self.sentinel})"

    def missing_sentinel(self) -> Any:
        """The SQL value a document without the field sorts by (what ``expr`` coalesces to)."""
        if self.sentinel == "x'ff'":
            return b"\xff"
        return self.sentinel

    def output(self, value: Any) -> Any:
        if self.name == "_score":
            return 1.0
        if self.name == "_doc":
            return int(value) - 1
        if isinstance(value, bytes):
            return None
        if self.field is not None and self.field.type in ("keyword",) and isinstance(value, int) and value == LONG_MIN:
            return None
        if self.field is not None and self.field.type in {*INTEGRAL, "date", "boolean"} and isinstance(value, float):
            return int(value)
        return value

    def input(self, value: Any) -> Any:
        """A ``search_after`` value back to the SQL domain."""
        if self.name == "_doc":
            return int(value) + 1
        if value is None:
            if self.sentinel == "x'ff'":
                return b"\xff"
            return LONG_MIN
        if self.field is not None and self.field.type == "date" and isinstance(value, str):
            return self.field.format.parse(value)
        if self.field is not None and self.field.type == "boolean" and isinstance(value, (bool, str)):
            return 1 if value in (True, "true") else 0
        return value
