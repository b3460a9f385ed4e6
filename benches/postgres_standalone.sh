#!/usr/bin/env bash
# Issue 15's speed check (benches/postgres.rs) on a bigger machine, self-contained:
# PostgreSQL 16.2 + pgvector 0.6.2 from pgserver 0.1.4's binaries, started directly with
# initdb + pg_ctl and the options tests/python/pg_server.py (pgserver) uses, then the
# prebuilt bench executable against it over a Unix socket.
#
#   OUT=/path/to/results bash DIR/postgres_standalone.sh
#
# DIR (a copy of this script's folder on the other machine) holds, beside the script:
#   bench-postgres     the executable `cargo bench --bench postgres --no-run` printed (stripped)
#   shimkit.xz         target/release/shimkit, stripped and xz-compressed (the bench runs it)
#   pgserver/pginstall bin/{initdb,pg_ctl,postgres,psql}, lib/, share/ of the pgserver package
#   pgserver.libs/     the libpq pgserver ships
# SHIMKIT_SHA256 below must be the sha256 of the unpacked shimkit.
#
# Overridable: ROWS (1000000), ROUNDS (3), WRITERS, BATCH_ROWS (the bench's own defaults),
# BENCH_TIMEOUT (seconds, 560), PGDATA_DIR (/tmp/pgdata), PG_SYSUSER (pgrun).
# Writes to $OUT: bench.log, run.log, system.txt, nproc.txt, uname.txt, pg_version.txt,
# pg_settings.txt, initdb.log, postgres.log, cpu.log (vmstat or /proc/stat samples), summary.txt.
set -uo pipefail

T0=$(date +%s)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${OUT:?set OUT to a folder for the results}"
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
ROWS=${ROWS:-1000000}
ROUNDS=${ROUNDS:-3}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-560}
PGDATA_DIR=${PGDATA_DIR:-/tmp/pgdata}
PG_SYSUSER=${PG_SYSUSER:-pgrun}
PGROOT=/tmp/devpg-pg                 # world-readable copy of the binaries (the repo may sit under /root)
PGBIN=$PGROOT/pgserver/pginstall/bin
BINDIR=/tmp/devpg-bin
# The bench runs shimkit from the path cargo compiled into it (env!("CARGO_BIN_EXE_shimkit")).
SHIMKIT_EXE=/work/main/target/release/shimkit
SHIMKIT_SHA256=b1913332b39ebfd85bc2c054fffbd8abd5a2967673f50a4484c76f0a2c6b588d
SAVED_SHIMKIT=""
CREATED_SHIMKIT=0
PG_STARTED=0
MONITOR_PID=""

log() { echo "[run.sh +$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/run.log" >&2; }
die() { log "FAILED: $*"; exit 1; }

as_pg() {  # run a command as the unprivileged user (postgres refuses root)
    if [ "$(id -u)" != 0 ]; then "$@"
    elif command -v runuser >/dev/null; then runuser -u "$PG_SYSUSER" -- "$@"
    elif command -v setpriv >/dev/null; then
        setpriv --reuid="$(id -u "$PG_SYSUSER")" --regid="$(id -g "$PG_SYSUSER")" --init-groups -- "$@"
    else su -s /bin/sh "$PG_SYSUSER" -c "$(printf '%q ' "$@")"
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$MONITOR_PID" ] && kill "$MONITOR_PID" 2>/dev/null
    if [ "$PG_STARTED" = 1 ]; then
        log "stopping postgres"
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -w -t 60 -m fast stop >>"$OUT/run.log" 2>&1 ||
            as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -w -t 30 -m immediate stop >>"$OUT/run.log" 2>&1
    fi
    [ -f "$PGDATA_DIR/log" ] && cp "$PGDATA_DIR/log" "$OUT/postgres.log"
    if [ -n "$SAVED_SHIMKIT" ]; then mv -f "$SAVED_SHIMKIT" "$SHIMKIT_EXE"
    elif [ "$CREATED_SHIMKIT" = 1 ]; then rm -f "$SHIMKIT_EXE"
    fi
    [ -z "${KEEP_PGDATA:-}" ] && rm -rf "$PGDATA_DIR"
    log "done, exit $rc, total $(( $(date +%s) - T0 )) s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

: >"$OUT/run.log"
log "ROWS=$ROWS ROUNDS=$ROUNDS BENCH_TIMEOUT=$BENCH_TIMEOUT OUT=$OUT"

# --- the machine ------------------------------------------------------------------------
nproc >"$OUT/nproc.txt"
uname -a >"$OUT/uname.txt"
{
    echo "nproc: $(nproc)"; uname -a
    grep -m1 'model name' /proc/cpuinfo
    command -v lscpu >/dev/null && lscpu
    echo "--- cgroup cpu.max: $(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo n/a)"
    echo "--- memory"; free -m 2>/dev/null || head -3 /proc/meminfo
    echo "--- /tmp"; df -h /tmp; findmnt -T /tmp 2>/dev/null
    echo "--- os"; cat /etc/os-release 2>/dev/null | head -4
} >"$OUT/system.txt" 2>&1
log "nproc $(nproc); $(uname -srm)"

# --- shimkit, where the bench looks for it ----------------------------------------------
mkdir -p "$BINDIR"
if ! echo "$SHIMKIT_SHA256  $BINDIR/shimkit" | sha256sum -c --status 2>/dev/null; then
    if command -v xz >/dev/null; then xz -dc "$HERE/shimkit.xz" >"$BINDIR/shimkit"
    else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' \
            "$HERE/shimkit.xz" "$BINDIR/shimkit"
    fi || die "could not decompress shimkit.xz"
    echo "$SHIMKIT_SHA256  $BINDIR/shimkit" | sha256sum -c --status || die "shimkit checksum mismatch"
fi
chmod 755 "$BINDIR/shimkit"
if [ -e "$SHIMKIT_EXE" ] && ! cmp -s "$SHIMKIT_EXE" "$BINDIR/shimkit"; then
    SAVED_SHIMKIT="$SHIMKIT_EXE.devpg-saved"
    mv -f "$SHIMKIT_EXE" "$SAVED_SHIMKIT" || die "cannot move $SHIMKIT_EXE aside"
fi
[ -e "$SHIMKIT_EXE" ] || CREATED_SHIMKIT=1
mkdir -p "$(dirname "$SHIMKIT_EXE")" && ln -sf "$BINDIR/shimkit" "$SHIMKIT_EXE" || die "cannot place $SHIMKIT_EXE"
"$SHIMKIT_EXE" --version >>"$OUT/run.log" 2>&1 || die "shimkit does not run"

# --- postgres: binaries, user, cluster ---------------------------------------------------
rm -rf "$PGROOT" && mkdir -p "$PGROOT" && cp -a "$HERE/pgserver" "$HERE/pgserver.libs" "$PGROOT/" ||
    die "cannot copy the binaries to $PGROOT"
chmod -R a+rX "$PGROOT"
"$PGBIN/postgres" --version >"$OUT/pg_version.txt" || die "postgres does not run (ldd: $(ldd "$PGBIN/postgres" | grep 'not found'))"
ldd "$PGBIN/postgres" "$PGBIN/initdb" "$PGBIN/psql" >>"$OUT/run.log" 2>&1

if [ "$(id -u)" = 0 ]; then
    if ! id "$PG_SYSUSER" >/dev/null 2>&1; then
        useradd -M -r -s /bin/sh "$PG_SYSUSER" 2>>"$OUT/run.log" || {
            log "useradd failed; using nobody"; PG_SYSUSER=nobody; }
    fi
    log "postgres runs as $PG_SYSUSER ($(id "$PG_SYSUSER"))"
fi

if [ -f "$PGDATA_DIR/postmaster.pid" ]; then   # a server left over from an earlier run
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -w -t 30 -m immediate stop >>"$OUT/run.log" 2>&1
fi
rm -rf "$PGDATA_DIR" && mkdir -p "$PGDATA_DIR" && chmod 700 "$PGDATA_DIR" || die "cannot make $PGDATA_DIR"
[ "$(id -u)" = 0 ] && chown "$PG_SYSUSER:" "$PGDATA_DIR"

# pg_server.py (pgserver): initdb --auth=trust --auth-local=trust --encoding=utf8 -U postgres,
# everything else at initdb's defaults. Locale C.UTF-8 (as on the reference host), C if absent.
initdb_with() {
    LC_ALL=$1 LANG=$1 as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" --auth=trust --auth-local=trust \
        --encoding=utf8 -U postgres >>"$OUT/initdb.log" 2>&1
}
if ! initdb_with C.UTF-8; then
    log "initdb with C.UTF-8 failed, retrying with locale C"
    rm -rf "${PGDATA_DIR:?}"/* && initdb_with C || die "initdb (see initdb.log)"
fi
log "initdb done"

# pg_server.py (pgserver): pg_ctl -w -o '-h ""' -o '-k SOCKETDIR' -l PGDATA/log start,
# the socket in PGDATA, no TCP at all.
PG_STARTED=1
as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -w -t 60 -o '-h ""' -o "-k $PGDATA_DIR" \
    -l "$PGDATA_DIR/log" start >>"$OUT/run.log" 2>&1 || { cat "$PGDATA_DIR/log" >&2; die "pg_ctl start"; }
URL="postgresql://postgres:@/postgres?host=$PGDATA_DIR"
psql() { "$PGBIN/psql" -X -h "$PGDATA_DIR" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
psql -qc 'CREATE EXTENSION IF NOT EXISTS vector' || die "CREATE EXTENSION vector"
{
    psql -Atc 'SELECT version()'
    psql -Atc "SELECT 'pgvector ' || extversion FROM pg_extension WHERE extname = 'vector'"
} >>"$OUT/pg_version.txt"
psql -Atc "SELECT name || ' = ' || setting || coalesce(' ' || unit, '') || ' (' || source || ')'
           FROM pg_settings WHERE source <> 'default' OR name IN
           ('shared_buffers','max_wal_size','synchronous_commit','wal_level','fsync',
            'full_page_writes','wal_buffers','checkpoint_timeout','max_worker_processes')
           ORDER BY name" >"$OUT/pg_settings.txt"
log "postgres up: $(head -1 "$OUT/pg_version.txt"), $(tail -1 "$OUT/pg_version.txt"), $URL"

# --- CPU samples during the bench ---------------------------------------------------------
if command -v vmstat >/dev/null; then
    vmstat -n -t 5 >"$OUT/cpu.log" 2>&1 &
else
    ( while :; do echo "$(date +%s) $(head -1 /proc/stat) | $(cat /proc/loadavg)"; sleep 5; done ) >"$OUT/cpu.log" &
fi
MONITOR_PID=$!

# --- the bench -------------------------------------------------------------------------------
log "bench: ROWS=$ROWS ROUNDS=$ROUNDS (timeout ${BENCH_TIMEOUT}s)"
B0=$(date +%s)
SHIMKIT_BENCH_PG=$URL ROWS=$ROWS ROUNDS=$ROUNDS \
    timeout "$BENCH_TIMEOUT" "$HERE/bench-postgres" --bench 2>&1 | tee "$OUT/bench.log"
BRC=${PIPESTATUS[0]}
log "bench exit $BRC after $(( $(date +%s) - B0 )) s"
{
    echo "nproc=$(nproc) ROWS=$ROWS ROUNDS=$ROUNDS bench_exit=$BRC bench_seconds=$(( $(date +%s) - B0 ))"
    grep -E '^round |^median' "$OUT/bench.log"
    # backfill/COPY per finished round (useful when a timeout cut the run before its median)
    grep '^round ' "$OUT/bench.log" | sed -E 's/^round ([0-9]+):.* ([0-9]+)% of COPY,.*/round \1 backfill\/COPY \2%/'
} >"$OUT/summary.txt"
cat "$OUT/summary.txt" >&2
[ "$BRC" = 0 ] || die "bench exit $BRC$([ "$BRC" = 124 ] && echo ' (timeout)')"
