"""The test matrix: each leg in a virtualenv of its own, installed from its own pinned constraints.

``nox`` runs every leg; ``nox -s main`` the main leg alone (what ``make test``
runs); ``nox -s legs`` the others. The main leg, Python 3.11 with Django 5.2,
also lints, type-checks, checks migrations, drives Chromium (``tests/browser``)
and runs the slowest end-to-end tests (``MAIN_LEG_ONLY``: floods, restarts of
servers and of Redis, the benchmarks' quick runs). The other legs run every
other test, servers on daphne and uvicorn included: what they leave out tests
wsrpc's own behaviour under failure, the same on every version, and the JS
client does not depend on the Python or Django version.
Interpreters are looked up on ``PATH`` (with pyenv: ``PATH=$(pyenv prefix 3.12.1)/bin:$PATH``).
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["main", "legs"]

#: (Python, Django) -> the constraints file that pins the leg's versions.
LEGS = {
    ("3.11", "4.2"): "constraints/py311-django42.txt",
    ("3.12", "6.1"): "constraints/py312-django61.txt",
    ("3.13", "6.1"): "constraints/py313-django61.txt",
}

#: Run on the main leg only: the slowest end-to-end tests, about two thirds of a leg's time.
MAIN_LEG_ONLY = (
    "tests/browser",
    "tests/e2e/test_hostile.py",
    "tests/e2e/test_client_recovery.py",
    "tests/e2e/test_redis_outage.py",
    "tests/e2e/test_history_cluster.py",
    "tests/http/test_http_limits_e2e.py",
    "tests/test_benchmarks.py",
)


@nox.session(python="3.11")
def main(session: nox.Session) -> None:
    """Python 3.11, Django 5.2: lint, types, migrations and the whole suite."""
    session.install("-c", "constraints.txt", "-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("mypy")
    session.run("python", "manage.py", "makemigrations", "--check", "--dry-run")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
@nox.parametrize(("python", "django"), list(LEGS), ids=[f"py{p}-django{d}" for p, d in LEGS])
def legs(session: nox.Session, django: str) -> None:
    """The other supported versions: every test but those of ``MAIN_LEG_ONLY``."""
    constraints = LEGS[(str(session.python), django)]
    session.install("-c", constraints, "-e", ".[dev]")
    session.run("python", "-m", "django", "--version")
    session.run("python", "manage.py", "makemigrations", "--check", "--dry-run")
    ignored = [f"--ignore={path}" for path in MAIN_LEG_ONLY]
    session.run("python", "-m", "pytest", *ignored, *session.posargs)
