"""docker-compose.opensearch.yml: OpenSearch + Dashboards + the index-pattern init (untested in CI beyond this)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.opensearch.yml"


def test_compose_file_shape():
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert {"opensearch", "dashboards", "init"} <= set(services)
    assert services["opensearch"]["image"].startswith("opensearchproject/opensearch:2.")
    assert services["dashboards"]["image"].startswith("opensearchproject/opensearch-dashboards:2.")
    script = services["init"]["command"][0]
    assert "pattern good collector_tstamp" in script and "pattern bad data.failure.timestamp" in script
    # The init mounts the mapping files the sinks use.
    assert "./services/sink/mappings:/mappings:ro" in services["init"]["volumes"]
    for kind in ("good", "bad"):
        assert (COMPOSE.parent / "services" / "sink" / "mappings" / f"{kind}.json").exists()


def test_docker_compose_config_accepts_it():
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    if subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed (docker compose config only parses; no engine needed)")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
