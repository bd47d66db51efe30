"""The `keel` command line as an operator uses it: real processes, real PostgreSQL and Redis.

`test_token_create_*` runs against the suite's database; `test_serve_*` runs `keel serve` with
nothing configured, so it starts (and must stop) its own embedded PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from platform_core.auth.credentials import secret_is_well_formed
from platform_core.core.config import Settings
from platform_core.embedded.servers import EmbeddedPostgres, EmbeddedRedis

KEEL = str(Path(sys.executable).with_name("keel"))


def keel_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "KEEL_TOKEN_PEPPER")}
    env.update(overrides)
    return env


def suite_env(settings: Settings, data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a `keel` process working on the test suite's database and Redis."""
    assert settings.database_url
    assert settings.redis_url
    return keel_env(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        KEEL_TOKEN_PEPPER=settings.token_pepper,
        KEEL_DATA_DIR=str(data_dir),
        **overrides,
    )


def create_admin_token(env: dict[str, str], name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEEL, "token", "create", "--admin", "--name", name],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_token_create_prints_only_a_working_admin_token(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    env = suite_env(settings, tmp_path)
    result = await asyncio.to_thread(create_admin_token, env, "cli-operator")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert result.stdout == lines[0] + "\n"
    token = lines[0]
    assert secret_is_well_formed(token, "keel_pat"), token

    headers = {"Authorization": f"Bearer {token}"}
    r = await client.post(
        "/identity/persons", json={"kind": "individual", "display_name": "Grace"}, headers=headers
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/identity/persons/{r.json()['id']}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Grace"
    # platform-admin: may read every audit chain without naming an organization
    r = await client.get("/audit/logs", headers=headers)
    assert r.status_code == 200, r.text
    corrupted = token[:-1] + ("x" if token[-1] != "x" else "y")  # always a different last character
    r = await client.get("/audit/logs", headers={"Authorization": f"Bearer {corrupted}"})
    assert r.status_code == 401


def keel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KEEL, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


async def test_jobs_list_and_run_as_an_operator_uses_them(settings: Settings, tmp_path: Path) -> None:
    env = suite_env(settings, tmp_path)
    ran = await asyncio.to_thread(keel, env, "jobs", "run", "platform.purge_idempotency_keys")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("purged "), ran.stdout

    listed = await asyncio.to_thread(keel, env, "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    for name in ["platform.purge_idempotency_keys", "entitlements.rematerialize"]:
        assert name in listed.stdout
    for name in ["organization.expire_invitations"]:
        assert name in listed.stdout
    purge = listed.stdout.split("platform.purge_idempotency_keys", 1)[1]
    assert "every 1:00:00; idle" in purge
    assert "last outcome succeeded: purged " in purge

    unknown = await asyncio.to_thread(keel, env, "jobs", "run", "nobody.nothing")
    assert unknown.returncode == 2
    assert "no scheduled job is named 'nobody.nothing'" in unknown.stderr


async def test_demo_seeds_a_cooperative_once(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    env = suite_env(settings, tmp_path)
    seeded = await asyncio.to_thread(keel, env, "demo")
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith('Demo cooperative "Analytical Engines" seeded.')
    words = seeded.stdout.split()
    research = words[words.index("research") + 1]
    ada = words[words.index("(owner)") + 1]
    r = await client.get(
        "/entitlements/check",
        params={"workspace": research, "key": "api.calls"},
        headers={"Authorization": f"Bearer {ada}"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["allowed"], r.json()["used"], r.json()["limit"]) == (True, "120", "10000")

    auth = {"Authorization": f"Bearer {ada}"}
    org_id = words[words.index("organization") + 1]
    (invoice,) = (await client.get(f"/billing/orgs/{org_id}/invoices", headers=auth)).json()["items"]
    assert (invoice["status"], invoice["total"]) == ("paid", 4900)
    patronage = (await client.get(f"/cooperative/orgs/{org_id}/patronage", headers=auth)).json()
    assert [t["amount"] for t in patronage["totals"]] == [4900]

    again = await asyncio.to_thread(keel, env, "demo")
    assert again.returncode == 0, again.stderr
    assert "already exists; nothing was changed" in again.stderr
    assert again.stdout == ""


async def test_worker_drains_the_outbox_and_stops_on_sigterm(
    client: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    assert settings.database_url
    assert settings.redis_url
    r = await client.post(
        "/identity/persons", json={"kind": "individual", "display_name": "Drained"}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    person_id = r.json()["id"]

    env = suite_env(settings, tmp_path, KEEL_OUTBOX_SWEEP_SECONDS="0.5")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([KEEL, "worker", "--threads", "1"], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        actions: list[str] = []
        while "identity.person.created" not in actions:
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"keel worker did not drain the outbox:\n{log.read_text()}"
            await asyncio.sleep(0.3)
            r = await client.get("/audit/logs", params={"target_id": person_id}, headers=admin_headers)
            assert r.status_code == 200, r.text
            actions = [item["action"] for item in r.json()["items"]]
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(worker.wait, 30)
        assert code == 0, log.read_text()
        assert "Keel worker stopped" in log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes mentioning `text` (postgres -D <dir>, redis-server <sock>)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(f"{cmdline.parent.name}: {args}")
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


class Serve:
    """A `keel serve` process on a free port with its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [KEEL, "serve", "--port", str(self.port)], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"keel serve exited early:\n{self.log.read_text()}"
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"keel serve never became healthy:\n{self.log.read_text()}")

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"keel serve ignored {sig.name}:\n{self.log.read_text()}")


def server_pids(data_dir: Path) -> dict[str, int | None]:
    return {
        "postgres": EmbeddedPostgres(data_dir).running_pid(),
        "redis": EmbeddedRedis(data_dir).running_pid(),
    }


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: as root, PostgreSQL runs as the `embedded_postgres` user, and
    # every pytest session (other suites running at the same time) resets /tmp/pytest-of-<user>
    # to mode 0700, which would lock that user out of its own data directory.
    path = Path(tempfile.mkdtemp(prefix="keel-cli-test-")) / "data"
    yield path
    # whatever the test's outcome, no embedded server outlives it
    EmbeddedRedis(path).stop()
    EmbeddedPostgres(path).stop()
    shutil.rmtree(path.parent)


@pytest.mark.timeout(240)
def test_serve_with_nothing_configured_runs_stops_and_keeps_data(data_dir: Path, tmp_path: Path) -> None:
    env = keel_env(KEEL_DATA_DIR=str(data_dir), KEEL_OUTBOX_SWEEP_SECONDS="1")
    log = tmp_path / "serve.log"
    serve = Serve(env, log)
    try:
        serve.wait_healthy()
        pids = server_pids(data_dir)
        assert all(pids.values()), pids
        assert len(processes_mentioning(str(data_dir))) >= 2

        # a second keel process on the same data dir adopts the servers and leaves them running
        created = create_admin_token(env, "operator")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip()
        assert secret_is_well_formed(token, "keel_pat"), created.stdout
        assert server_pids(data_dir) == pids
        headers = {"Authorization": f"Bearer {token}"}

        r = httpx.post(
            serve.base + "/identity/persons",
            json={"kind": "individual", "display_name": "Ada Lovelace"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        person_id = r.json()["id"]

        # the audit record is written by the in-process worker draining the outbox
        deadline = time.monotonic() + 30
        actions: list[str] = []
        while "identity.person.created" not in actions:
            assert time.monotonic() < deadline, f"audit record never appeared:\n{log.read_text()}"
            time.sleep(0.3)
            r = httpx.get(serve.base + "/audit/logs", params={"target_id": person_id}, headers=headers)
            assert r.status_code == 200, r.text
            actions = [item["action"] for item in r.json()["items"]]

        assert serve.stop(signal.SIGINT) == 0, log.read_text()
        assert not any(pid_alive(pid) for pid in pids.values() if pid), pids
        assert processes_mentioning(str(data_dir)) == []

        # restarted on the same data dir: the person and the token are still there
        serve = Serve(env, log)
        serve.wait_healthy()
        r = httpx.get(serve.base + f"/identity/persons/{person_id}", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["display_name"] == "Ada Lovelace"
        pids = server_pids(data_dir)
        assert serve.stop(signal.SIGTERM) == 0, log.read_text()
        assert not any(pid_alive(pid) for pid in pids.values() if pid), pids
        assert processes_mentioning(str(data_dir)) == []
    finally:
        if serve.proc.poll() is None:
            serve.proc.kill()
            serve.proc.wait()
