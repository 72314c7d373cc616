# shellcheck shell=bash
# The switch of `deploy/local/up --switch` (sourced by deploy/local/up and deploy/local/down after
# deploy/local/lib.sh): Kamailio on 127.0.0.1:5060 with deploy/kamailio/kamailio.cfg, the adapter
# that follows its CDRs (python -m pipeline.adapters adapter kamailio) and the controller that keeps
# its blocked table current (python -m pipeline.adapters switch-control). Each has a pid file; a pid
# is signalled only when that process's command line names our own file (pid_is_ours), so `down`
# stops exactly what `up --switch` started.
#
# Authorization (on unless RATING_SWITCH_AUTHORIZE=0): Kamailio suspends every initial INVITE and asks
# POST /v1/authorize through the bridge (python -m pipeline.adapters.kamailio_authorize, on Kamailio's
# evapi socket); a refusal is answered with its sip_code, an allowed call ends at max_seconds. When
# RATING_SWITCH_API_URL is not given and nothing answers on RATING_API_HOST:RATING_API_PORT, the API
# (python -m pipeline api) is started here too, with its own pid file. The answers come from a
# worker's authorize stage (python -m pipeline worker): without one the API answers 504 and the
# policy applies. Needs Kamailio's evapi and jansson modules (Debian: kamailio-extra-modules).
#
#   RATING_SWITCH_UPSTREAM   default 127.0.0.1:5070   where calls are relayed (a SIPp UAS in tests)
#   RATING_SWITCH_SERVER     default kamailio1        server_id of its CDRs; its accounts on switch.control
#   RATING_SWITCH_SIP_PORT   default 5060             Kamailio's UDP port on 127.0.0.1
#   RATING_SWITCH_AUTHORIZE  default 1                0: no authorization (every call not blocked is relayed)
#   RATING_SWITCH_API_URL    default http://RATING_API_HOST:RATING_API_PORT (127.0.0.1:8080)
#   RATING_SWITCH_API_TOKEN  default: a token made once (`token create --switch SERVER` where the CLI
#                            has it, else the admin's), kept in $RATING_LOCAL_DIR/kamailio/api-token (0600)
#   RATING_SWITCH_EVAPI_PORT default 8448             Kamailio's evapi socket on 127.0.0.1 (the bridge's)
#   RATING_SWITCH_AUTH_FAIL_POLICY       default deny  deny: answer 503 when billing does not answer;
#                                                      allow: relay, ending the call after ...
#   RATING_SWITCH_AUTH_FAIL_MAX_SECONDS  default 600   ... this many seconds
#   RATING_SWITCH_AUTH_WAIT_SECONDS      default 4     Kamailio's own wait for an answer (the bridge
#                                                      waits RATING_AUTHORIZE_TIMEOUT_MS + 1 s, less)

SWITCH_SRC_DIR="$REPO_ROOT/deploy/kamailio"
SWITCH_UPSTREAM="${RATING_SWITCH_UPSTREAM:-127.0.0.1:5070}"
SWITCH_SERVER="${RATING_SWITCH_SERVER:-kamailio1}"
SWITCH_SIP_PORT="${RATING_SWITCH_SIP_PORT:-5060}"
SWITCH_AUTHORIZE="${RATING_SWITCH_AUTHORIZE:-1}"
API_PORT="${RATING_API_PORT:-8080}"
API_HOST="${RATING_API_HOST:-127.0.0.1}"
SWITCH_API_URL="${RATING_SWITCH_API_URL:-http://$API_HOST:$API_PORT}"
SWITCH_EVAPI_PORT="${RATING_SWITCH_EVAPI_PORT:-8448}"
AUTH_FAIL_POLICY="${RATING_SWITCH_AUTH_FAIL_POLICY:-deny}"
AUTH_FAIL_MAX_SECONDS="${RATING_SWITCH_AUTH_FAIL_MAX_SECONDS:-600}"
AUTH_WAIT_SECONDS="${RATING_SWITCH_AUTH_WAIT_SECONDS:-4}"
KAMAILIO_DIR="$STATE_DIR/kamailio"
KAMAILIO_CFG="$KAMAILIO_DIR/kamailio.cfg"            # a copy: its path in the command line marks our process
KAMAILIO_LOG="$LOG_DIR/kamailio.log"                 # Kamailio's log, acc CDR lines included: the adapter follows it
KAMAILIO_RPC="$RUN_DIR/kamailio_rpc.sock"
KAMAILIO_PID_FILE="$RUN_DIR/kamailio.pid"
ADAPTER_STATE="$KAMAILIO_DIR/adapter-state.json"    # in the adapter's command line, so it marks that process too
ADAPTER_PID_FILE="$RUN_DIR/switch-adapter.pid"
CONTROL_PID_FILE="$RUN_DIR/switch-control.pid"
CONTROL_MARK="switch-control --rpc-socket $KAMAILIO_RPC"
KAMAILIO_ARGS_FILE="$KAMAILIO_DIR/kamailio.args"   # the -A defines the running Kamailio got
BRIDGE_PID_FILE="$RUN_DIR/switch-authorize.pid"
BRIDGE_MARK="kamailio_authorize --evapi 127.0.0.1:$SWITCH_EVAPI_PORT"
API_TOKEN_FILE="$KAMAILIO_DIR/api-token"
API_PID_FILE="$RUN_DIR/switch-api.pid"
API_MARK="-m pipeline api --host $API_HOST --port $API_PORT"

# The -A defines of kamailio.cfg for these settings, one per line.
kamailio_defines() {
  printf '%s\n' "SIP_LISTEN=udp:127.0.0.1:$SWITCH_SIP_PORT" "UPSTREAM_URI=\"sip:$SWITCH_UPSTREAM\"" \
    "RPC_SOCKET=\"$KAMAILIO_RPC\"" "RUN_DIR=\"$RUN_DIR\""
  if [[ "$SWITCH_AUTHORIZE" == 1 ]]; then
    printf '%s\n' WITH_AUTHORIZE "AUTH_EVAPI_LISTEN=\"127.0.0.1:$SWITCH_EVAPI_PORT\"" \
      "AUTH_FAIL_POLICY=\"$AUTH_FAIL_POLICY\"" "AUTH_FAIL_MAX_SECONDS=$AUTH_FAIL_MAX_SECONDS" \
      "AUTH_WAIT_SECONDS=$AUTH_WAIT_SECONDS"
  fi
}

check_authorize_settings() {
  [[ "$SWITCH_AUTHORIZE" == 0 || "$SWITCH_AUTHORIZE" == 1 ]] || die "RATING_SWITCH_AUTHORIZE='$SWITCH_AUTHORIZE': 0 or 1"
  [[ "$AUTH_FAIL_POLICY" == deny || "$AUTH_FAIL_POLICY" == allow ]] \
    || die "RATING_SWITCH_AUTH_FAIL_POLICY='$AUTH_FAIL_POLICY': deny or allow"
  [[ "$AUTH_FAIL_MAX_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "RATING_SWITCH_AUTH_FAIL_MAX_SECONDS='$AUTH_FAIL_MAX_SECONDS' is not a number of seconds"
  [[ "$AUTH_WAIT_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "RATING_SWITCH_AUTH_WAIT_SECONDS='$AUTH_WAIT_SECONDS' is not a number of seconds"
  [[ "$SWITCH_EVAPI_PORT" =~ ^[0-9]+$ ]] || die "RATING_SWITCH_EVAPI_PORT='$SWITCH_EVAPI_PORT' is not a port"
}

# Kamailio's evapi and jansson modules come in their own Debian package.
ensure_kamailio_modules() {
  compgen -G "/usr/lib/*/kamailio/modules/evapi.so" >/dev/null && compgen -G "/usr/lib/*/kamailio/modules/jansson.so" >/dev/null && return 0
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "Kamailio's evapi/jansson modules are missing (authorization); installing kamailio-extra-modules"
    apt_install_no_start kamailio-extra-modules >"$LOG_DIR/apt-kamailio-extra-modules.log" 2>&1 \
      || { tail -n 20 "$LOG_DIR/apt-kamailio-extra-modules.log" >&2; die "apt-get could not install kamailio-extra-modules"; }
  fi
  compgen -G "/usr/lib/*/kamailio/modules/evapi.so" >/dev/null \
    || die "Kamailio's evapi module is missing (authorization before the call): apt-get install kamailio-extra-modules, or RATING_SWITCH_AUTHORIZE=0"
}

bridge_hellos() { local n; n="$(grep -c "authorize: bridge connected" "$KAMAILIO_LOG" 2>/dev/null)"; echo "${n:-0}"; }

api_answers() { "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/openapi.json", timeout=2).read()' "$1" >/dev/null 2>&1; }

switch_start() {
  ensure_cmd kamailio kamailio "the SIP proxy of --switch"
  ensure_cmd sipp sip-tester "SIPp, the test calls of --switch"
  check_authorize_settings
  mkdir -p "$KAMAILIO_DIR" "$RUN_DIR" "$LOG_DIR"
  [[ "$SWITCH_AUTHORIZE" == 1 ]] && ensure_kamailio_modules
  local pid define
  local -a defines=()
  while read -r define; do defines+=(-A "$define"); done < <(kamailio_defines)
  pid="$(read_pid "$KAMAILIO_PID_FILE")"
  if pid_is_ours "$pid" "$KAMAILIO_CFG"; then
    cmp -s "$SWITCH_SRC_DIR/kamailio.cfg" "$KAMAILIO_CFG" \
      || die "Kamailio (pid $pid) runs an older deploy/kamailio/kamailio.cfg. Run deploy/local/down first."
    kamailio_defines | cmp -s - "$KAMAILIO_ARGS_FILE" \
      || die "Kamailio (pid $pid) runs with other RATING_SWITCH_ settings than now. Run deploy/local/down first."
    say "Kamailio already running (pid $pid)"
  else
    cp "$SWITCH_SRC_DIR/kamailio.cfg" "$KAMAILIO_CFG"
    kamailio_defines >"$KAMAILIO_ARGS_FILE"
    rm -f "$KAMAILIO_RPC"
    kamailio -c -f "$KAMAILIO_CFG" "${defines[@]}" >"$LOG_DIR/kamailio-check.log" 2>&1 \
      || { tail_logs "$LOG_DIR/kamailio-check.log"; die "deploy/kamailio/kamailio.cfg does not pass kamailio -c"; }
    say "Kamailio: starting on udp:127.0.0.1:$SWITCH_SIP_PORT, relaying to $SWITCH_UPSTREAM"
    # -DD: stays in the foreground (so $! is its main process), -E: logs to stderr, appended to the
    # log the adapter follows (never truncated: the adapter's position is a byte offset in it)
    setsid nohup kamailio -DD -E -m 64 -f "$KAMAILIO_CFG" "${defines[@]}" \
        >>"$KAMAILIO_LOG" 2>&1 </dev/null &
    echo $! >"$KAMAILIO_PID_FILE"
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until "$PYTHON" "$SWITCH_SRC_DIR/sip_ping.py" 127.0.0.1 "$SWITCH_SIP_PORT" >/dev/null && [[ -S "$KAMAILIO_RPC" ]]; do
    pid="$(read_pid "$KAMAILIO_PID_FILE")"
    kill -0 "$pid" 2>/dev/null || { tail_logs "$KAMAILIO_LOG"; rm -f "$KAMAILIO_PID_FILE"; die "Kamailio exited during startup (is udp port $SWITCH_SIP_PORT free?)"; }
    (( SECONDS < deadline )) || die "Kamailio did not answer SIP OPTIONS on 127.0.0.1:$SWITCH_SIP_PORT within ${TIMEOUT}s"
    sleep 0.3
  done
  say "Kamailio ready: SIP OPTIONS answered on 127.0.0.1:$SWITCH_SIP_PORT, JSON-RPC on $KAMAILIO_RPC"

  switch_start_python "switch adapter" "$ADAPTER_PID_FILE" "$ADAPTER_STATE" "$LOG_DIR/switch-adapter.log" \
    adapter kamailio --from-file "$KAMAILIO_LOG" --state "$ADAPTER_STATE" --server "$SWITCH_SERVER"
  switch_start_python "switch controller" "$CONTROL_PID_FILE" "$CONTROL_MARK" "$LOG_DIR/switch-control.log" \
    switch-control --rpc-socket "$KAMAILIO_RPC" --server "$SWITCH_SERVER"
  [[ "$SWITCH_AUTHORIZE" == 1 ]] && switch_start_authorization
  return 0
}

# The API (when it is ours to start), a bearer token, and the bridge; until Kamailio has its hello.
switch_start_authorization() {
  local token_args=() deadline pid
  if [[ -z "${RATING_SWITCH_API_URL:-}" ]] && ! api_answers "$SWITCH_API_URL"; then
    switch_start_module "switch API" "$API_PID_FILE" "$API_MARK" "$LOG_DIR/switch-api.log" \
      pipeline api --host "$API_HOST" --port "$API_PORT"
    deadline=$((SECONDS + TIMEOUT))
    until api_answers "$SWITCH_API_URL"; do
      pid="$(read_pid "$API_PID_FILE")"
      kill -0 "$pid" 2>/dev/null || { tail_logs "$LOG_DIR/switch-api.log"; die "the API exited during startup"; }
      (( SECONDS < deadline )) || die "the API did not answer on $SWITCH_API_URL within ${TIMEOUT}s"
      sleep 0.3
    done
  elif ! api_answers "$SWITCH_API_URL"; then
    say "WARNING: the API at $SWITCH_API_URL does not answer: calls get RATING_SWITCH_AUTH_FAIL_POLICY ($AUTH_FAIL_POLICY) until it does"
  fi
  if [[ -z "${RATING_SWITCH_API_TOKEN:-}" ]]; then
    if [[ ! -s "$API_TOKEN_FILE" ]]; then
      local who=(admin)
      # a switch token (only this server's calls) where the CLI offers one, else the admin's
      "$PYTHON" -m pipeline token create --help 2>/dev/null | grep -q -- "--switch" && who=(--switch "$SWITCH_SERVER")
      (umask 077 && cd "$REPO_ROOT" && "$PYTHON" -m pipeline token create "${who[@]}" >"$API_TOKEN_FILE.tmp" 2>"$LOG_DIR/switch-token.log") \
        || { tail_logs "$LOG_DIR/switch-token.log"; rm -f "$API_TOKEN_FILE.tmp"; die "could not create the switch's API token"; }
      mv "$API_TOKEN_FILE.tmp" "$API_TOKEN_FILE"
      say "API token for the switch (${who[*]}) created in $API_TOKEN_FILE"
    fi
    token_args=(--token-file "$API_TOKEN_FILE")
  fi
  local hellos
  hellos="$(bridge_hellos)"
  switch_start_module "switch authorization bridge" "$BRIDGE_PID_FILE" "$BRIDGE_MARK" "$LOG_DIR/switch-authorize.log" \
    pipeline.adapters.kamailio_authorize --evapi "127.0.0.1:$SWITCH_EVAPI_PORT" --api "$SWITCH_API_URL" \
    --server "$SWITCH_SERVER" "${token_args[@]}"
  deadline=$((SECONDS + TIMEOUT))
  # a bridge started now says hello to Kamailio (one that ran already reconnects by itself)
  while [[ $STARTED_NEW == 1 ]] && (( $(bridge_hellos) <= hellos )); do
    pid="$(read_pid "$BRIDGE_PID_FILE")"
    kill -0 "$pid" 2>/dev/null || { tail_logs "$LOG_DIR/switch-authorize.log"; die "the authorization bridge exited"; }
    (( SECONDS < deadline )) || die "the authorization bridge did not connect to Kamailio's evapi within ${TIMEOUT}s"
    sleep 0.2
  done
  say "authorization: Kamailio asks $SWITCH_API_URL/v1/authorize through the bridge (pid $(read_pid "$BRIDGE_PID_FILE"))"
}

switch_start_python() {   # name pid_file marker log args...   (python -m pipeline.adapters args...)
  local name="$1" pid_file="$2" marker="$3" log="$4"; shift 4
  switch_start_module "$name" "$pid_file" "$marker" "$log" pipeline.adapters "$@"
}

switch_start_module() {   # name pid_file marker log module args...   (python -m module args...)
  local name="$1" pid_file="$2" marker="$3" log="$4" pid; shift 4
  STARTED_NEW=0
  pid="$(read_pid "$pid_file")"
  if pid_is_ours "$pid" "$marker"; then
    say "$name already running (pid $pid)"; return 0
  fi
  STARTED_NEW=1
  # from the repository root, so that `-m pipeline...` is this checkout; $! is then python itself
  pushd "$REPO_ROOT" >/dev/null
  setsid nohup "$PYTHON" -m "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  popd >/dev/null
  sleep 1
  pid="$(read_pid "$pid_file")"
  kill -0 "$pid" 2>/dev/null || { tail_logs "$log"; die "$name exited at once (log above)"; }
  say "$name started (pid $pid, log $log)"
}

switch_summary() {
  cat <<MSG
  Switch      Kamailio udp:127.0.0.1:$SWITCH_SIP_PORT -> $SWITCH_UPSTREAM  pid $(read_pid "$KAMAILIO_PID_FILE")  server_id $SWITCH_SERVER
              CDRs: $KAMAILIO_LOG -> cdr.raw (adapter pid $(read_pid "$ADAPTER_PID_FILE"))
              switch.control -> htable blocked (controller pid $(read_pid "$CONTROL_PID_FILE"))
              a call: sipp -sf deploy/kamailio/sipp/uac.xml -key account u1 -s 37060000001 -d 2000 -m 1 -i 127.0.0.1 127.0.0.1:$SWITCH_SIP_PORT
MSG
  if [[ "$SWITCH_AUTHORIZE" == 1 ]]; then
    cat <<MSG
              authorization: every INVITE -> $SWITCH_API_URL/v1/authorize (bridge pid $(read_pid "$BRIDGE_PID_FILE")$( [[ -s "$API_PID_FILE" ]] && echo ", API pid $(read_pid "$API_PID_FILE")"))
                when billing does not answer: $AUTH_FAIL_POLICY$( [[ "$AUTH_FAIL_POLICY" == allow ]] && echo " (calls end after ${AUTH_FAIL_MAX_SECONDS}s)" || echo " (503)")
                the answers come from a worker's authorize stage: python -m pipeline worker
MSG
  fi
}

# Kamailio first, so that the adapter still reads the CDRs it writes while stopping; then the
# adapter (it finishes its batch on SIGTERM), the controller, the bridge and the API we started.
switch_stop() {
  switch_stop_one Kamailio "$KAMAILIO_PID_FILE" "$KAMAILIO_CFG"
  [[ -s "$ADAPTER_PID_FILE" ]] && sleep 1
  switch_stop_one "switch adapter" "$ADAPTER_PID_FILE" "$ADAPTER_STATE"
  switch_stop_one "switch controller" "$CONTROL_PID_FILE" "$CONTROL_MARK"
  switch_stop_one "switch authorization bridge" "$BRIDGE_PID_FILE" "$BRIDGE_MARK"
  switch_stop_one "switch API" "$API_PID_FILE" "$API_MARK"
  rm -f "$KAMAILIO_RPC"
}

switch_stop_one() {   # name pid_file marker
  local name="$1" pid_file="$2" marker="$3" pid deadline
  pid="$(read_pid "$pid_file")"
  [[ -n "$pid" ]] || return 0
  if ! pid_is_ours "$pid" "$marker"; then
    rm -f "$pid_file"; return 0
  fi
  say "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while pid_is_ours "$pid" "$marker" && (( SECONDS < deadline )); do sleep 0.3; done
  if pid_is_ours "$pid" "$marker"; then
    say "$name: pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  say "$name: stopped"
}
