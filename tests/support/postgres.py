"""A throwaway PostgreSQL server for the governance store's tests (the machine's own binaries).

The Debian `postgresql` package is part of the machine image; its server refuses to run as
root, so when the tests run as root the cluster belongs to the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid

from alpr.net import free_port


def _bindir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    return candidates[0] if candidates and os.path.exists(os.path.join(candidates[0], "initdb")) else None


class PostgresServer:
    """`password`: the server takes logins by SCRAM password only (the default trusts every local login)."""

    def __init__(self, password: str | None = None) -> None:
        bindir = _bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries not found (Debian package postgresql)")
        self.bin = bindir
        self.dir = tempfile.mkdtemp(prefix="alpr-pg-")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        data = os.path.join(self.dir, "data")
        self.password = password
        auth = ["-A", "trust"]
        if password is not None:
            pwfile = os.path.join(self.dir, "pwfile")
            with open(pwfile, "w") as f:
                f.write(password + "\n")
            if self.as_user:
                shutil.chown(pwfile, "postgres", "postgres")
            auth = ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
        self._run("initdb", "-D", data, *auth, "-U", "alpr", "--no-sync")
        self._run(
            "pg_ctl",
            "-D",
            data,
            "-w",
            "-l",
            os.path.join(self.dir, "log"),
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        self.data = data

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run([*self.as_user, os.path.join(self.bin, tool), *args], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")

    def new_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:10]}"
        login = {"password": self.password} if self.password is not None else {}
        with psycopg.connect(f"postgresql://alpr@127.0.0.1:{self.port}/postgres", autocommit=True, **login) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://alpr@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
