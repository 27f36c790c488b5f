"""The benchmarks keep working: the fan-out comparison, in its quickest mode, loses no event."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

PEERS = ("wsrpc-uvicorn-pubsub", "websockets-pubsub")


def _rows(markdown: str) -> list[list[str]]:
    """The body rows of every Markdown table in ``markdown``, as lists of cells."""
    rows = []
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in PEERS:
            rows.append(cells)
    return rows


def test_fanout_quick_run_delivers_every_event(redis_url: str, tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    argv = ["fanout", "--quick", "--peers", ",".join(PEERS), "--redis-url", redis_url, "--quiet-wait", "0"]

    code = run.main([*argv, "--output", str(output)])

    rows = _rows(output.read_text())
    assert [row[0] for row in rows] == [*PEERS, *PEERS]  # burst, then steady
    lost = [row[5] for row in rows]
    assert lost == ["0"] * len(rows), rows
    assert code == 0  # also counts publish errors and dropped connections
