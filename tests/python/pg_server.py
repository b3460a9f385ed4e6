"""A private PostgreSQL 16 with pgvector, from PyPI's pgserver, for tests and CI.

    pg_server.py serve DIR [--remove]
                             start a server in DIR (created if missing), print one JSON
                             line {"url", "pgdata", "bin"}, then obey lines on stdin
                             (`restart`, `stop`, `start`, each answered `ok` or an error)
                             and stop the server when stdin closes (then remove DIR with
                             --remove)
    pg_server.py start DIR   start it, print the JSON line, and return (CI)
    pg_server.py stop DIR    stop a server started with `start`

pgserver runs the server as an unprivileged user when started as root, and listens only
on a Unix socket in DIR.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import pgserver
from pgserver import _commands


def system_user(pgdata):
    return "pgserver" if os.geteuid() == 0 else None


def pg_ctl(pgdata, *args):
    _commands.pg_ctl(["-w", *args], pgdata=pgdata, user=system_user(pgdata), timeout=60)


def start(pgdata):
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    return {
        "url": server.get_uri(),
        "pgdata": str(pgdata),
        "bin": str(_commands.POSTGRES_BIN_PATH),
    }


def main():
    args = sys.argv[1:]
    remove = "--remove" in args
    args = [a for a in args if a != "--remove"]
    if len(args) != 2 or args[0] not in ("serve", "start", "stop") or (remove and args[0] != "serve"):
        sys.exit(__doc__)
    command, pgdata = args[0], Path(args[1]).resolve()
    if command == "stop":
        pg_ctl(pgdata, "stop", "-m", "fast")
        return
    info = start(pgdata)
    print(json.dumps(info), flush=True)
    if command == "start":
        return
    socket_dir = info["url"].split("host=", 1)[1].split("&", 1)[0]
    try:
        for line in sys.stdin:
            order = line.strip()
            try:
                if order == "restart":
                    pg_ctl(pgdata, "restart", "-m", "fast")
                elif order == "stop":
                    pg_ctl(pgdata, "stop", "-m", "fast")
                elif order == "start":
                    pg_ctl(pgdata, "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(pgdata / "log"), "start")
                else:
                    raise ValueError(f"unknown order {order!r}")
                print("ok", flush=True)
            except Exception as e:  # noqa: BLE001 - the test reads the reason
                print(f"error: {e}", flush=True)
    finally:
        try:
            pg_ctl(pgdata, "stop", "-m", "immediate")
        except Exception:  # noqa: BLE001 - already stopped
            pass
        if remove:
            shutil.rmtree(pgdata, ignore_errors=True)


if __name__ == "__main__":
    main()
