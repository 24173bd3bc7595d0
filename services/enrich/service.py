"""The enrich process: consume RawEvents (channel ``enrich``), publish outcomes, serve the admin API.

A RawEvents message is finished only after EnrichedEvents, BadEvents and PiiEvents acknowledged
all of its outputs (``bus.Consumer`` FINs when the handler returns); a message that keeps failing
becomes a ``generic_error`` bad row through ``bus.Consumer``'s retry policy (DESIGN §6).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.netutil

from ..common import bus, settings as settings_mod
from ..common.badrows import ENRICH
from ..common.settings import Settings
from .app import make_app
from .enrichments.registry import EnrichmentSet
from .outputs.publishing import CoalescingPublisher
from .settings import SETTINGS
from .state import State

log = logging.getLogger(__name__)


def load_settings(env: dict | None = None) -> Settings:
    return settings_mod.load(settings_mod.merge_specs(settings_mod.COMMON, SETTINGS), env=env)


def load_enrichments(state: State) -> tuple[EnrichmentSet, list[str]]:
    """The enrichment set from the store (``services.enrich.enrichments.store``) or the config directory."""
    try:
        from .enrichments import store  # written by the enrichments issue
    except ModuleNotFoundError as exc:
        if exc.name != "services.enrich.enrichments.store":
            raise
        store = None
    if store is not None and hasattr(store, "load_set"):
        return store.load_set(state)
    configs: dict[str, dict] = {}
    errors: list[str] = []
    directory = state.enrichments_dir
    for path in sorted(Path(directory).glob("*.json")) if directory.is_dir() else []:
        try:
            configs[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            errors.append(f"{path.name}: {exc}")
    new, parse_errors = EnrichmentSet.from_configs(configs, home=state.home, settings=state.settings)
    return new, errors + parse_errors


class Running:
    def __init__(self, state: State, consumer: bus.Consumer, publisher: bus.Publisher,
                 server: tornado.httpserver.HTTPServer, port: int):
        self.state = state
        self.consumer = consumer
        self.publisher = publisher
        self.server = server
        self.ports = {"port": port}

    def status(self) -> dict[str, Any]:
        status = self.state.status()
        status["counters"].update({f"messages_{k}": v for k, v in self.consumer.counters.items()})
        status["broker_connected"] = self.publisher.connected()
        iglu_status = getattr(self.state.iglu, "status", None)
        if iglu_status is not None:
            status["iglu"] = iglu_status()
        return status

    def health(self) -> str | None:
        return None if self.publisher.connected() else "not connected to nsqd"

    async def close(self) -> None:
        self.consumer.close()
        self.server.stop()
        await asyncio.sleep(0.2)  # let in-flight handlers finish their publishes
        self.publisher.close()
        for entry in self.state.enrichments.entries:
            if entry.enrichment is not None:
                try:
                    await entry.enrichment.close()
                except Exception as exc:  # noqa: BLE001 - closing is best effort
                    log.warning("closing enrichment %s: %s", entry.id, exc)


async def start(settings: Settings) -> Running:
    from ..iglu.client import IgluClient

    iglu = IgluClient.from_settings(settings, home=settings.home)
    state = State(settings, iglu)
    enrichment_set, errors = load_enrichments(state)
    state.swap(enrichment_set)
    state.enrichment_errors = errors
    for error in errors:
        log.error("enrichment config: %s", error)
    publisher = bus.Publisher(settings)
    if not await publisher.wait_connected(timeout=30):
        raise RuntimeError(f"cannot connect to nsqd at {settings['nsqd.tcp_address']}")
    out = CoalescingPublisher(publisher)

    async def handle(body: bytes, attempts: int) -> None:
        outcome = await state.pipeline.process(body)
        sends = [out.publish(topic, bodies) for topic, bodies in
                 ((bus.ENRICHED, outcome.good), (bus.BAD, outcome.bad), (bus.PII, outcome.pii)) if bodies]
        if len(sends) == 1:
            await sends[0]
        elif sends:
            await asyncio.gather(*sends)
        state.ledger.add(outcome)

    consumer = bus.Consumer(settings, bus.RAW, "enrich", handle, publisher=publisher, processor=ENRICH,
                            max_in_flight=int(settings["enrich.max_in_flight"]),
                            output_buffer_timeout_ms=int(settings["enrich.output_buffer_timeout_ms"]))
    holder: dict[str, Running] = {}
    app = make_app(settings, state, health=lambda: holder["r"].health(), status=lambda: holder["r"].status())
    sockets = tornado.netutil.bind_sockets(int(settings["enrich.port"]), settings["enrich.host"])
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    holder["r"] = Running(state, consumer, publisher, server, port)
    return holder["r"]
