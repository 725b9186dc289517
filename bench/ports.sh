# shellcheck shell=bash
# bench/ports.sh: ports for the brokers a benchmark starts (sourced by bench/run.sh and
# bench/official-lib.sh).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# a block of ports that are all free (broker: fast port Q-2, Q, HA Q+1, HTTP Q+7), below the
# kernel's ephemeral range (32768+), where outgoing connections of other suites take ports
pick_port() {
  local i p
  for i in $(seq 1 200); do
    p=$((20000 + (RANDOM % 1200) * 10))
    if port_free $((p - 2)) && port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) && port_free $((p + 7)); then
      echo "$p"; return 0
    fi
  done
  return 1
}
