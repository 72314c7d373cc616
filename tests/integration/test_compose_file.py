"""Structure of docker-compose.yml and deploy/Dockerfile (production; Docker cannot run here).

Nothing is started: the file is parsed and checked against the repository (paths that must exist),
the settings (every RATING_ variable must be one `Settings` reads) and the CLI (every command must
be one `python -m pipeline --help` lists). Each check is a function returning its problems; the
mutation tests prove each one reports a broken file, so a green run means something.
"""
from __future__ import annotations

import copy
import glob
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"

ONE_SHOT_RESTARTS = {None, "no", "on-failure"}


# --- helpers -------------------------------------------------------------------------------------
def load_compose() -> dict:
    # safe_load resolves the YAML anchors and `<<` merge keys the file uses
    return yaml.safe_load(COMPOSE_FILE.read_text())


def depends_on(service: dict) -> dict[str, str | None]:
    """Dependency -> condition (None for the list form, which waits for nothing but the start)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: None for name in deps}
    return {name: (spec or {}).get("condition") for name, spec in deps.items()}


def environment(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict((item.split("=", 1) + [None])[:2] for item in env)
    return {str(k): (None if v is None else str(v)) for k, v in env.items()}


def env_file_paths(service: dict) -> list[str]:
    files = service.get("env_file") or []
    files = [files] if isinstance(files, (str, dict)) else files
    return [f["path"] if isinstance(f, dict) else f for f in files]


def settings_env_names() -> set[str]:
    """The environment variables `Settings` reads: prefix + field name, or a field's own alias."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
        names.add((alias or f"{prefix}{name}").upper())
    return names


def cli_commands() -> set[str]:
    """Command names listed by `python -m pipeline --help` (Faust's click CLI plus ours)."""
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, f"python -m pipeline --help failed:\n{out.stdout}\n{out.stderr}"
    commands, in_section = set(), False
    for line in out.stdout.splitlines():
        if line.strip().lower().startswith("commands:"):
            in_section = True
        elif in_section and re.match(r"^ {2}\S", line):
            commands.add(line.split()[0])
        elif in_section and line.strip() and not line.startswith(" "):
            in_section = False
    return commands


def command_words(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


# --- the checks ------------------------------------------------------------------------------------
def service_problems(compose: dict) -> list[str]:
    """Every service has a real healthcheck, or is a one-shot job that others wait to complete."""
    services = compose.get("services") or {}
    problems = [f"missing service {name!r}" for name in ("kafka", "clickhouse", "migrate", "worker")
                if name not in services]
    awaited = {dep for svc in services.values() for dep, cond in depends_on(svc).items()
               if cond == "service_completed_successfully"}
    for name, svc in services.items():
        check = svc.get("healthcheck") or {}
        test = check.get("test")
        healthy = bool(test) and not check.get("disable") and test not in (["NONE"], "NONE")
        one_shot = name in awaited and svc.get("restart") in ONE_SHOT_RESTARTS
        if not (healthy or one_shot):
            problems.append(f"service {name!r} has no healthcheck and is not a one-shot job")
        if name in awaited and svc.get("restart") not in ONE_SHOT_RESTARTS:
            problems.append(f"one-shot service {name!r} has restart={svc.get('restart')!r}")
    return problems


def path_problems(compose: dict, root: Path = REPO) -> list[str]:
    """Build contexts, Dockerfiles, bind mounts and env files exist; named volumes are declared."""
    problems = []
    declared = set((compose.get("volumes") or {}).keys())
    for name, svc in (compose.get("services") or {}).items():
        build = svc.get("build")
        if build is not None:
            spec = {"context": build} if isinstance(build, str) else build
            context = root / spec.get("context", ".")
            dockerfile = context / spec.get("dockerfile", "Dockerfile")
            if not context.is_dir():
                problems.append(f"{name}: build context {context} does not exist")
            if not dockerfile.is_file():
                problems.append(f"{name}: dockerfile {dockerfile} does not exist")
        for vol in svc.get("volumes") or []:
            if isinstance(vol, dict):
                kind, source = vol.get("type", "volume"), vol.get("source")
            elif ":" not in vol:
                continue  # anonymous volume: nothing to find in the repo or to declare
            else:
                source = vol.split(":", 1)[0]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            if kind == "bind":
                if not source or not source.startswith("."):
                    problems.append(f"{name}: bind mount {source!r} is not a path inside the repo")
                elif not (root / source).exists():
                    problems.append(f"{name}: mounted path {source!r} does not exist in the repo")
            elif kind == "volume" and source not in declared:
                problems.append(f"{name}: named volume {source!r} is not declared under volumes:")
        for path in env_file_paths(svc):
            if not (root / path).is_file():
                problems.append(f"{name}: env_file {path!r} does not exist")
    return problems


def env_problems(compose: dict, known: set[str], root: Path = REPO) -> list[str]:
    """Every RATING_ variable given to a service is one that Settings reads."""
    problems = []
    for name, svc in (compose.get("services") or {}).items():
        names = set(environment(svc))
        for path in env_file_paths(svc):
            if (root / path).is_file():
                names |= {line.split("=", 1)[0].strip() for line in (root / path).read_text().splitlines()
                          if "=" in line and not line.lstrip().startswith("#")}
        for var in sorted(n for n in names if n.upper().startswith("RATING_")):
            if var.upper() not in known:
                problems.append(f"{name}: {var} is not a setting of pipeline.settings.Settings")
    return problems


def dependency_problems(compose: dict) -> list[str]:
    """migrate waits for healthy servers; the worker waits for migrate to finish successfully."""
    services = compose.get("services") or {}
    problems = []
    expected = {
        "migrate": {"kafka": "service_healthy", "clickhouse": "service_healthy"},
        "worker": {"migrate": "service_completed_successfully"},
    }
    for name, wanted in expected.items():
        deps = depends_on(services.get(name) or {})
        for dep, condition in wanted.items():
            if deps.get(dep, "absent") != condition:
                problems.append(f"{name} must depend on {dep} with condition {condition}, "
                                f"has {deps.get(dep, 'no dependency')!r}")
    return problems


def command_problems(compose: dict, commands: set[str]) -> list[str]:
    """The app services run `migrate` and `worker` through the image, and those commands exist."""
    services = compose.get("services") or {}
    problems = []
    for name in ("migrate", "worker"):
        svc = services.get(name) or {}
        words = command_words(svc)
        if not words or words[0] != name:
            problems.append(f"{name}: command should start with {name!r}, is {words!r}")
        elif words[0] not in commands:
            problems.append(f"{name}: `python -m pipeline {words[0]}` is not a CLI command")
        if "build" not in svc:
            problems.append(f"{name}: must be built from deploy/Dockerfile")
        if environment(svc).get("RATING_KAFKA_BOOTSTRAP") != "kafka:9092":
            problems.append(f"{name}: RATING_KAFKA_BOOTSTRAP should be kafka:9092")
        url = environment(svc).get("RATING_CLICKHOUSE_URL") or ""
        if not re.fullmatch(r"clickhouse://([^@/]+@)?clickhouse:9000/rating", url):
            problems.append(f"{name}: RATING_CLICKHOUSE_URL should point at clickhouse:9000/rating")
    images = {n: (services.get(n) or {}).get("image") for n in ("kafka", "clickhouse")}
    if images != {"kafka": "apache/kafka:3.9.1", "clickhouse": "clickhouse/clickhouse-server:24.8"}:
        problems.append(f"unexpected server images {images}")
    return problems


def kafka_problems(compose: dict) -> list[str]:
    """Topic auto-creation is off: a topic made on first use gets the broker's default partition
    count, and the ledgers keyed over the pipeline's partitions split silently (issue 9)."""
    env = environment((compose.get("services") or {}).get("kafka") or {})
    value = env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")  # absent means the broker's default: on
    if str(value).lower() != "false":
        return [f"kafka: KAFKA_AUTO_CREATE_TOPICS_ENABLE must be false, is {value!r}"]
    return []


def published_ports(service: dict) -> list[tuple[str, str, str]]:
    """(host ip, published port, container port) for the short and the long `ports:` syntax."""
    ports = []
    for spec in service.get("ports") or []:
        if isinstance(spec, dict):
            ports.append((str(spec.get("host_ip", "")), str(spec.get("published", "")), str(spec.get("target"))))
            continue
        parts = str(spec).split("/")[0].split(":")
        parts = [""] * (3 - len(parts)) + parts
        ports.append((parts[0], parts[1], parts[2]))
    return ports


def metrics_problems(compose: dict) -> list[str]:
    """The worker's /metrics is reachable from the host's loopback, and only from there."""
    worker = (compose.get("services") or {}).get("worker") or {}
    env = environment(worker)
    port = env.get("RATING_METRICS_PORT") or "9108"
    problems = []
    if env.get("RATING_METRICS_HOST") != "0.0.0.0":
        problems.append("worker: RATING_METRICS_HOST must be 0.0.0.0 inside the container, or the "
                        f"published port reaches nothing (is {env.get('RATING_METRICS_HOST')!r})")
    published = [p for p in published_ports(worker) if p[2] == port]
    if not published:
        problems.append(f"worker: metrics port {port} is not published")
    problems += [f"worker: metrics port published on {host or 'every interface'}, not 127.0.0.1"
                 for host, _, _ in published if host != "127.0.0.1"]
    return problems


def dockerfile_problems(text: str, root: Path = REPO) -> list[str]:
    problems = []
    lines = [ln.strip() for ln in re.sub(r"\\\n", " ", text).splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    froms = [ln.split()[1] for ln in lines if ln.upper().startswith("FROM ")]
    if not froms or froms[-1] != "python:3.11-slim":
        problems.append(f"final stage must be FROM python:3.11-slim, is {froms[-1:]}")
    users = [ln.split()[1] for ln in lines if ln.upper().startswith("USER ")]
    if not users or users[-1] in ("root", "0"):
        problems.append("the image must end with a non-root USER")
    if 'ENTRYPOINT ["python", "-m", "pipeline"]' not in lines:
        problems.append('ENTRYPOINT must be ["python", "-m", "pipeline"]')
    for ln in lines:
        if ln.upper().startswith("COPY ") and "--from" not in ln:
            sources = [w for w in ln.split()[1:-1] if not w.startswith("--")]
            if not any(glob.glob(str(root / s)) for s in sources):
                problems.append(f"COPY sources missing: {ln}")
            for s in sources:
                if not any(c in s for c in "*?[") and not (root / s).exists():
                    problems.append(f"COPY source {s!r} does not exist")
    return problems


# --- the real files --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def commands() -> set[str]:
    return cli_commands()


def test_every_service_is_healthchecked_or_one_shot(compose):
    assert service_problems(compose) == []


def test_build_paths_and_mounts_exist(compose):
    assert path_problems(compose) == []


def test_rating_variables_are_settings(compose):
    assert settings_env_names() >= {"RATING_KAFKA_BOOTSTRAP", "RATING_CLICKHOUSE_URL"}
    assert env_problems(compose, settings_env_names()) == []


def test_startup_order(compose):
    assert dependency_problems(compose) == []


def test_app_commands_exist(compose, commands):
    assert {"migrate", "worker"} <= commands, commands
    assert command_problems(compose, commands) == []


def test_topic_auto_creation_is_off(compose):
    assert kafka_problems(compose) == []


def test_worker_metrics_port_is_published_on_loopback(compose):
    assert metrics_problems(compose) == []


def test_dockerfile():
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


# --- each check catches a broken file ---------------------------------------------------------------
def _drop_kafka_healthcheck(c):
    del c["services"]["kafka"]["healthcheck"]


def _drop_worker_healthcheck(c):
    del c["services"]["worker"]["healthcheck"]


def _restarting_migrate(c):
    c["services"]["migrate"]["restart"] = "always"


def _wrong_dockerfile(c):
    c["services"]["worker"]["build"] = {"context": ".", "dockerfile": "deploy/Dockerfile.missing"}


def _missing_mount(c):
    c["services"]["worker"]["volumes"] = ["./deploy/no-such-file.xml:/etc/x.xml:ro"]


def _undeclared_volume(c):
    c["services"]["kafka"]["volumes"] = ["undeclared-volume:/var/lib/kafka/data"]


def _unknown_setting(c):
    c["services"]["worker"]["environment"] = {**c["services"]["worker"]["environment"],
                                              "RATING_KAFKA_BOOTSTRAPP": "kafka:9092"}


def _worker_only_waits_for_start(c):
    c["services"]["worker"]["depends_on"]["migrate"] = {"condition": "service_started"}


def _worker_depends_as_list(c):
    c["services"]["worker"]["depends_on"] = ["kafka", "clickhouse", "migrate"]


def _migrate_without_healthy_servers(c):
    del c["services"]["migrate"]["depends_on"]["clickhouse"]


def _misspelled_command(c):
    c["services"]["migrate"]["command"] = ["migrat"]


def _wrong_bootstrap(c):
    c["services"]["worker"]["environment"] = {**c["services"]["worker"]["environment"],
                                              "RATING_KAFKA_BOOTSTRAP": "localhost:9092"}


def _auto_create_on(c):
    c["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] = "true"


def _auto_create_default(c):
    del c["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]


def _metrics_not_published(c):
    del c["services"]["worker"]["ports"]


def _metrics_on_every_interface(c):
    c["services"]["worker"]["ports"] = ["9108:9108"]


def _metrics_bound_to_container_loopback(c):
    c["services"]["worker"]["environment"] = {**c["services"]["worker"]["environment"],
                                              "RATING_METRICS_HOST": "127.0.0.1"}


MUTATIONS = {
    _drop_kafka_healthcheck: service_problems,
    _drop_worker_healthcheck: service_problems,
    _restarting_migrate: service_problems,
    _wrong_dockerfile: path_problems,
    _missing_mount: path_problems,
    _undeclared_volume: path_problems,
    _unknown_setting: lambda c: env_problems(c, settings_env_names()),
    _worker_only_waits_for_start: dependency_problems,
    _worker_depends_as_list: dependency_problems,
    _migrate_without_healthy_servers: dependency_problems,
    _misspelled_command: lambda c: command_problems(c, {"migrate", "worker"}),
    _wrong_bootstrap: lambda c: command_problems(c, {"migrate", "worker"}),
    _auto_create_on: kafka_problems,
    _auto_create_default: kafka_problems,
    _metrics_not_published: metrics_problems,
    _metrics_on_every_interface: metrics_problems,
    _metrics_bound_to_container_loopback: metrics_problems,
}


@pytest.mark.parametrize("mutate", list(MUTATIONS), ids=lambda f: f.__name__.strip("_"))
def test_check_reports_broken_compose(compose, mutate):
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert MUTATIONS[mutate](broken), f"{mutate.__name__} went unnoticed"


@pytest.mark.parametrize("old,new", [
    ("FROM python:3.11-slim\n", "FROM python:3.12\n"),
    ("USER rating", "USER root"),
    ('ENTRYPOINT ["python", "-m", "pipeline"]', 'ENTRYPOINT ["python", "-m", "pipelines"]'),
    ("COPY pipeline ./pipeline", "COPY pipeline_missing ./pipeline"),
])
def test_check_reports_broken_dockerfile(old, new):
    text = DOCKERFILE.read_text()
    assert old in text
    assert dockerfile_problems(text.replace(old, new))
