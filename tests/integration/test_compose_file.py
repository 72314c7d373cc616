"""Structure of docker-compose.yml, of it merged with docker-compose.brokers3.yml (three brokers,
three workers), and of deploy/Dockerfile (production; Docker cannot run here).

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

from pipeline.kafka.admin import min_insync_replicas
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
BROKERS3_FILE = REPO / "docker-compose.brokers3.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"

ONE_SHOT_RESTARTS = {None, "no", "on-failure"}


# --- helpers -------------------------------------------------------------------------------------
def load_compose(path: Path = COMPOSE_FILE) -> dict:
    # safe_load resolves the YAML anchors and `<<` merge keys the file uses
    return yaml.safe_load(path.read_text())


def merge_compose(base: dict, override: dict) -> dict:
    """What `docker compose -f base -f override` runs: mappings (services, environment,
    depends_on, deploy, volumes) merge key by key, any other value of the override replaces the
    base's. Compose appends some lists instead (ports, volumes of a service): override_problems
    keeps the override from redefining a list of a service the base has, so that here this merge
    is exactly compose's."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_compose(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def override_problems(base: dict, override: dict) -> list[str]:
    problems = []
    base_services = base.get("services") or {}
    for name, svc in (override.get("services") or {}).items():
        if name not in base_services:
            continue
        for key, value in svc.items():
            if isinstance(value, list):
                problems.append(f"override redefines the list {name}.{key}: compose would append to it")
            elif key in ("environment", "depends_on") and not (
                    isinstance(value, dict) and isinstance(base_services[name].get(key, {}), dict)):
                problems.append(f"{name}.{key}: both files must use the mapping form to merge")
    return problems


def kafka_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in (compose.get("services") or {}).items()
            if str(svc.get("image", "")).startswith("apache/kafka")}


def pipeline_services(compose: dict) -> dict[str, dict]:
    """The services built from deploy/Dockerfile (migrate, worker, api): Kafka clients all."""
    return {name: svc for name, svc in (compose.get("services") or {}).items() if "build" in svc}


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


def command_problems(compose: dict, commands: set[str], bootstrap: str = "kafka:9092") -> list[str]:
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
        if environment(svc).get("RATING_KAFKA_BOOTSTRAP") != bootstrap:
            problems.append(f"{name}: RATING_KAFKA_BOOTSTRAP should be {bootstrap}")
        url = environment(svc).get("RATING_CLICKHOUSE_URL") or ""
        if not re.fullmatch(r"clickhouse://([^@/]+@)?clickhouse:9000/rating", url):
            problems.append(f"{name}: RATING_CLICKHOUSE_URL should point at clickhouse:9000/rating")
    images = {n: (services.get(n) or {}).get("image") for n in ("kafka", "clickhouse")}
    if images != {"kafka": "apache/kafka:3.9.1", "clickhouse": "clickhouse/clickhouse-server:24.8"}:
        problems.append(f"unexpected server images {images}")
    return problems


def kafka_problems(compose: dict) -> list[str]:
    """Topic auto-creation is off on every broker: a topic made on first use gets the broker's
    default partition count, and the ledgers keyed over the pipeline's partitions split silently."""
    problems = []
    nodes = kafka_services(compose) or {"kafka": {}}
    for name, svc in nodes.items():
        value = environment(svc).get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")  # absent: the default, on
        if str(value).lower() != "false":
            problems.append(f"{name}: KAFKA_AUTO_CREATE_TOPICS_ENABLE must be false, is {value!r}")
    return problems


def brokers_problems(compose: dict) -> list[str]:
    """The Kafka nodes form one KRaft quorum (each one is a voter, named by its node id and its
    service), and the replication settings agree everywhere: the pipeline's
    RATING_REPLICATION_FACTOR is the number of brokers, every broker's defaults and internal
    topics use it, min ISR is what the pipeline gives its own topics (pipeline.kafka.admin), and
    every pipeline service is given every broker."""
    nodes = kafka_services(compose)
    problems = []
    if not nodes:
        return ["no Kafka service"]
    rf = len(nodes)
    ids = {}
    for name, svc in nodes.items():
        env = environment(svc)
        ids[name] = env.get("KAFKA_NODE_ID")
        if env.get("KAFKA_ADVERTISED_LISTENERS") != f"PLAINTEXT://{name}:9092":
            problems.append(f"{name}: advertises {env.get('KAFKA_ADVERTISED_LISTENERS')!r}, "
                            f"not PLAINTEXT://{name}:9092")
    if sorted(ids.values(), key=str) != [str(i) for i in range(1, rf + 1)]:
        problems.append(f"Kafka node ids must be 1..{rf}, one each: {ids}")
    voters_wanted = {f"{ids[name]}@{name}:9093" for name in nodes}
    volumes = {}
    for name, svc in nodes.items():
        env = environment(svc)
        voters = set((env.get("KAFKA_CONTROLLER_QUORUM_VOTERS") or "").split(","))
        if voters != voters_wanted:
            problems.append(f"{name}: quorum voters {sorted(voters)}, "
                            f"should be every node: {sorted(voters_wanted)}")
        roles = set((env.get("KAFKA_PROCESS_ROLES") or "").split(","))
        if roles != {"broker", "controller"}:
            problems.append(f"{name}: every node is broker and controller, is {env.get('KAFKA_PROCESS_ROLES')!r}")
        for key in ("KAFKA_DEFAULT_REPLICATION_FACTOR", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
            if env.get(key) != str(rf):
                problems.append(f"{name}: {key} should be {rf} ({rf} brokers), is {env.get(key)!r}")
        for key in ("KAFKA_MIN_INSYNC_REPLICAS", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"):
            if env.get(key) != str(min_insync_replicas(rf)):
                problems.append(f"{name}: {key} should be {min_insync_replicas(rf)}, is {env.get(key)!r}")
        if rf > 1 and str(env.get("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE")).lower() != "false":
            problems.append(f"{name}: KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE must be false")
        for vol in svc.get("volumes") or []:
            if str(vol).endswith(":/var/lib/kafka/data"):
                volumes[name] = str(vol).split(":", 1)[0]
    if len(set(volumes.values())) != rf or set(volumes) != set(nodes):
        problems.append(f"each Kafka node needs a data volume of its own: {volumes}")
    if len({environment(svc).get("CLUSTER_ID") for svc in nodes.values()}) != 1:
        problems.append("the Kafka nodes have different CLUSTER_IDs")
    for name, svc in pipeline_services(compose).items():
        env = environment(svc)
        if env.get("RATING_REPLICATION_FACTOR") != str(rf):
            problems.append(f"{name}: RATING_REPLICATION_FACTOR should be {rf}, "
                            f"is {env.get('RATING_REPLICATION_FACTOR')!r}")
        bootstrap = set((env.get("RATING_KAFKA_BOOTSTRAP") or "").split(","))
        if bootstrap != {f"{n}:9092" for n in nodes}:
            problems.append(f"{name}: RATING_KAFKA_BOOTSTRAP should list every broker, "
                            f"is {env.get('RATING_KAFKA_BOOTSTRAP')!r}")
        waits = depends_on(svc)
        if "migrate" in waits:
            continue  # it waits for migrate, which waits for the brokers
        missing = [n for n in nodes if waits.get(n, "absent") != "service_healthy"]
        if missing:
            problems.append(f"{name}: does not wait for the healthy brokers {missing}")
    return problems


def replicas_problems(compose: dict) -> list[str]:
    """Worker replicas: at least one, no more than the partitions a stage's group can share out
    (a worker beyond them gets none), and a host port for each replica's metrics."""
    worker = (compose.get("services") or {}).get("worker") or {}
    replicas = (worker.get("deploy") or {}).get("replicas")
    partitions = int(environment(worker).get("RATING_PARTITIONS") or Settings.model_fields["partitions"].default)
    if not isinstance(replicas, int) or not 1 <= replicas <= partitions:
        return [f"worker: deploy.replicas must be 1..{partitions} (the partition count), is {replicas!r}"]
    problems = []
    for host, published, target in published_ports(worker):
        low, _, high = published.partition("-")
        count = int(high or low) - int(low) + 1 if low.isdigit() and (high or low).isdigit() else 0
        if count < replicas:
            problems.append(f"worker: {replicas} replicas but host port {published or 'none'!r} for "
                            f"container port {target}: one port each is needed")
    return problems


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
def override() -> dict:
    return load_compose(BROKERS3_FILE)


@pytest.fixture(scope="module")
def compose3(compose, override) -> dict:
    """docker-compose.yml with docker-compose.brokers3.yml: three brokers, three workers."""
    return merge_compose(compose, override)


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


def test_one_broker_one_quorum_and_replication_1(compose):
    assert list(kafka_services(compose)) == ["kafka"]
    assert brokers_problems(compose) == []


def test_worker_replicas_fit_the_partitions(compose):
    assert replicas_problems(compose) == []


def test_dockerfile():
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


# --- docker-compose.brokers3.yml over docker-compose.yml ------------------------------------------
def test_brokers3_override_merges_as_compose_does(compose, override):
    assert override_problems(compose, override) == []


def test_brokers3_is_three_nodes_of_one_quorum_with_replication_3(compose3):
    nodes = kafka_services(compose3)
    assert sorted(nodes) == ["kafka", "kafka-2", "kafka-3"]
    for svc in nodes.values():
        assert environment(svc)["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"
    assert brokers_problems(compose3) == []
    for svc in pipeline_services(compose3).values():
        assert environment(svc)["RATING_REPLICATION_FACTOR"] == "3"


def test_brokers3_runs_three_workers(compose3):
    assert compose3["services"]["worker"]["deploy"]["replicas"] == 3
    assert replicas_problems(compose3) == []


def test_brokers3_keeps_every_other_rule(compose3, commands):
    assert service_problems(compose3) == []
    assert path_problems(compose3) == []
    assert env_problems(compose3, settings_env_names()) == []
    assert dependency_problems(compose3) == []
    assert command_problems(compose3, commands, bootstrap="kafka:9092,kafka-2:9092,kafka-3:9092") == []
    assert kafka_problems(compose3) == []
    assert metrics_problems(compose3) == []


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


def _env3(c, service, **values):
    c["services"][service]["environment"] = {**c["services"][service]["environment"], **values}


MUTATIONS3 = {  # applied to the merged 3-broker configuration
    "voters_without_node_3": (lambda c: _env3(c, "kafka", KAFKA_CONTROLLER_QUORUM_VOTERS="1@kafka:9093,2@kafka-2:9093"),
                              brokers_problems),
    "voter_under_another_id": (lambda c: _env3(c, "kafka-2", KAFKA_CONTROLLER_QUORUM_VOTERS="1@kafka:9093,3@kafka-2:9093,2@kafka-3:9093"),
                               brokers_problems),
    "two_nodes_with_id_2": (lambda c: _env3(c, "kafka-3", KAFKA_NODE_ID=2), brokers_problems),
    "broker_only_node": (lambda c: _env3(c, "kafka-3", KAFKA_PROCESS_ROLES="broker"), brokers_problems),
    "another_cluster_id": (lambda c: _env3(c, "kafka-2", CLUSTER_ID="AAAAAAAAAAAAAAAAAAAAAA"), brokers_problems),
    "advertises_another_node": (lambda c: _env3(c, "kafka-3", KAFKA_ADVERTISED_LISTENERS="PLAINTEXT://kafka:9092"),
                                brokers_problems),
    "default_replication_2": (lambda c: _env3(c, "kafka-2", KAFKA_DEFAULT_REPLICATION_FACTOR=2), brokers_problems),
    "offsets_replication_1": (lambda c: _env3(c, "kafka", KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1), brokers_problems),
    "min_isr_3_of_3": (lambda c: _env3(c, "kafka", KAFKA_MIN_INSYNC_REPLICAS=3), brokers_problems),
    "transactions_min_isr_1": (lambda c: _env3(c, "kafka-3", KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1), brokers_problems),
    "unclean_election_on": (lambda c: _env3(c, "kafka-2", KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE="true"), brokers_problems),
    "shared_data_volume": (lambda c: c["services"]["kafka-2"].update(volumes=["kafka-data:/var/lib/kafka/data"]),
                           brokers_problems),
    "worker_replication_1": (lambda c: _env3(c, "worker", RATING_REPLICATION_FACTOR="1"), brokers_problems),
    "api_told_one_broker": (lambda c: _env3(c, "api", RATING_KAFKA_BOOTSTRAP="kafka:9092"), brokers_problems),
    "migrate_not_waiting_for_kafka_3": (lambda c: c["services"]["migrate"]["depends_on"].pop("kafka-3"),
                                        brokers_problems),
    "auto_create_on_node_3": (lambda c: _env3(c, "kafka-3", KAFKA_AUTO_CREATE_TOPICS_ENABLE="true"), kafka_problems),
    "node_without_healthcheck": (lambda c: c["services"]["kafka-2"].pop("healthcheck"), service_problems),
    "undeclared_node_volume": (lambda c: c["volumes"].pop("kafka-3-data"), path_problems),
    "more_workers_than_partitions": (lambda c: c["services"]["worker"]["deploy"].update(replicas=9), replicas_problems),
    "no_replicas": (lambda c: c["services"]["worker"].pop("deploy"), replicas_problems),
    "one_metrics_port_for_3_workers": (lambda c: c["services"]["worker"].update(ports=["127.0.0.1:9108:9108"]),
                                       replicas_problems),
}


@pytest.mark.parametrize("name", list(MUTATIONS3))
def test_check_reports_broken_brokers3(compose3, name):
    mutate, check = MUTATIONS3[name]
    broken = copy.deepcopy(compose3)
    mutate(broken)
    assert check(broken), f"{name} went unnoticed"


def test_override_check_reports_a_redefined_list(compose, override):
    broken = copy.deepcopy(override)
    broken["services"]["worker"]["ports"] = ["127.0.0.1:9200:9108"]
    assert override_problems(compose, broken)


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
