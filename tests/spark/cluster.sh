#!/usr/bin/env bash
# A real Apache Spark standalone cluster on loopback for the tests and benchmarks: one master and two
# workers (1 core each by default) bound to 127.0.0.1, from the `pyspark` package (it bundles Spark's
# jars and scripts) installed into a venv, on the machine's Java 17.
#
#   tests/spark/cluster.sh install        # venv + pyspark (idempotent, ~30 s the first time)
#   tests/spark/cluster.sh start          # install, then start master + 2 workers; prints `export …` lines
#   tests/spark/cluster.sh stop           # stop exactly the processes `start` launched (by pid)
#   tests/spark/cluster.sh env            # the `export …` lines of a running cluster
#
# Environment: HOMESEASON_SPARK_VENV (default /var/tmp/homeseason-spark-venv), HOMESEASON_SPARK_DIR
# (state: pids, logs; default /var/tmp/homeseason-spark-$USER), SPARK_MASTER_PORT (default 7177),
# SPARK_WORKER_CORES (1), SPARK_WORKER_MEMORY (1g). The web UIs use ports 8180/8181/8182 (not Spark's defaults).
set -euo pipefail
PYSPARK_VERSION=4.0.1
VENV="${HOMESEASON_SPARK_VENV:-/var/tmp/homeseason-spark-venv}"
STATE="${HOMESEASON_SPARK_DIR:-/var/tmp/homeseason-spark-${USER:-$(id -u)}}"
PORT="${SPARK_MASTER_PORT:-7177}"
CORES="${SPARK_WORKER_CORES:-1}"
MEM="${SPARK_WORKER_MEMORY:-1g}"
UI="${SPARK_UI_PORT_BASE:-8180}"

spark_home() { "$VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'; }

install() {
  command -v java >/dev/null || { echo "cluster.sh: no java on PATH (Spark needs Java 17)" >&2; exit 1; }
  if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
  if ! "$VENV/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install --quiet "pyspark==$PYSPARK_VERSION"
  fi
}

env_lines() {
  echo "export SPARK_HOME=$(spark_home)"
  echo "export HOMESEASON_SPARK_PYTHON=$VENV/bin/python"
  echo "export HOMESEASON_SPARK_MASTER=spark://127.0.0.1:$PORT"
}

wait_port() { # host port seconds
  for _ in $(seq 1 $(( $3 * 5 ))); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

start() {
  install
  mkdir -p "$STATE"
  if [ -f "$STATE/pids" ]; then stop; fi
  local home; home="$(spark_home)"
  export SPARK_HOME="$home" SPARK_LOCAL_IP=127.0.0.1 SPARK_LOG_DIR="$STATE" SPARK_WORKER_DIR="$STATE/work"
  export PYSPARK_PYTHON="$VENV/bin/python"
  : > "$STATE/pids"
  nohup "$home/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$PORT" \
    --webui-port "$UI" > "$STATE/master.log" 2>&1 &
  echo $! >> "$STATE/pids"
  if ! wait_port 127.0.0.1 "$PORT" 60; then
    echo "cluster.sh: the master did not open port $PORT; see $STATE/master.log" >&2; tail -20 "$STATE/master.log" >&2; stop; exit 1
  fi
  for i in 1 2; do
    nohup "$home/bin/spark-class" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores "$CORES" \
      --memory "$MEM" --webui-port $(( UI + i )) --work-dir "$STATE/work$i" "spark://127.0.0.1:$PORT" \
      > "$STATE/worker$i.log" 2>&1 &
    echo $! >> "$STATE/pids"
  done
  # Both workers registered?
  for _ in $(seq 1 300); do
    if [ "$(grep -c 'Registering worker' "$STATE/master.log" || true)" -ge 2 ]; then env_lines; return 0; fi
    sleep 0.2
  done
  echo "cluster.sh: workers did not register; see $STATE/worker*.log" >&2; stop; exit 1
}

stop() {
  [ -f "$STATE/pids" ] || return 0
  # spark-class execs java, so these pids are the JVMs themselves.
  while read -r pid; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done < "$STATE/pids"
  sleep 1
  while read -r pid; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done < "$STATE/pids"
  rm -f "$STATE/pids"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) env_lines ;;
  *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
