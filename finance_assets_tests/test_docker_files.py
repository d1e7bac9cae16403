"""docker/: no Docker engine runs here, so the files are kept correct by parsing and cross-checking them."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
EXPECTED_SERVICES = {"postgres", "redis", "dask-scheduler", "dask-worker", "user_code", "webserver", "daemon"}
PYTHON_SERVICES = EXPECTED_SERVICES - {"postgres", "redis"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_compose_has_every_service_and_they_share_one_image(compose):
    services = compose["services"]
    assert EXPECTED_SERVICES <= set(services)
    for name in PYTHON_SERVICES:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name
        assert "warehouse:/data" in service["volumes"], name  # runs and workers see one warehouse
    assert services["dask-worker"]["deploy"]["replicas"] >= 2
    assert set(compose["volumes"]) >= {"pgdata", "warehouse"}


def test_commands_name_real_entry_points_and_modules(compose):
    venv_bin = Path(__import__("sys").executable).parent
    for name in PYTHON_SERVICES:
        command = compose["services"][name]["command"]
        assert (venv_bin / command[0]).exists(), f"{name}: no console script {command[0]!r} in the venv"
        if "-m" in command:
            module = command[command.index("-m") + 1]
            assert importlib.util.find_spec(module) is not None, f"{name}: module {module} not importable"
    dockerfile_cmd = [
        json_arg for op, arg in _dockerfile_instructions() if op == "CMD" for json_arg in yaml.safe_load(arg)
    ]
    assert (venv_bin / dockerfile_cmd[0]).exists()


def test_services_find_each_other(compose):
    services = compose["services"]
    env = services["user_code"]["environment"]
    scheduler_port = services["dask-scheduler"]["command"][services["dask-scheduler"]["command"].index("--port") + 1]
    assert env["DASK_SCHEDULER_ADDRESS"] == f"tcp://dask-scheduler:{scheduler_port}"
    assert services["dask-worker"]["command"][2] == env["DASK_SCHEDULER_ADDRESS"]
    assert env["FINANCE_ASSETS_LIMITER_REDIS_URL"].startswith("redis://redis:")
    assert env["FINANCE_ASSETS_EXECUTOR"] == "dask"
    # the webserver and daemon load the code location from the user_code gRPC server
    (location,) = yaml.safe_load((DOCKER / "workspace.yaml").read_text())["load_from"]
    grpc = location["grpc_server"]
    command = services["user_code"]["command"]
    assert grpc["host"] == "user_code" and str(grpc["port"]) == command[command.index("-p") + 1]
    # every env var the instance config reads is set for the services that load it
    instance_yaml = (DOCKER / "dagster.yaml").read_text()
    for var in set(re.findall(r"\{env: (\w+)\}", instance_yaml)):
        assert var in env, f"docker/dagster.yaml reads {var}, which compose does not set"


def test_instance_config_is_valid_for_dagster():
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config_schema

    config = yaml.safe_load((DOCKER / "dagster.yaml").read_text())
    result = validate_config(dagster_instance_config_schema(), config)
    assert result.success, [e.message for e in result.errors]
    assert "postgres" in config["storage"]
    # same concurrency rules as the repository's own instance
    local = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert (
        config["concurrency"]["runs"]["tag_concurrency_limits"]
        == local["concurrency"]["runs"]["tag_concurrency_limits"]
    )
    assert config["concurrency"]["pools"] == local["concurrency"]["pools"]


def test_dockerfile_copies_files_that_exist_and_the_ignore_file_lets_them_through():
    copies = [shlex.split(arg) for op, arg in _dockerfile_instructions() if op == "COPY"]
    assert copies
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for args in copies:
        for source in args[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository (build context is the root)"
            assert source.rstrip("/") in allowed or source.rstrip("./") in allowed, (
                f"{source} excluded by .dockerignore"
            )
    assert "*" in ignore  # .venv, data/warehouse etc. never go into the build context


def test_image_installs_the_locked_set_and_resolves_nothing_else():
    runs = [arg for op, arg in _dockerfile_instructions() if op == "RUN" and "pip install" in arg]
    assert any("-r requirements.lock" in arg for arg in runs)
    project_installs = [arg for arg in runs if "-r requirements.lock" not in arg]
    assert project_installs and all("--no-deps" in arg for arg in project_installs)
