#!/usr/bin/env bash
# Starts PostgreSQL and MariaDB if they are down, waits until both answer, and creates the
# databases and roles the tests use. Safe to run again.
set -euo pipefail

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
my_ready() { mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; }

if ! pg_ready; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! my_ready; then
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi

for _ in $(seq 1 60); do
  if pg_ready && my_ready; then break; fi
  sleep 1
done
pg_ready || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
my_ready || { echo "MariaDB does not answer on 127.0.0.1:3306" >&2; exit 1; }

psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'flow_test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE flow_test" >/dev/null
mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS flow_test" 
echo "databases ready: PostgreSQL and MariaDB answer; database flow_test exists on both"

# Data for pipelines/postgres_to_sqlite.flow, so the example runs as written.
psql -h 127.0.0.1 -U postgres -d test -q -v ON_ERROR_STOP=1 -f "$(dirname "$0")/example-data.sql"
echo "example data ready: public.flow_example_orders (PostgreSQL, database test)"
