"""Several `npsbot run` processes in webhook mode behind a real nginx, sharing one
PostgreSQL, with the Bot API emulator (in the test's process) posting Telegram's updates to
nginx: the topology of README "Running at scale", started and torn down per test.

nginx runs from deploy/nginx.conf (the file the README shows), rendered into a temporary
directory and started unprivileged. Replicas start in parallel; readiness is polled with
deadlines (each replica's /healthz, then every replica's setWebhook answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.emulator import BotApiEmulator
from tests.scenario import OWNER_ID, TOKEN, wait_for

ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
WEBHOOK_SECRET = "replicas-webhook-secret-0123456789"
WEBHOOK_PATH = "/telegram/hook"
API_TOKEN = "replicas-api-token-0123456789abcdef"
START_WITHIN = 90.0  # seconds for every replica to be up (three aiogram starts on 2 cores)


def nginx_binary() -> str:
    """The nginx executable (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else ""
    )
    if not found:
        if os.environ.get("CI") or os.environ.get("NPSBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail("nginx is not installed: .ci/run installs nginx-light")
        pytest.skip("nginx not installed (apt-get install nginx-light)")
    return found


def free_port() -> int:
    """A local TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def render_nginx(prefix: Path, listen: str, replica_ports: list[int]) -> str:
    """deploy/nginx.conf with its placeholders filled."""
    servers = "\n        ".join(
        f"server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in replica_ports
    )
    values = {"@PREFIX@": str(prefix), "@LISTEN@": listen, "@REPLICAS@": servers}
    lines = []
    for line in NGINX_TEMPLATE.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("#"):  # the header's comments name the placeholders
            for placeholder, value in values.items():
                line = line.replace(placeholder, value)
        lines.append(line)
    # One worker: the test shares two cores with three replicas and PostgreSQL.
    return "\n".join(lines).replace("worker_processes auto", "worker_processes 1") + "\n"


@dataclass
class Replica:
    """One `npsbot run` process and where it listens."""

    index: int
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None


@dataclass
class Cluster:
    """nginx in front of `replicas` npsbot processes sharing `db_url`."""

    api: BotApiEmulator
    db_url: str
    workdir: Path
    replicas: int = 3
    env: dict[str, str] = field(default_factory=dict)  # settings on top of the defaults
    nodes: list[Replica] = field(default_factory=list)
    nginx: asyncio.subprocess.Process | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        """nginx: what Telegram and the CRM see."""
        return f"http://127.0.0.1:{self.port}"

    def settings(self, replica: Replica) -> dict[str, str]:
        """The environment of one replica: all the same but HTTP_PORT."""
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        env.update(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=self.api.base_url,
            DATABASE_URL=self.db_url,
            ADMIN_IDS=str(OWNER_ID),
            BRAND_NAME="Acme",
            DIGEST_TIME="off",
            QUIET_HOURS="off",
            HTTP_PORT=str(replica.port),
            API_TOKEN=API_TOKEN,
            WEBHOOK_URL=f"{self.base_url}{WEBHOOK_PATH}",
            WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        env.update(self.env)
        return env

    async def start(self) -> None:
        """nginx and every replica, in parallel; returns once all are ready."""
        nginx = nginx_binary()
        self.port = free_port()
        self.nodes = [
            Replica(i, free_port(), self.workdir / f"replica-{i}.log")
            for i in range(self.replicas)
        ]
        prefix = self.workdir / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        conf.write_text(
            render_nginx(prefix, f"127.0.0.1:{self.port}", [n.port for n in self.nodes]),
            encoding="utf-8",
        )
        self.nginx = await asyncio.create_subprocess_exec(
            nginx, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        before = self._webhooks_set()
        await asyncio.gather(*(self.launch(node) for node in self.nodes))
        await asyncio.gather(*(self.ready(node) for node in self.nodes))
        # Only now through nginx: a probe refused while the replicas start would mark them
        # down for fail_timeout, and the first updates would get 502.
        await wait_for(self._nginx_up, "nginx passing requests to the replicas", within=10)
        await self.api.wait_until(
            lambda: self._webhooks_set() >= before + self.replicas,
            timeout=START_WITHIN,
            message="every replica's setWebhook",
        )

    def _webhooks_set(self) -> int:
        return sum(1 for c in self.api.calls_for("setWebhook") if c.status == 200)

    async def launch(self, node: Replica) -> None:
        """Starts the replica's process (its log appended to its file)."""
        node.starts += 1
        with node.log.open("ab") as log:
            node.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run",
                cwd=str(self.workdir), env=self.settings(node),
                stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip

    async def ready(self, node: Replica) -> None:
        """Waits for the replica's /healthz (failing at once if the process died)."""

        async def healthy() -> bool:
            assert node.running, f"replica {node.index} exited:\n{self.log_of(node)}"
            return await _status(f"http://127.0.0.1:{node.port}/healthz") == 200

        await wait_for(healthy, f"replica {node.index} healthy", within=START_WITHIN)

    async def _nginx_up(self) -> bool:
        assert self.nginx is not None and self.nginx.returncode is None, "nginx exited"
        return await _status(f"{self.base_url}/healthz") == 200

    async def restart(self, node: Replica) -> None:
        """Starts a stopped (or killed) replica again, as systemd's Restart= would."""
        before = self._webhooks_set()
        await self.launch(node)
        await self.ready(node)
        await self.api.wait_until(lambda: self._webhooks_set() > before, timeout=START_WITHIN)

    def kill(self, node: Replica) -> None:
        """kill -9: no clean-up of any kind."""
        assert node.process is not None
        node.process.kill()

    def log_of(self, node: Replica) -> str:
        return node.log.read_text(encoding="utf-8", errors="replace")

    async def stop(self) -> dict[int, int | None]:
        """SIGTERM to every replica, then nginx; each replica's exit code."""
        for node in self.nodes:
            if node.running:
                assert node.process is not None
                node.process.send_signal(signal.SIGTERM)
        codes: dict[int, int | None] = {}
        for node in self.nodes:
            if node.process is not None:
                try:
                    codes[node.index] = await asyncio.wait_for(node.process.wait(), 30)
                except TimeoutError:
                    node.process.kill()
                    codes[node.index] = None
        if self.nginx is not None and self.nginx.returncode is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.nginx.wait(), 10)
            if self.nginx.returncode is None:
                self.nginx.kill()
        return codes


async def _status(url: str) -> int:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
            session.get(url) as response,
        ):
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


def rate_peak(moments: list[float], window: float = 1.0) -> int:
    """The most events inside any sliding window of `window` seconds."""
    moments = sorted(moments)
    peak, first = 0, 0
    for last, at in enumerate(moments):
        while at - moments[first] >= window:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def elapsed_since(started: float) -> str:
    return f"{time.monotonic() - started:.1f}s"
