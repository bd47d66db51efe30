# Sourced by the scripts: make sure `uv` is on PATH, installing it when it is missing.
ensure_uv() {
  export PATH="$HOME/.local/bin:$HOME/.cargo/bin:$PATH"
  command -v uv >/dev/null 2>&1 && return 0
  echo "uv not found; installing it" >&2
  if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    # uv is a self-contained binary, so a user install cannot disturb an externally managed
    # (PEP 668) system Python: --break-system-packages is safe here.
    python3 -m pip install --quiet --user uv >&2 \
      || python3 -m pip install --quiet --user --break-system-packages uv >&2 || true
  fi
  if ! command -v uv >/dev/null 2>&1; then
    if command -v curl >/dev/null 2>&1; then
      curl -LsSf https://astral.sh/uv/install.sh | sh >&2
    else
      wget -qO- https://astral.sh/uv/install.sh | sh >&2
    fi
  fi
  command -v uv >/dev/null 2>&1 || { echo "could not install uv; see https://docs.astral.sh/uv/" >&2; return 1; }
}
