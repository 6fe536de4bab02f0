"""docker-compose.yml and the Procfile name only real entry points of the project."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[1]


def _check_command(argv: list[str]) -> None:
    if argv[:2] == ["sh", "-c"]:
        for part in argv[2].split("&&"):
            _check_command(shlex.split(part))
        return
    if argv[0] == "env":
        argv = [a for a in argv[1:] if "=" not in a]
    if argv[1:3] == ["-m", "callseal.supervise"]:
        # python -m callseal.supervise NAME -- COMMAND: the wrapper, then its command.
        assert argv[4] == "--"
        _check_command(argv[5:])
        return
    exe = Path(argv[0]).name
    if exe == "daphne":
        assert argv[-1] == "callseal.asgi:application"
        import callseal.asgi

        assert callable(callseal.asgi.application)
    elif exe == "celery":
        assert argv[1:3] == ["-A", "callseal"]
        assert argv[3] in {"worker", "beat"}
        if argv[3] == "worker":
            queue = argv[argv.index("-Q") + 1]
            assert queue in {r.celery_queue for r in settings.REGIONS.values()}
    elif exe == "python" and argv[1] == "manage.py":
        assert argv[2] in get_commands(), f"no management command {argv[2]!r}"
    elif exe == "python" and argv[1:3] == ["-m", "inference"]:
        _check_inference_command(argv[3:])
    elif exe == "python" and argv[1] == "-m":
        __import__(argv[2])
    else:
        pytest.fail(f"unexpected entry point {argv!r}")


def _check_inference_command(args: list[str]) -> None:
    """``python -m inference serve|llm --region R [--port P]``: parsed by the real CLI's
    parser, for a configured region, on that region's port when one is given."""
    from urllib.parse import urlsplit

    from inference.__main__ import build_parser

    parsed = build_parser().parse_args(args)
    assert parsed.region in settings.REGIONS, f"no region {parsed.region!r}"
    region = settings.REGIONS[parsed.region]
    url = region.inference_url if parsed.command == "serve" else region.llm_url
    if parsed.port is not None:
        assert parsed.port == urlsplit(url).port


def test_every_compose_command_names_a_real_entry_point():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app_services = {n: s for n, s in compose["services"].items() if "build" in s}
    assert {"web", "worker-us", "worker-eu", "beat", "migrate"} <= set(app_services)
    for service in app_services.values():
        _check_command(service["command"])
    for name in ("postgres-directory", "postgres-us", "postgres-eu", "redis"):
        assert "healthcheck" in compose["services"][name]


def test_compose_runs_inference_and_a_vllm_server_per_region():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for region in settings.REGIONS:
        inference = compose["services"][f"inference-{region}"]["command"]
        assert inference[:5] == ["python", "-m", "inference", "serve", "--region"]
        assert inference[5] == region
        llm = compose["services"][f"llm-{region}"]
        assert llm["command"][:2] == ["vllm", "serve"]
        port = int(llm["command"][llm["command"].index("--port") + 1])
        assert port == 8801 + list(settings.REGIONS).index(region)
        assert llm["environment"]["HF_HUB_OFFLINE"] == "1"


def test_compose_gives_each_worker_its_region():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for region in settings.REGIONS:
        worker = compose["services"][f"worker-{region}"]
        assert worker["environment"]["CALLSEAL_WORKER_REGION"] == region
        assert worker["command"][worker["command"].index("-Q") + 1] == f"region.{region}"


def test_procfile_runs_web_beat_and_a_worker_per_region():
    entries = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert {"web", "beat"} <= set(entries)
    for region in settings.REGIONS:
        assert f"worker-{region}" in entries
        assert shlex.split(entries[f"inference-{region}"])[1:] == [
            "-m",
            "inference",
            "serve",
            "--region",
            region,
        ]
        assert shlex.split(entries[f"llm-{region}"])[1:] == [
            "-m",
            "inference",
            "llm",
            "--region",
            region,
        ]
    for command in entries.values():
        argv = shlex.split(command.replace("${CALLSEAL_PORT:-8000}", "8000"))
        _check_command(argv)


def test_procfile_restarts_workers_and_beat_instead_of_letting_honcho_stop_everything():
    """Issue 22 finding 10: a crashing worker must not stop web and media (honcho ends every
    process when one exits), so workers and beat run under callseal.supervise."""
    entries = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    supervised = {name for name, command in entries.items() if "-m callseal.supervise " in command}
    assert supervised == {"beat", *(f"worker-{region}" for region in settings.REGIONS)}
    for name in supervised:
        assert shlex.split(entries[name])[1:5] == ["-m", "callseal.supervise", name, "--"]


def test_compose_gives_every_container_the_same_master_keys_from_the_environment():
    """Issue 22 finding 8: no key files inside containers (each would have its own)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = compose["services"]["web"]["environment"]
    for region in settings.REGIONS:
        variable = f"CALLSEAL_MASTER_KEY_{region.upper()}"
        assert environment[f"REGION_{region.upper()}_KEY_REF"] == f"env:{variable}"
        assert environment[variable].startswith(f"${{{variable}:?")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "CALLSEAL_SECRETS_DIR=/var/lib/callseal-secrets" in dockerfile
