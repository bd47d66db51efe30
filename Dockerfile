# Keel's production image: one image, the command picks the role (serve, worker, migrate, ...).
FROM python:3.11-slim

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

# DejaVu Sans: invoice and credit note PDFs print every customer's name as written (without it
# they fall back to Helvetica, Windows-1252 only; modules/billing/services/document_pdf.py)
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY alembic.ini ./
COPY platform_core ./platform_core
COPY modules ./modules
COPY migrations ./migrations
RUN uv sync --frozen --no-dev --no-editable

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home keel \
    && mkdir -p /app/.keel && chown keel:keel /app/.keel
USER keel

# Production refuses embedded servers and a generated token pepper: set DATABASE_URL, REDIS_URL
# and KEEL_TOKEN_PEPPER (see docs/operations.md).
ENV PATH="/app/.venv/bin:$PATH" \
    KEEL_ENVIRONMENT=production \
    KEEL_DATA_DIR=/app/.keel

EXPOSE 8000
ENTRYPOINT ["keel"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
