"""Supervisor logic without processes: skip rules, mounts for external services, /stats parsing, the lock."""

import json

import pytest

from services.common.settings import load
from services.supervisor import daemon
from services.supervisor.supervisor import AlreadyRunning, Supervisor, lock_data_dir, topics_from_stats


def settings(tmp_path, **env):
    return load(daemon.SPEC, env={"MINI_HOME": str(tmp_path), **env})


def test_real_nsqd_and_opensearch_skip_the_embedded_ones(tmp_path):
    sup = Supervisor(settings(tmp_path, MINI_NSQD_TCP_ADDRESS="10.0.0.5:4150",
                              MINI_OPENSEARCH_URL="https://search.example:9200/"))
    assert "broker" not in sup.children and "search" not in sup.children
    assert "nsqd.tcp_address is set" in sup.skipped["broker"]
    assert "opensearch.url is set" in sup.skipped["search"]
    assert sup.mounts()["/elasticsearch"] == "https://search.example:9200"


def test_supervisor_services_limits_the_stack(tmp_path):
    sup = Supervisor(settings(tmp_path, MINI_SUPERVISOR_SERVICES="broker"))
    assert list(sup.children) == ["broker"]
    assert sup.skipped["collector"] == "not in supervisor.services"
    with pytest.raises(ValueError, match="nosuch"):
        Supervisor(settings(tmp_path, MINI_SUPERVISOR_SERVICES="broker,nosuch"))


def test_peer_addresses_reach_the_next_layers(tmp_path):
    sup = Supervisor(settings(tmp_path, MINI_SUPERVISOR_SERVICES="broker"))
    sup.exports["broker"] = {"MINI_NSQD_TCP_ADDRESS": "127.0.0.1:1", "MINI_NSQD_HTTP_ADDRESS": "127.0.0.1:2"}
    env = sup.child_env(sup.children["broker"])
    assert "MINI_NSQD_TCP_ADDRESS" not in env or env["MINI_NSQD_TCP_ADDRESS"] != "127.0.0.1:1"
    assert env["MINI_HOME"] == str(tmp_path.resolve())


NSQD_STATS = {
    "version": "1.3.0", "health": "OK", "start_time": 1,
    "topics": [{"topic_name": "RawEvents", "depth": 3, "backend_depth": 0, "message_count": 10, "paused": False,
                "channels": [{"channel_name": "enrich", "depth": 2, "backend_depth": 0, "in_flight_count": 1,
                              "deferred_count": 0, "message_count": 10, "requeue_count": 0, "timeout_count": 0,
                              "client_count": 1, "clients": [], "paused": False}]}],
}


def test_topics_from_nsqd_stats():
    expected = {"RawEvents": {"depth": 3, "channels": {"enrich": {"depth": 2, "in_flight": 1}}}}
    assert topics_from_stats(json.dumps(NSQD_STATS).encode()) == expected
    # nsqd before 1.0 wrapped the document in {"status_code", "data"}
    assert topics_from_stats(json.dumps({"status_code": 200, "data": NSQD_STATS}).encode()) == expected
    assert topics_from_stats(b"not json") == {}


def test_one_supervisor_per_data_dir(tmp_path):
    held = lock_data_dir(tmp_path)
    try:
        with pytest.raises(AlreadyRunning, match="already running for"):
            lock_data_dir(tmp_path)
    finally:
        held.close()
    lock_data_dir(tmp_path).close()  # free again once the holder is gone


def test_offline_iglu_warning_is_kept_for_status(tmp_path):
    import asyncio

    sup = Supervisor(settings(tmp_path, MINI_SUPERVISOR_SERVICES="iglu"), iglu_check=lambda s: "Iglu Central unreachable")
    asyncio.run(sup._warn_offline_iglu())
    assert sup.warnings == ["Iglu Central unreachable"]


def test_the_iglu_pieces_check_sees_mirror_dirs(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    default = Path(__file__).resolve().parents[3].parent / "shared" / "iglu-central"
    central = os.environ.get("MINI_TEST_IGLU_CENTRAL", str(default))
    check = daemon.find_iglu_check()
    assert check is not None
    monkeypatch.setenv("MINI_IGLU_MIRROR_DIRS", central)
    assert check(settings(tmp_path)) is None  # a mirror with schemas: nothing to warn about
