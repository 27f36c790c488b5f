"""The gateway benchmark keeps working: at smoke-test sizes every call through the gateway and directly is answered."""

from __future__ import annotations

import pytest

from benchmarks import gateway

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def test_quick_run_answers_every_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert gateway.main(["--quick"]) == 0
    report = capsys.readouterr().out
    rows = [line for line in report.splitlines() if line.startswith(("| W1 ", "| W3 "))]
    assert len(rows) == 2, report
    assert all(row.rstrip(" |").endswith("| 0") for row in rows), report  # no errors
    assert "memory per idle proxied connection" in report
