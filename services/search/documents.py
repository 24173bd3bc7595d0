"""Write requests: ``_bulk`` (index/create/delete/update), single-document APIs and ``_delete_by_query``.

Each request becomes one job for the store's writer thread, so all of it commits (fsync'd) before
the response; per-item results and errors have OpenSearch's shapes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from . import codec
from .errors import SearchError, bad_request, mapper_parsing
from .store import Index, Store, new_id

ACTIONS = ("index", "create", "delete", "update")
META_KEYS = {"_index", "_id", "routing", "_routing", "if_seq_no", "if_primary_term", "retry_on_conflict",
             "require_alias", "version", "version_type", "pipeline", "_type", "op_type", "dynamic_templates"}


def shards_of(index: Index) -> dict[str, int]:
    replicas = int(index.settings.get("index.number_of_replicas", 1))
    return {"total": 1 + replicas, "successful": 1, "failed": 0}


def parse_bulk(body: bytes, default_index: str | None) -> list[tuple[str, dict[str, Any], Any]]:
    """(action, metadata, source-or-error) per item; a malformed action line fails the whole request."""
    if body and not body.endswith(b"\n"):
        raise bad_request("The bulk request must be terminated by a newline [\\n]")
    lines = body.split(b"\n")
    items = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        try:
            action_obj = codec.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise bad_request(f"Malformed action/metadata line [{i}], expected START_OBJECT or END_OBJECT but found "
                              f"[VALUE_STRING]", type="illegal_argument_exception") from None
        if not isinstance(action_obj, dict) or len(action_obj) != 1:
            raise bad_request(f"Malformed action/metadata line [{i}], expected START_OBJECT but found [{type(action_obj).__name__}]")
        action, meta = next(iter(action_obj.items()))
        if action not in ACTIONS:
            raise bad_request(f"Malformed action/metadata line [{i}], expected field [create], [delete], [index] or "
                              f"[update] but found [{action}]")
        if not isinstance(meta, dict):
            raise bad_request(f"Malformed action/metadata line [{i}], expected START_OBJECT but found [{meta}]")
        unknown = set(meta) - META_KEYS
        if unknown:
            raise bad_request(f"Action/metadata line [{i}] contains an unknown parameter [{sorted(unknown)[0]}]")
        meta = dict(meta)
        meta.setdefault("_index", default_index)
        if not meta["_index"]:
            raise SearchError(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
        source: Any = None
        if action != "delete":
            while i < n and not lines[i].strip():
                i += 1
            if i >= n:
                raise SearchError(400, "action_request_validation_exception",
                                  "Validation Failed: 1: no requests added;" if not items else
                                  f"Validation Failed: 1: source is missing;")
            raw = lines[i]
            i += 1
            try:
                source = (codec.loads(raw), raw)
            except (ValueError, UnicodeDecodeError) as exc:
                source = mapper_parsing("failed to parse", caused_by=SearchError(
                    400, "json_parse_exception", f"Unexpected character: {exc}"))
        items.append((action, meta, source))
    if not items:
        raise SearchError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
    return items


def prepare_bulk(store: Store, items: list[tuple[str, dict[str, Any], Any]]) -> list[tuple]:
    """Prepare stage (in request order): create missing indexes, parse index/create sources.

    Adds to each item the parsed units (or the parse error) and the mapping snapshot to persist.
    """
    prepared = []
    for action, meta, source in items:
        parsed: Any = None
        name = meta["_index"]
        if action in ("index", "create") and not isinstance(source, SearchError):
            try:
                index = store.indexes.get(name)
                if index is None:
                    index = store.create(name, None, auto=True)
                if meta.get("_id") is None:
                    meta["_id"] = new_id()
                    meta["op_type"] = "create"
                units, grew = index.mapping.parse(source[0], str(meta["_id"]))
                raw = source[1]
                index.codec.choose(raw)
                # compressing here overlaps with the writer's SQLite work (zlib runs without the GIL)
                parsed = (index, units, json.dumps(index.mapping.doc) if grew else None, index.codec.encode(raw),
                          index.owner_values(units))
            except SearchError as exc:
                parsed = exc
        prepared.append((action, meta, source, parsed))
    return prepared


def run_bulk(store: Store, items: list[tuple], refresh: bool) -> dict[str, Any]:
    """The write job for one ``_bulk`` request (runs on the writer thread); items may be prepared."""
    started = time.monotonic()
    results = []
    errors = False
    by_index: dict[str, list[str]] = {}
    for item in items:
        if item[1].get("_id") is not None:
            by_index.setdefault(item[1]["_index"], []).append(str(item[1]["_id"]))
    for name, ids in by_index.items():
        index = store.indexes.get(name)
        if index is not None:
            store.begin(index).prefetch(ids)
    for item in items:
        action, meta, source = item[:3]
        parsed = item[3] if len(item) > 3 else None
        name = meta["_index"]
        doc_id = meta.get("_id")
        try:
            if isinstance(parsed, SearchError):
                raise parsed
            if meta.get("version") is not None or meta.get("pipeline"):
                raise bad_request("external versioning and ingest pipelines are not supported by the Mini search node")
            index = store.indexes.get(name)
            if index is None:
                if action == "delete":  # a delete does not create its index
                    raise SearchError(404, "index_not_found_exception", f"no such index [{name}]",
                                      index=name, index_uuid="_na_", **{"resource.type": "index_expression",
                                                                        "resource.id": name})
                index = store.create(name, None, auto=True)
            store.begin(index)
            if isinstance(source, SearchError):
                raise source
            if_seq = meta.get("if_seq_no")
            if_term = meta.get("if_primary_term")
            if action in ("index", "create"):
                doc, text = source
                if doc_id is None:
                    doc_id = new_id()
                    action_op = "create"
                else:
                    doc_id = str(doc_id)
                    action_op = action if meta.get("op_type") != "create" else "create"
                units = stored = owned = None
                if parsed is not None and parsed[0] is index:
                    units, stored, owned = parsed[1], parsed[3], parsed[4]
                    if parsed[2] is not None:
                        index.mapping_json = parsed[2]
                        index.save_meta_needed = True
                result = index.put(doc_id, doc, action_op, if_seq, if_term, raw=text, stored=stored, units=units,
                                   owned=owned)
            elif action == "delete":
                if doc_id is None:
                    raise SearchError(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;")
                result = index.remove(str(doc_id), if_seq, if_term)
            else:
                if doc_id is None:
                    raise SearchError(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;")
                result = index.update(str(doc_id), source[0], if_seq, if_term)
            item = {"_index": name, **{k: v for k, v in result.items() if k != "status" and k != "_shards"},
                    "_shards": result.get("_shards", shards_of(index)), "status": result["status"]}
            if refresh:
                item["forced_refresh"] = True
            # OpenSearch orders keys _index, _id, _version, result, _shards, _seq_no, _primary_term, status
            ordered = {k: item[k] for k in ("_index", "_id", "_version", "result", "forced_refresh", "_shards",
                                            "_seq_no", "_primary_term", "status") if k in item}
            results.append({action: ordered})
        except SearchError as exc:
            errors = True
            entry = {"_index": name, "_id": doc_id, "status": exc.status, "error": exc.cause()}
            if action == "update" and exc.type == "document_missing_exception":
                entry["error"].update({"index_uuid": entry["error"].get("index_uuid"), "shard": "0", "index": name})
            results.append({action: entry})
    store.counters["bulk_requests"] += 1
    store.counters["bulk_items"] += len(items)
    store.counters["bulk_item_errors"] += sum(1 for r in results if "error" in next(iter(r.values())))
    return {"took": int((time.monotonic() - started) * 1000), "errors": errors, "items": results}


def run_single(store: Store, action: str, name: str, doc_id: str | None, body: Any, params: dict[str, str]) -> tuple[int, dict]:
    """PUT/POST ``_doc``, ``_create``, ``_update`` and DELETE ``_doc`` as one-item bulks, OpenSearch's response shape."""
    meta: dict[str, Any] = {"_index": name}
    if doc_id is not None:
        meta["_id"] = doc_id
    for key in ("if_seq_no", "if_primary_term"):
        if key in params:
            meta[key] = int(params[key])
    if params.get("op_type") == "create":
        action = "create"
    source = None if action == "delete" else (body, codec.dumps_bytes(body))
    if action != "delete" and not isinstance(body, dict):
        raise mapper_parsing("failed to parse", caused_by=SearchError(400, "not_x_content_exception",
                             "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes"))
    out = run_bulk(store, [(action, meta, source)], params.get("refresh") in ("", "true"))
    item = next(iter(out["items"][0].values()))
    if "error" in item:
        raise _as_error(item)
    status = item.pop("status")
    if action == "delete" and item.get("result") == "not_found":
        return 404, item
    return status, item


def _as_error(item: dict[str, Any]) -> SearchError:
    cause = dict(item["error"])
    err = SearchError(item["status"], cause.pop("type"), cause.pop("reason"))
    caused = cause.pop("caused_by", None)
    if caused:
        err.caused_by = SearchError(item["status"], caused.get("type", "exception"), caused.get("reason", ""))
    err.extra = cause
    return err


def delete_ids(store: Store, index: Index, ids: list[str]) -> int:
    store.begin(index)
    deleted = 0
    for doc_id in ids:
        if index.remove(doc_id)["result"] == "deleted":
            deleted += 1
    return deleted
