"""The ``mini`` CLI and the supervisor with real processes: up, status, stop/start, crash restarts,
SIGTERM, two stacks side by side, down.  Most tests run a broker-only stack (fast, and the broker is
what every other service stands on); ``test_whole_stack`` runs every service that exists.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from mini_kernel.testing.processes import http_ok, wait_for
from mini_kernel.testing.stack import MiniStack
from services.supervisor import topology

SERVICE_KEYS = {"pid", "port", "http_port", "healthy", "restarts", "uptime_s", "counters"}


def mini_json(stack: MiniStack) -> tuple[int, dict]:
    result = stack.mini("status", "--json")
    return result.returncode, json.loads(result.stdout)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.fixture
def broker_stack(mini_stack_factory):
    return mini_stack_factory(services=("broker",))


def test_up_status_shape_and_down(broker_stack):
    code, doc = mini_json(broker_stack)
    assert code == 0, doc
    broker = doc["services"]["broker"]
    assert SERVICE_KEYS <= set(broker)
    assert broker["healthy"] is True and broker["restarts"] == 0
    assert isinstance(broker["pid"], int) and broker["port"] and broker["http_port"]
    assert isinstance(broker["uptime_s"], float) and isinstance(broker["counters"], dict)
    # the pipeline's topics and channels exist from the start (DESIGN §6), depths from the broker's /stats
    assert doc["topics"]["RawEvents"]["channels"]["enrich"] == {"depth": 0, "in_flight": 0}
    assert doc["topics"]["EnrichedEvents"]["channels"]["ESLoaderChannelGood"]["depth"] == 0
    assert doc["topics"]["RawEvents"]["depth"] == 0
    assert http_ok(f"http://127.0.0.1:{broker['http_port']}/ping")
    sup_pid = doc["supervisor"]["pid"]

    assert broker_stack.mini("down").returncode == 0
    assert not alive(sup_pid) and not alive(broker["pid"])
    assert not (broker_stack.home / "run" / "supervisor.json").exists()
    result = broker_stack.mini("status")
    assert result.returncode != 0 and "no Mini stack is running" in result.stderr
    assert (broker_stack.home / "logs" / "broker.log").stat().st_size > 0


def test_a_second_supervisor_for_the_same_dir_is_refused(broker_stack):
    result = broker_stack.mini("up", "--detach", "--port", "0")
    assert result.returncode != 0
    assert "already running" in result.stderr and str(broker_stack.home) in result.stderr
    assert broker_stack.status()["healthy"]


def test_stop_and_start_broker(broker_stack):
    before = broker_stack.service("broker")
    result = broker_stack.mini("stop", "broker")
    assert result.returncode == 0, result.stderr
    assert not alive(before["pid"])
    code, doc = mini_json(broker_stack)
    assert code != 0 and doc["services"]["broker"]["healthy"] is False
    assert doc["services"]["broker"]["state"] == "stopped"

    result = broker_stack.mini("start", "broker")
    assert result.returncode == 0, result.stderr
    code, doc = mini_json(broker_stack)
    after = doc["services"]["broker"]
    assert code == 0 and after["healthy"] and after["pid"] != before["pid"]
    # restarted on the same ports, so peers' MINI_NSQD_* addresses stay valid
    assert (after["port"], after["http_port"]) == (before["port"], before["http_port"])
    assert after["restarts"] == 0  # a requested stop/start is not a crash

    assert broker_stack.mini("restart", "broker").returncode == 0
    assert broker_stack.service("broker")["healthy"]


def test_crash_restart_is_counted(broker_stack):
    before = broker_stack.service("broker")
    after = broker_stack.kill9("broker")
    assert after["restarts"] == 1
    assert after["pid"] != before["pid"] and after["port"] == before["port"]
    assert "exited with -9" in broker_stack.mini("logs", "supervisor").stdout
    assert after["last_restart_reason"] == "exited" and after["restart_reasons"] == {"exited": 1}


def test_a_service_that_stops_answering_health_is_killed_and_restarted(mini_stack_factory):
    # A SIGSTOP'd broker keeps its pid and its listening sockets but answers nothing: only SIGKILL ends it.
    stack = mini_stack_factory(services=("broker",), env={"MINI_SUPERVISOR_UNHEALTHY_RESTART_AFTER": "2"})
    before = stack.service("broker")
    os.kill(before["pid"], signal.SIGSTOP)
    try:
        after = stack.wait_healthy("broker", timeout=120, other_than=before["pid"])
    finally:
        if alive(before["pid"]):
            os.kill(before["pid"], signal.SIGCONT)
    assert after["restarts"] == 1 and after["port"] == before["port"]
    assert after["last_restart_reason"] == "unhealthy" and after["restart_reasons"] == {"unhealthy": 1}
    assert not alive(before["pid"])
    assert "has not answered /health" in stack.mini("logs", "supervisor").stdout
    code, doc = mini_json(stack)
    assert code == 0 and doc["services"]["broker"]["last_restart_reason"] == "unhealthy"
    assert "(last: unhealthy)" in stack.mini("status").stdout


def test_sigterm_to_the_supervisor_stops_everything_within_10s(broker_stack):
    doc = broker_stack.status()
    pids = [doc["supervisor"]["pid"], doc["services"]["broker"]["pid"]]
    os.kill(pids[0], signal.SIGTERM)
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10, what="the stack to stop")


def test_killing_the_supervisor_leaves_no_orphans(broker_stack):
    doc = broker_stack.status()
    broker_pid = doc["services"]["broker"]["pid"]
    os.kill(doc["supervisor"]["pid"], signal.SIGKILL)
    wait_for(lambda: not alive(broker_pid), timeout=30, what="the broker to follow its supervisor")
    # the data dir is free again: a new stack starts over the stale run files
    broker_stack.up()
    assert broker_stack.status()["healthy"]


def test_foreground_up_stops_everything_on_ctrl_c(tmp_path):
    from mini_kernel.testing.processes import child_env

    home = tmp_path / "home"
    stack = MiniStack(home, services=("broker",))
    env = child_env(home, {"MINI_SUPERVISOR_SERVICES": "broker"})
    with open(tmp_path / "up.out", "wb") as out:
        cli = subprocess.Popen([sys.executable, "-m", "services.supervisor.cli", "up", "--data-dir", str(home),
                                "--port", "0"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: cli.poll() is not None or "Press Ctrl-C" in (tmp_path / "up.out").read_text(),
                 timeout=120, what="mini up to be ready")
        doc = stack.status()
        pids = [doc["supervisor"]["pid"], doc["services"]["broker"]["pid"]]
        cli.send_signal(signal.SIGINT)
        assert cli.wait(30) == 0
        assert not any(alive(pid) for pid in pids)
        assert "Stopped." in (tmp_path / "up.out").read_text()
    finally:
        if cli.poll() is None:
            cli.kill()
            stack.down()


def test_two_stacks_side_by_side(mini_stack_factory):
    first = mini_stack_factory(services=("broker",))
    second = mini_stack_factory(services=("broker",))
    a, b = first.service("broker"), second.service("broker")
    assert a["healthy"] and b["healthy"]
    assert a["pid"] != b["pid"] and {a["port"], a["http_port"]}.isdisjoint({b["port"], b["http_port"]})
    first.stop("broker")
    assert second.service("broker")["healthy"]
    assert not first.service("broker")["healthy"]


def test_logs_command(broker_stack):
    result = broker_stack.mini("logs", "broker", "-n", "0")
    assert result.returncode == 0 and "broker up:" in result.stdout


@pytest.mark.parametrize("command", [None, "up", "lab", "down", "status", "stop", "start", "restart", "logs"])
def test_every_command_has_help_from_the_console_script(command):
    script = os.path.join(os.path.dirname(sys.executable), "mini")
    argv = [script if os.path.exists(script) else sys.executable, *([] if os.path.exists(script) else
                                                                       ["-m", "services.supervisor.cli"])]
    result = subprocess.run([*argv, *([command] if command else []), "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mini")


def test_whole_stack(mini_stack_factory):
    """Every service of the topology that exists runs, healthy, on the ports it reports."""
    stack = mini_stack_factory()
    code, doc = mini_json(stack)
    available = {s.name for s in topology.SERVICES if s.available()}
    assert set(doc["services"]) == available
    assert set(doc["skipped"]) == {s.name for s in topology.SERVICES} - available
    assert code == 0, json.dumps(doc, indent=1)
    for name, svc in doc["services"].items():
        assert SERVICE_KEYS <= set(svc), name
        assert http_ok(f"http://127.0.0.1:{svc['http_port'] or svc['port']}/health"), name
    # peers are wired through their run files: the collector's mounts point at the real ports
    for prefix, name in (("/iglu-server", "iglu"), ("/elasticsearch", "search")):
        if name in doc["services"]:
            assert doc["mounts"][prefix] == f"http://127.0.0.1:{doc['services'][name]['port']}"
    if "collector" in doc["services"]:
        assert stack.collector_url == f"http://127.0.0.1:{doc['services']['collector']['port']}"
        assert http_ok(stack.collector_url + "/health")
        assert doc["services"]["collector"]["port"] != 9090  # --port 0: a free port, read back from status
    # SIGTERM stops the whole stack within 10 s (services slow to close are killed at the budget)
    pids = [doc["supervisor"]["pid"], *(svc["pid"] for svc in doc["services"].values())]
    os.kill(pids[0], signal.SIGTERM)
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10, what="the whole stack to stop")


def test_api_answers_for_services_not_in_this_stack(broker_stack):
    result = broker_stack.mini("stop", "collector")
    assert result.returncode == 1 and "not run by this stack" in result.stderr
    import urllib.error
    import urllib.request

    base = broker_stack.client.url
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(urllib.request.Request(base + "/services/nosuch/stop", method="POST", data=b""), timeout=10)
    assert error.value.code == 404
    assert json.loads(error.value.read()) == {"error": "unknown service 'nosuch' (known: " + ", ".join(
        s.name for s in topology.SERVICES) + ")", "status": 404}
    with urllib.request.urlopen(base + "/services/broker/logs?lines=5", timeout=10) as response:
        assert len(response.read().decode().splitlines()) <= 5
