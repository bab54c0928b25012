#!/usr/bin/env bash
# Makes sure what the test suite needs is present and running on Debian 12: PostgreSQL 15 with
# pgvector (built from Debian's own source package), Redis 7, and Chromium for the browser test.
# Idempotent: every step checks first and does nothing when the thing is already there.
# Needs root for installs; on a machine that already has everything it only checks.
set -euo pipefail

PG_HOST=${PGHOST_CHECK:-127.0.0.1}
PG_PORT=${PGPORT_CHECK:-5432}
REDIS_PORT=${REDIS_PORT_CHECK:-6379}

log() { printf '[ensure-services] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

pg_major() {
  if command -v pg_config >/dev/null 2>&1; then
    pg_config --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'
  else
    ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1
  fi
}

ensure_postgres_installed() {
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing PostgreSQL"
    apt_install postgresql postgresql-contrib
  fi
}

ensure_postgres_running() {
  if pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then return; fi
  log "starting PostgreSQL"
  local ver
  ver=$(ls /etc/postgresql | sort -n | tail -n 1)
  # Trust auth on loopback for the test cluster, as on the development machines.
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if [ -f "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 1 30); do
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && return
    sleep 1
  done
  log "PostgreSQL did not become ready on $PG_HOST:$PG_PORT"
  exit 1
}

ensure_pgvector() {
  local ver
  ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  if [ -f "/usr/share/postgresql/$ver/extension/vector.control" ]; then return; fi
  log "building pgvector for PostgreSQL $ver from Debian's source package"
  local src=/etc/apt/sources.list.d/lodestar-trixie-src.list
  if [ ! -f "$src" ]; then
    echo 'deb-src http://deb.debian.org/debian trixie main' | as_root tee "$src" >/dev/null
    apt_updated=0
  fi
  apt_install "postgresql-server-dev-$ver" make gcc dpkg-dev
  local build
  build=$(mktemp -d)
  (
    cd "$build"
    apt-get source -qq pgvector >/dev/null 2>&1 || apt-get source pgvector
    cd pgvector-*/
    make -s PG_CONFIG="/usr/lib/postgresql/$ver/bin/pg_config" >/dev/null
    as_root make -s PG_CONFIG="/usr/lib/postgresql/$ver/bin/pg_config" install >/dev/null
  )
  rm -rf "$build"
  log "pgvector installed"
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing Redis"
    apt_install redis-server
  fi
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then return; fi
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 20); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && return
    sleep 0.5
  done
  log "Redis did not become ready on port $REDIS_PORT"
  exit 1
}

ensure_chromium() {
  # The browser test drives Debian's Chromium through playwright-core (no browser downloads).
  if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then return; fi
  log "installing Chromium (for the browser test)"
  apt_install chromium
}

ensure_postgres_installed
ensure_pgvector
ensure_postgres_running
ensure_redis
ensure_chromium
log "PostgreSQL $(pg_major) with pgvector, Redis and Chromium are ready"
