# One image for every contact-sync process (web, collector, scheduler, worker, sandbox).
FROM python:3.11-slim

# uv pinned to a release (the one scripts/setup gets from PyPI for this uv.lock), not
# :latest, so a rebuild next month resolves the same way. .dockerignore keeps .env, .venv,
# .git and caches out of `COPY . .`.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1

WORKDIR /app

# Dependencies first (cached layer), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
RUN uv sync --frozen --no-dev

RUN useradd --create-home --uid 10001 app
USER app

EXPOSE 8000
CMD ["contact-sync", "--help"]
