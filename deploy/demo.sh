#!/usr/bin/env bash
# Runs the whole system on this machine: InfluxDB 1.8, the hub (with its
# embedded NATS/JetStream), the edge agent and the plant simulator (its own
# MQTT broker and OPC UA server, 35 days of history, then live).
# Started by `make demo`, which builds the binaries and installs influxd first.
# Every run starts from a clean slate under var/demo; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=$ROOT/var/demo
INFLUXD=${INFLUXD:-$ROOT/.cache/bin/influxd}
BIN=$ROOT/bin

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping demo..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped. Logs are in $VAR/*.log"
  exit 0
}
trap cleanup INT TERM EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in 8086 8088 4222 8080 9102 1883 4840; do
  if ! port_free "$p"; then
    echo "port $p on 127.0.0.1 is in use; the demo needs ports 8086 8088 4222 8080 9102 1883 4840" >&2
    exit 1
  fi
done

wait_http() { # url name seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$2 did not come up; see $VAR/$2.log" >&2
  tail -n 20 "$VAR/$2.log" >&2 || true
  exit 1
}

rm -rf "$VAR"
mkdir -p "$VAR/influxdb"
cat > "$VAR/influxdb/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:8088"
[meta]
  dir = "$VAR/influxdb/meta"
[data]
  dir = "$VAR/influxdb/data"
  wal-dir = "$VAR/influxdb/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:8086"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
CONF

echo "starting influxd 1.8.10 (data in var/demo/influxdb)"
"$INFLUXD" -config "$VAR/influxdb/influxdb.conf" >"$VAR/influxdb.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:8086/ping influxdb 60

sed "s#^data_dir: .*#data_dir: $VAR/hub#" configs/hub.yaml > "$VAR/hub.yaml"
# The hub's HTTP needs a login: an admin for people, a viewer token for scripts.
ADMIN_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$ADMIN_PASSWORD" | "$BIN/hub" user add admin -role admin -config "$VAR/hub.yaml" >/dev/null
VIEWER_TOKEN=$("$BIN/hub" token add demo -role viewer -config "$VAR/hub.yaml" 2>/dev/null)
# The embedded NATS server admits only known nkey users: the hub's own
# (created at its first start) and one identity per agent, which may publish
# the signals of its own sites only. No TLS in the demo: everything stays on
# 127.0.0.1 (docs/security.md says how to turn it on).
echo "creating the agent's NATS identity (hub agent add gw1 -site plant1)"
"$BIN/hub" agent add gw1 -site plant1 -seed "$VAR/agent-gw1.nk" -config "$VAR/hub.yaml" | sed 's/^/  /'

echo "starting hub (embedded NATS on 127.0.0.1:4222 with nkey authentication, HTTP on 127.0.0.1:8080)"
"$BIN/hub" run -config "$VAR/hub.yaml" >"$VAR/hub.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:8080/readyz hub 60

echo "starting agent"
sed -e "s#^data_dir: .*#data_dir: $VAR/agent#" \
    -e "s#^  \# nkey: .*#  nkey: $VAR/agent-gw1.nk#" configs/agent.yaml > "$VAR/agent.yaml"
grep -q "^  nkey: $VAR/agent-gw1.nk" "$VAR/agent.yaml" || { echo "could not point the agent at its nkey" >&2; exit 1; }
"$BIN/agent" run -config "$VAR/agent.yaml" >"$VAR/agent.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:9102/healthz agent 30

echo "starting plant simulator (MQTT on 127.0.0.1:1883, OPC UA on opc.tcp://127.0.0.1:4840)"
"$BIN/simulator" run -config configs/simulator.yaml -truth "$VAR/truth.json" >"$VAR/simulator.log" 2>&1 &
pids+=($!)

cat <<MSG

floorpulse demo is running. Within a minute or two:
  dashboard      http://127.0.0.1:8080/   (中文: /?lang=zh-CN; a line's live board: /lines/L1/live; wall: /wall)
                 log in as admin, password $ADMIN_PASSWORD
  JSON           curl -H "Authorization: Bearer $VIEWER_TOKEN" http://127.0.0.1:8080/api/v1/months
                 (a viewer's API token; also /api/v1/months/$(date +%Y-%m))
  InfluxDB       curl -s http://127.0.0.1:8086/query --data-urlencode db=floorpulse \\
                   --data-urlencode "q=SELECT run_hours, active FROM equipment_activity WHERE period = 'month' GROUP BY line, equipment ORDER BY time DESC LIMIT 1"
                 (this month's figures, one row per machine; Grafana queries: docs/grafana.md)
  events         http://127.0.0.1:8080/api/v1/events   (anomaly events, newest changes last; same token)
  agent metrics  http://127.0.0.1:9102/metrics
  NATS identity  agent gw1 (sites: plant1), seed var/demo/agent-gw1.nk; hub's own key var/demo/hub/hub.nk;
                 list them: bin/hub agent list -config var/demo/hub.yaml
  logs           var/demo/*.log
Press Ctrl-C to stop everything.
MSG

# Stop when any component dies, so a failure is not hidden.
wait -n "${pids[@]}" || true
echo "a component stopped; see the logs in $VAR" >&2
