# shellcheck shell=bash
# The switch of `deploy/local/up --switch` (sourced by deploy/local/up and deploy/local/down after
# deploy/local/lib.sh): Kamailio on 127.0.0.1:5060 with deploy/kamailio/kamailio.cfg, the adapter
# that follows its CDRs (python -m pipeline.adapters adapter kamailio) and the controller that keeps
# its blocked table current (python -m pipeline.adapters switch-control). Each has a pid file; a pid
# is signalled only when that process's command line names our own file (pid_is_ours), so `down`
# stops exactly what `up --switch` started.
#
#   RATING_SWITCH_UPSTREAM   default 127.0.0.1:5070   where calls are relayed (a SIPp UAS in tests)
#   RATING_SWITCH_SERVER     default kamailio1        server_id of its CDRs; its accounts on switch.control
#   RATING_SWITCH_SIP_PORT   default 5060             Kamailio's UDP port on 127.0.0.1

SWITCH_SRC_DIR="$REPO_ROOT/deploy/kamailio"
SWITCH_UPSTREAM="${RATING_SWITCH_UPSTREAM:-127.0.0.1:5070}"
SWITCH_SERVER="${RATING_SWITCH_SERVER:-kamailio1}"
SWITCH_SIP_PORT="${RATING_SWITCH_SIP_PORT:-5060}"
KAMAILIO_DIR="$STATE_DIR/kamailio"
KAMAILIO_CFG="$KAMAILIO_DIR/kamailio.cfg"            # a copy: its path in the command line marks our process
KAMAILIO_LOG="$LOG_DIR/kamailio.log"                 # Kamailio's log, acc CDR lines included: the adapter follows it
KAMAILIO_RPC="$RUN_DIR/kamailio_rpc.sock"
KAMAILIO_PID_FILE="$RUN_DIR/kamailio.pid"
ADAPTER_STATE="$KAMAILIO_DIR/adapter-state.json"    # in the adapter's command line, so it marks that process too
ADAPTER_PID_FILE="$RUN_DIR/switch-adapter.pid"
CONTROL_PID_FILE="$RUN_DIR/switch-control.pid"
CONTROL_MARK="switch-control --rpc-socket $KAMAILIO_RPC"

switch_start() {
  ensure_cmd kamailio kamailio "the SIP proxy of --switch"
  ensure_cmd sipp sip-tester "SIPp, the test calls of --switch"
  mkdir -p "$KAMAILIO_DIR" "$RUN_DIR" "$LOG_DIR"
  local pid
  pid="$(read_pid "$KAMAILIO_PID_FILE")"
  if pid_is_ours "$pid" "$KAMAILIO_CFG"; then
    cmp -s "$SWITCH_SRC_DIR/kamailio.cfg" "$KAMAILIO_CFG" \
      || die "Kamailio (pid $pid) runs an older deploy/kamailio/kamailio.cfg. Run deploy/local/down first."
    say "Kamailio already running (pid $pid)"
  else
    cp "$SWITCH_SRC_DIR/kamailio.cfg" "$KAMAILIO_CFG"
    rm -f "$KAMAILIO_RPC"
    kamailio -c -f "$KAMAILIO_CFG" >"$LOG_DIR/kamailio-check.log" 2>&1 \
      || { tail_logs "$LOG_DIR/kamailio-check.log"; die "deploy/kamailio/kamailio.cfg does not pass kamailio -c"; }
    say "Kamailio: starting on udp:127.0.0.1:$SWITCH_SIP_PORT, relaying to $SWITCH_UPSTREAM"
    # -DD: stays in the foreground (so $! is its main process), -E: logs to stderr, appended to the
    # log the adapter follows (never truncated: the adapter's position is a byte offset in it)
    setsid nohup kamailio -DD -E -m 64 -f "$KAMAILIO_CFG" \
        -A "SIP_LISTEN=udp:127.0.0.1:$SWITCH_SIP_PORT" -A "UPSTREAM_URI=\"sip:$SWITCH_UPSTREAM\"" \
        -A "RPC_SOCKET=\"$KAMAILIO_RPC\"" -A "RUN_DIR=\"$RUN_DIR\"" \
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
}

switch_start_python() {   # name pid_file marker log args...
  local name="$1" pid_file="$2" marker="$3" log="$4" pid; shift 4
  pid="$(read_pid "$pid_file")"
  if pid_is_ours "$pid" "$marker"; then
    say "$name already running (pid $pid)"; return 0
  fi
  # from the repository root, so that `-m pipeline.adapters` is this checkout; $! is then python itself
  pushd "$REPO_ROOT" >/dev/null
  setsid nohup "$PYTHON" -m pipeline.adapters "$@" >>"$log" 2>&1 </dev/null &
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
}

# Kamailio first, so that the adapter still reads the CDRs it writes while stopping; then the
# adapter (it finishes its batch on SIGTERM) and the controller.
switch_stop() {
  switch_stop_one Kamailio "$KAMAILIO_PID_FILE" "$KAMAILIO_CFG"
  [[ -s "$ADAPTER_PID_FILE" ]] && sleep 1
  switch_stop_one "switch adapter" "$ADAPTER_PID_FILE" "$ADAPTER_STATE"
  switch_stop_one "switch controller" "$CONTROL_PID_FILE" "$CONTROL_MARK"
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
