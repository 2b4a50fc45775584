#!/usr/bin/env bash
# A throwaway pg_auto_failover formation on loopback, for tests/fault/ha_*: a monitor, and
# two data nodes (a primary and a synchronous standby), each `pg_autoctl run` in a session
# of its own, as the postgres user, everything inside DIR.
#
#   ha_pg_auto_failover.sh start DIR MONITOR_PORT PORT1 PORT2   create, run, wait until
#                                                               primary + secondary
#   ha_pg_auto_failover.sh wait-healthy DIR [SECONDS]           wait for primary + secondary
#   ha_pg_auto_failover.sh primary-port DIR                     the primary's port
#   ha_pg_auto_failover.sh switchover DIR                       pg_autoctl perform switchover
#   ha_pg_auto_failover.sh kill-primary DIR                     SIGKILL the primary's postmaster
#                                                               and its keeper (a node crash);
#                                                               prints "<node> <epoch seconds>"
#   ha_pg_auto_failover.sh state DIR                            the monitor's view
#   ha_pg_auto_failover.sh stop DIR                             SIGKILL every process it started
set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin
cmd=$1
dir=$2

as_postgres() {
  runuser -u postgres -- env PATH="$PGBIN:/usr/bin:/bin" XDG_CONFIG_HOME="$dir/xdg/config" \
    XDG_DATA_HOME="$dir/xdg/data" XDG_RUNTIME_DIR="$dir/xdg/run" PG_REGRESS_SOCK_DIR= "$@"
}

monitor_sql() {
  as_postgres psql -X -qAt -h 127.0.0.1 -p "$(cat "$dir/monitor.port")" -d pg_auto_failover -c "$1"
}

# Starts `pg_autoctl ...` in a new session (its process group: the keeper and its
# Postgres), remembering the group in $dir/<name>.pgid.
run_node() {
  local name=$1
  shift
  setsid runuser -u postgres -- env PATH="$PGBIN:/usr/bin:/bin" \
    XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/data" \
    XDG_RUNTIME_DIR="$dir/xdg/run" pg_autoctl "$@" >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pgid"
}

# Returns 0 once the monitor reports one primary and one secondary, both as their goal.
healthy() {
  local states
  states=$(monitor_sql "SELECT string_agg(reportedstate::text, ',' ORDER BY reportedstate)
    FROM pgautofailover.node WHERE reportedstate = goalstate" 2>/dev/null) || return 1
  [ "$states" = "primary,secondary" ]
}

wait_healthy() {
  local limit=$1
  local end=$((SECONDS + limit))
  until healthy; do
    if [ $SECONDS -ge $end ]; then
      echo "pg_auto_failover: no primary + secondary after ${limit}s:" >&2
      monitor_sql "SELECT nodename, nodeport, reportedstate, goalstate FROM pgautofailover.node" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

case "$cmd" in
start)
  mport=$3
  p1=$4
  p2=$5
  mkdir -p "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/run"
  chmod 0700 "$dir/xdg/run"
  chown -R postgres:postgres "$dir"
  echo "$mport" >"$dir/monitor.port"
  common=(--hostname 127.0.0.1 --auth trust --no-ssl --pgctl "$PGBIN/pg_ctl")
  run_node monitor create monitor --pgdata "$dir/monitor" --pgport "$mport" "${common[@]}" --run
  end=$((SECONDS + 60))
  until monitor_sql "SELECT 1" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || { echo "monitor did not start" >&2; cat "$dir/monitor.log" >&2; exit 1; }
    sleep 0.2
  done
  # Failover within seconds, not the defaults' half minute: a node is unhealthy after a
  # second of failed checks.
  monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" >/dev/null
  monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" >/dev/null
  monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1" >/dev/null
  monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" >/dev/null
  monitor_sql "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 2000" >/dev/null
  # How long the monitor waits for an unreachable primary to demote itself before promoting
  # the standby (default 30 s). With a synchronous standby the old primary cannot acknowledge
  # a commit alone anyway.
  monitor_sql "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 3000" >/dev/null
  monitor_sql "SELECT pg_reload_conf()" >/dev/null
  uri="postgres://autoctl_node@127.0.0.1:$mport/pg_auto_failover?sslmode=disable"
  run_node node1 create postgres --pgdata "$dir/node1" --pgport "$p1" --name node1 \
    --monitor "$uri" "${common[@]}" --run
  # The second node only once the first is primary: it then clones it.
  end=$((SECONDS + 90))
  until [ "$(monitor_sql "SELECT count(*) FROM pgautofailover.node WHERE reportedstate IN
      ('single', 'primary', 'wait_primary')" 2>/dev/null)" = 1 ]; do
    [ $SECONDS -lt $end ] || { echo "node1 did not start" >&2; cat "$dir/node1.log" >&2; exit 1; }
    sleep 0.2
  done
  run_node node2 create postgres --pgdata "$dir/node2" --pgport "$p2" --name node2 \
    --monitor "$uri" "${common[@]}" --run
  wait_healthy 120
  ;;
wait-healthy)
  wait_healthy "${3:-120}"
  ;;
primary-port)
  monitor_sql "SELECT nodeport FROM pgautofailover.node WHERE reportedstate IN ('primary',
    'wait_primary', 'single') AND goalstate = reportedstate"
  ;;
switchover)
  as_postgres pg_autoctl perform switchover --pgdata "$dir/monitor" --wait 60
  ;;
kill-primary)
  port=$(monitor_sql "SELECT nodeport FROM pgautofailover.node WHERE reportedstate = 'primary'")
  for node in node1 node2; do
    if [ "$(sed -n 4p "$dir/$node/postmaster.pid" 2>/dev/null)" = "$port" ]; then
      killed_at=$(date +%s.%N)
      kill -KILL "$(head -1 "$dir/$node/postmaster.pid")"
      kill -KILL -- "-$(cat "$dir/$node.pgid")"
      echo "$node $killed_at"
      exit 0
    fi
  done
  echo "no primary found (port '$port')" >&2
  exit 1
  ;;
state)
  monitor_sql "SELECT nodename, nodeport, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid"
  ;;
stop)
  for name in node1 node2 monitor; do
    [ -f "$dir/$name.pgid" ] && kill -KILL -- "-$(cat "$dir/$name.pgid")" 2>/dev/null || true
  done
  for data in node1 node2 monitor; do
    [ -f "$dir/$data/postmaster.pid" ] && kill -KILL "$(head -1 "$dir/$data/postmaster.pid")" 2>/dev/null || true
  done
  ;;
*)
  echo "unknown command $cmd" >&2
  exit 2
  ;;
esac
