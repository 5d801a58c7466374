#!/usr/bin/env bash
# One entry point for people and CI:
#   ./run.sh app      set up .venv (first time) and serve the Streamlit gallery on :8501
#   ./run.sh test     set up .venv + test tools (+ Debian chromium when root) and run every test
#   ./run.sh gradio   serve the Gradio widgets on :7860
#   ./run.sh bench    run the benchmarks in bench/ (figures in bench/results/)
set -euo pipefail
cd "$(dirname "$0")"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
export PIP_DISABLE_PIP_VERSION_CHECK=1

python_bin() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))'; then
      echo "$candidate"; return
    fi
  done
  echo "Python 3.11 or newer is required" >&2; exit 1
}

# Install a requirements file into .venv unless the same file was installed before.
ensure_requirements() {
  local file=$1 stamp=".venv/.installed-$(basename "$1")"
  [ -x .venv/bin/python ] || "$(python_bin)" -m venv .venv
  if [ ! -f "$stamp" ] || ! cmp -s "$file" "$stamp"; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r "$file"
    cp "$file" "$stamp"
  fi
}

ensure_chromium() {
  command -v chromium >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "chromium not found: browser tests will be skipped (install Debian's chromium to run them)" >&2
  fi
}

case "${1:-app}" in
  app)    ensure_requirements requirements.txt
          exec .venv/bin/python -m ui.server --server.port "${PORT:-8501}" ;;
  gradio) ensure_requirements requirements.txt
          exec .venv/bin/python gradio_app.py ;;
  test)   ensure_requirements requirements-test.txt
          ensure_chromium
          # one torch thread per test process unless told otherwise: on a 2-core runner two intra-op
          # threads beside Streamlit's script thread and Chromium oversubscribe the cores
          export HERO_THREADS="${HERO_THREADS:-1}"
          # ...and so one test file per core at once (pytest-xdist; whole files, so a module's server or
          # trained model is made once), at most 4 (each worker holds torch and friends: ~2 GB)
          cores=$(nproc 2>/dev/null || echo 1)
          workers="${HERO_TEST_WORKERS:-$(( cores < 4 ? cores : 4 ))}"
          shift; exec .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@" ;;
  bench)  ensure_requirements requirements-test.txt
          mkdir -p bench/results
          for b in bench/bench_*.py; do .venv/bin/python "$b"; done ;;
  *)      echo "usage: ./run.sh [app|test|gradio|bench]" >&2; exit 2 ;;
esac
