# Sourced by .ci/run: a throwaway PostgreSQL from Debian's packages for the tests that need one.
# postgres_start installs the package (when root), initialises a cluster in a fresh temporary
# directory, starts it on a free loopback port with its socket inside that directory, creates a test
# role that may create databases (each test makes and drops its own, closing the connections a
# gateway of another role left: pg_signal_backend), and exports
# POSTGRES_TEST_URL. postgres_stop stops it and removes the directory; call it from a trap.
# PostgreSQL refuses to run as root, so the server runs as the `postgres` user.

postgres_dir=""

postgres_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && echo "$dir"
}

postgres_start() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "not root: the PostgreSQL SessionDB tests will skip (POSTGRES_TEST_URL unset)"
    return 0
  fi
  local bin
  if ! bin=$(postgres_bindir); then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(postgres_bindir)
  fi
  postgres_dir=$(mktemp -d /tmp/hermes-ci-postgres.XXXXXX)
  chown postgres: "$postgres_dir"
  chmod 0700 "$postgres_dir"
  local port password
  port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })')
  password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  runuser -u postgres -- "$bin/initdb" -D "$postgres_dir/data" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$postgres_dir/data" -l "$postgres_dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$postgres_dir -c fsync=on -c synchronous_commit=on" >/dev/null
  runuser -u postgres -- "$bin/psql" -h "$postgres_dir" -p "$port" -d postgres -qAt -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE hermes_test LOGIN CREATEDB CREATEROLE PASSWORD '$password'" \
    -c "GRANT pg_signal_backend TO hermes_test" >/dev/null
  export POSTGRES_TEST_URL="postgresql://hermes_test:$password@127.0.0.1:$port/postgres"
  echo "postgres: $("$bin/postgres" --version), port $port, data in $postgres_dir"
}

postgres_stop() {
  [ -n "$postgres_dir" ] || return 0
  local bin
  bin=$(postgres_bindir) || true
  if [ -n "$bin" ] && [ -f "$postgres_dir/data/postmaster.pid" ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$postgres_dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$postgres_dir"
  postgres_dir=""
}
