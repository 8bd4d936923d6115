# Sourced by .ci/run: starts a throwaway Postgres on 127.0.0.1 for the
# tests and exports LOCKBOT_TEST_DATABASE_URL. It is stopped when the
# calling shell exits.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ]; then
  echo "ci: installing postgresql" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
# initdb refuses to run as root: the server runs as the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_data=$(mktemp -d)
[ "$(id -u)" = 0 ] && chown postgres "$pg_data"
pg_port=""
for p in $(seq 55432 55532); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then pg_port=$p; break; fi
done
[ -n "$pg_port" ] || { echo "ci: no free port for postgres" >&2; exit 1; }
as_pg "$pg_bin/initdb" -D "$pg_data/db" -U lockbot -A trust -E UTF8 --no-instructions >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$pg_data/db" -l "$pg_data/log" -w \
  -o "-p $pg_port -k $pg_data -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
trap 'as_pg "$pg_bin/pg_ctl" -D "$pg_data/db" -m fast stop >/dev/null 2>&1; rm -rf "$pg_data"' EXIT
export LOCKBOT_TEST_DATABASE_URL="postgres://lockbot@127.0.0.1:$pg_port/postgres?sslmode=disable"
echo "ci: postgres $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port" >&2
