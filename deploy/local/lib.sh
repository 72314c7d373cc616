# shellcheck shell=bash
# Shared by deploy/local/up and deploy/local/down (sourced, not run): reads the RATING_ settings
# the same way the Python package does, and lays out the state directory. Keeping this in one
# place means `down` always finds exactly what `up` started, even with non-default settings.

LOCAL_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"   # deploy/local
REPO_ROOT="$(cd "$LOCAL_SRC_DIR/../.." && pwd)"

die() { echo "ERROR: $*" >&2; exit 1; }
say() { echo "[$(date +%H:%M:%S)] $*"; }

# --- settings (same names and defaults as pipeline/settings.py) ---------------------------------
KAFKA_BOOTSTRAP="${RATING_KAFKA_BOOTSTRAP:-127.0.0.1:9092}"
CLICKHOUSE_URL="${RATING_CLICKHOUSE_URL:-clickhouse://127.0.0.1:9000/rating}"
CLICKHOUSE_HTTP_PORT="${RATING_CLICKHOUSE_HTTP_PORT:-8123}"
STATE_DIR="${RATING_LOCAL_DIR:-$REPO_ROOT/.local}"
mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd)"          # absolute: paths go into config files and pid checks

# Only a server on this machine can be started, so the host must be a loopback name/address.
# "localhost" is bound as 127.0.0.1 (listen on 127.0.0.1 only, never on ::/0.0.0.0).
bind_addr_for() {
  case "$1" in
    localhost) echo 127.0.0.1 ;;
    127.*) echo "$1" ;;
    *) return 1 ;;
  esac
}

# RATING_KAFKA_BOOTSTRAP may be a list ("h1:p1,h2:p2") and may carry a scheme; we run the first.
_kb="${KAFKA_BOOTSTRAP%%,*}"; _kb="${_kb#*://}"
KAFKA_HOST="${_kb%:*}"; KAFKA_PORT="${_kb##*:}"
[[ "$_kb" == *:* && "$KAFKA_PORT" =~ ^[0-9]+$ ]] \
  || die "RATING_KAFKA_BOOTSTRAP='$KAFKA_BOOTSTRAP' is not host:port"
KAFKA_BIND="$(bind_addr_for "$KAFKA_HOST")" \
  || die "RATING_KAFKA_BOOTSTRAP host '$KAFKA_HOST' is not local (127.x or localhost); deploy/local only starts servers on this machine"
KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))      # KRaft controller listener sits next to the broker

# clickhouse://[user[:password]@]host[:port][/database][?options]; native (TCP) port, default 9000.
if [[ "$CLICKHOUSE_URL" =~ ^[a-zA-Z+]+://([^@/]*@)?([^:/?]+)(:([0-9]+))?([/?].*)?$ ]]; then
  CLICKHOUSE_HOST="${BASH_REMATCH[2]}"
  CLICKHOUSE_TCP_PORT="${BASH_REMATCH[4]:-9000}"
else
  die "RATING_CLICKHOUSE_URL='$CLICKHOUSE_URL' is not clickhouse://host[:port]/database"
fi
CLICKHOUSE_BIND="$(bind_addr_for "$CLICKHOUSE_HOST")" \
  || die "RATING_CLICKHOUSE_URL host '$CLICKHOUSE_HOST' is not local (127.x or localhost)"
[[ "$CLICKHOUSE_HTTP_PORT" =~ ^[0-9]+$ ]] || die "RATING_CLICKHOUSE_HTTP_PORT='$CLICKHOUSE_HTTP_PORT' is not a port"

# --- layout of the state dir ---------------------------------------------------------------------
# Kafka jar download cache; survives `down --purge`. One cache for every state dir: a second stack
# (another RATING_LOCAL_DIR, e.g. the 3-broker cluster of the tests) uses the repo's .local cache
# when there is one instead of running Maven again. RATING_KAFKA_JARS names another directory.
if [[ -n "${RATING_KAFKA_JARS:-}" ]]; then
  JAR_DIR="$RATING_KAFKA_JARS"
elif [[ -d "$REPO_ROOT/.local/kafka-jars" ]]; then
  JAR_DIR="$REPO_ROOT/.local/kafka-jars"
else
  JAR_DIR="$STATE_DIR/kafka-jars"
fi
KAFKA_DIR="$STATE_DIR/kafka"                   # server.properties, log4j.properties, cluster-id
KAFKA_DATA="$KAFKA_DIR/data"                   # log.dirs (topic data + KRaft metadata log)
CH_DIR="$STATE_DIR/clickhouse"                 # config.xml, users.xml
CH_DATA="$CH_DIR/data"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"                       # pid files
KAFKA_PID_FILE="$RUN_DIR/kafka.pid"
CH_PID_FILE="$RUN_DIR/clickhouse.pid"
KAFKA_CONFIG="$KAFKA_DIR/server.properties"
CH_CONFIG="$CH_DIR/config.xml"
KAFKA_LOG="$LOG_DIR/kafka.log"
CH_LOG="$LOG_DIR/clickhouse.log"

# `up --brokers 3`: three KRaft nodes (broker + controller each) in their own directories, never
# mixed with the single node's: $KAFKA3_DIR/node-N/{server.properties,data}, one cluster id.
KAFKA3_DIR="$STATE_DIR/kafka3"
KAFKA3_NODES=(1 2 3)
node_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); }            # node N's broker listener
node_controller_port() { echo $((KAFKA_PORT + 2 * ($1 - 1) + 1)); }
node_dir() { echo "$KAFKA3_DIR/node-$1"; }
node_config() { echo "$KAFKA3_DIR/node-$1/server.properties"; }
node_data() { echo "$KAFKA3_DIR/node-$1/data"; }
node_pid_file() { echo "$RUN_DIR/kafka3-node-$1.pid"; }
node_log() { echo "$LOG_DIR/kafka3-node-$1.log"; }
kafka3_bootstrap() {   # what clients of the 3 nodes are given: host:port of every broker
  local n out=""
  for n in "${KAFKA3_NODES[@]}"; do out="$out${out:+,}$KAFKA_HOST:$(node_port "$n")"; done
  echo "$out"
}

PYTHON="${PYTHON:-python3}"
PROBE="$LOCAL_SRC_DIR/probe.py"

# A pid counts as ours only if that process is alive AND its command line names our config file:
# a stale pid file whose number was reused by an unrelated process is never signalled.
pid_is_ours() {   # pid config_path
  local pid="$1" cfg="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$cfg"
}

read_pid() { [[ -s "$1" ]] && tr -dc '0-9' <"$1" || true; }

# Processes started from our config file whose pid file is gone (e.g. deleted by hand): found by
# the exact config path in /proc/*/cmdline, never by a program name.
orphans_of() {   # config_path
  local f d cmd
  # one grep over every command line first (a shell loop over /proc costs ~0.3 s per call)
  while read -r f; do
    d="${f%/cmdline}"
    cmd="$(tr '\0' ' ' 2>/dev/null <"$f")" || continue
    # only the servers themselves, not shells or editors that merely mention the path
    case "$cmd" in
      *java*kafka.Kafka*"$1"*|*clickhouse-server*"$1"*) echo "${d#/proc/}" ;;
    esac
  done < <(grep -lsaF -- "$1" /proc/[0-9]*/cmdline)
  return 0
}

# Install Debian packages without letting their maintainer scripts start services: the Debian
# clickhouse-server package would otherwise start its own server on 9000/8123 as user clickhouse,
# taking the ports ours needs. policy-rc.d exit 101 = "action forbidden" (Debian policy); we only
# add it for the duration of the install when the machine does not already have one.
apt_install_no_start() {   # package...
  local added=0 rc=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" || rc=$?
  if [[ $rc -ne 0 ]]; then   # stale or missing package lists: refresh once and retry
    DEBIAN_FRONTEND=noninteractive apt-get update -q && \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" && rc=0
  fi
  [[ $added -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
  return $rc
}

# The pid of our server for this config, from its pid file or (file lost) by the config path;
# empty when it does not run. Changes nothing.
running_pid() {   # pid_file config_path
  local pid
  pid="$(read_pid "$1")"
  pid_is_ours "$pid" "$2" || pid="$(orphans_of "$2" | head -n1)"
  pid_is_ours "$pid" "$2" && echo "$pid"
  return 0
}
