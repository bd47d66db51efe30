"""The `keel` command line: serve, migrate, worker, plus commands modules contribute."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence

import click

from platform_core import migrate as migrations
from platform_core.cli_support import CliState
from platform_core.config import Settings, get_settings
from platform_core.embedded import services_for
from platform_core.module import ModuleSpec
from platform_core.runtime import Runtime


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def build_cli(modules: Sequence[ModuleSpec], build_runtime: Callable[[Settings], Runtime]) -> click.Group:
    @click.group(help="Keel — the cooperative's backend.")
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        _configure_logging(get_settings().log_level)
        ctx.obj = CliState(build_runtime=build_runtime)

    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8000, show_default=True, type=int)
    @click.option("--worker-threads", default=2, show_default=True, type=int)
    def serve(host: str, port: int, worker_threads: int) -> None:
        """Run the API and an in-process worker (embedded PostgreSQL/Redis when no URL is set)."""
        import uvicorn

        from platform_core.http import create_app
        from platform_core.worker import start_worker

        with services_for(get_settings()) as settings:
            assert settings.database_url
            migrations.upgrade(settings.database_url)
            runtime = build_runtime(settings)
            worker = start_worker(runtime, threads=worker_threads)
            try:
                app = create_app(runtime)
                click.echo(f"Keel serving on http://{host}:{port} (OpenAPI at /schema)", err=True)
                uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())
            finally:
                worker.stop()

    @cli.command()
    def migrate() -> None:
        """Upgrade the database schema to the newest revision."""
        with services_for(get_settings()) as settings:
            assert settings.database_url
            migrations.upgrade(settings.database_url)
            click.echo("database is at head", err=True)

    @cli.command()
    @click.option("--threads", default=4, show_default=True, type=int)
    def worker(threads: int) -> None:
        """Run a Dramatiq worker draining every outbox (production: one or more processes)."""
        from platform_core.worker import start_worker

        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        with services_for(get_settings()) as settings:
            runtime = build_runtime(settings)
            running = start_worker(runtime, threads=threads)
            click.echo("Keel worker running; Ctrl-C to stop", err=True)
            stop.wait()
            running.stop()

    for module in modules:
        for command in module.cli_commands:
            cli.add_command(command)
    return cli
