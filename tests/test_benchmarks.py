"""The benchmarks keep working: in their quickest modes, fan-out and chat lose no event, every call is answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import calls, chat, fanout, report, run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

PEERS = ("wsrpc-uvicorn-pubsub", "websockets-pubsub")


def _rows(markdown: str, peers: tuple[str, ...] = PEERS) -> list[list[str]]:
    """The body rows of every Markdown table in ``markdown`` whose first cell names one of ``peers``."""
    rows = []
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in peers:
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


def test_fanout_quick_run_with_presence_delivers_every_event_to_every_recorded_subscriber(redis_url: str) -> None:
    peer = "wsrpc-uvicorn-pubsub"
    argv = ["fanout", "--quick", "--peers", peer, "--presence", "--redis-url", redis_url, "--quiet-wait", "0"]
    options = fanout.options_from(run.build_parser().parse_args(argv))
    assert [p.name for p in options.peers] == [peer, f"{peer}+presence"]
    (row,) = options.topics
    assert (row.name, row.presence, row.join_leave, row.history_size) == ("bench.presence", True, True, 0)

    results = fanout.compare(options)  # two wsrpc processes on Redis per peer, subscribers on both

    assert [(s.peer.name, s.mode) for s in results] == [
        (peer, "burst"),
        (peer, "steady"),
        (f"{peer}+presence", "burst"),
        (f"{peer}+presence", "steady"),
    ]
    for series in results:
        (result,) = series.runs
        assert result.expected == options.events * options.subscribers
        assert (result.delivered, result.duplicates, result.stray) == (result.expected, 0, 0), series
        assert (result.publish_errors, result.dropped_connections, result.incomplete) == (0, 0, None), series
        # rpc.presence_stats, asked before publishing, counted every subscriber across both processes.
        assert result.present == (options.subscribers if series.peer.presence else None), series
    section = fanout.render(results, options, "fanout", report.environment())
    assert "### Presence on ÷ off" in section
    rows = [r for r in _rows(section, (peer,)) if len(r) == 11 and r[1] in ("burst", "steady")]
    assert [(r[1], r[8], r[9], r[10]) for r in rows] == [
        ("burst", "0", "0", str(options.subscribers)),
        ("steady", "0", "0", str(options.subscribers)),
    ], rows


def test_fanout_quick_run_with_metrics_sets_metrics_on_beside_off(redis_url: str) -> None:
    peer = "wsrpc-uvicorn-pubsub"
    argv = ["fanout", "--quick", "--peers", peer, "--metrics", "--redis-url", redis_url, "--quiet-wait", "0"]
    options = fanout.options_from(run.build_parser().parse_args([*argv, "--modes", "burst", "--events", "50"]))
    assert [(p.name, p.metrics) for p in options.peers] == [(peer, False), (f"{peer}+metrics", True)]
    assert options.topics == ()  # metrics are the server's setting: both publish to chat.lobby

    results = fanout.compare(options)

    assert [s.peer.name for s in results] == [peer, f"{peer}+metrics"]
    assert [s.failures for s in results] == [0, 0]  # lost events, publish errors, dropped connections
    section = fanout.render(results, options, "fanout --metrics", report.environment())
    assert "### Metrics on ÷ off" in section
    (row,) = [r for r in _rows(section, (peer,)) if len(r) == 10 and r[1] == "burst"]
    cpu_off, cpu_on, rate_off, rate_on = (float(cell.replace(",", "")) for cell in (row[2], row[3], row[5], row[6]))
    assert cpu_off >= 0 and cpu_on >= 0, row  # server CPU per delivery (a few clock ticks at this size)
    assert rate_off > 0 and rate_on > 0 and float(row[7]) > 0, row  # deliveries/s off and on, on ÷ off
    assert (row[8], row[9]) == ("0", "0"), row  # lost off, lost on


CALL_PEERS = ("wsrpc-uvicorn", "websockets")


@pytest.mark.timeout(30)
def test_calls_quick_run_answers_every_call(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    argv = ["calls", "--quick", "--peers", ",".join(CALL_PEERS), "--duration", "0.5", "--warmup", "0.2"]
    argv += ["--connections", "10", "--quiet-wait", "0", "--output", str(output)]

    code = run.main(argv)

    text = output.read_text()
    rows = _rows(text, CALL_PEERS)
    assert [row[0] for row in rows] == [*CALL_PEERS] * 3  # sequential, pipelined, concurrent
    assert all(float(row[1].split()[0].replace(",", "")) > 0 for row in rows), rows  # calls/s
    assert [row[8] for row in rows] == ["0"] * len(rows), rows  # errors
    assert "W1 sequential calls" in text and "W3 concurrent calls" in text
    assert code == 0


@pytest.mark.timeout(30)
def test_calls_quick_w3_with_metrics_sets_metrics_on_beside_off() -> None:
    peer = "wsrpc-uvicorn"
    argv = [*run.ALIASES["w3"], "--quick", "--peers", peer, "--metrics", "--duration", "0.5", "--warmup", "0.2"]
    options = calls.options_from(run.build_parser().parse_args([*argv, "--connections", "10", "--quiet-wait", "0"]))
    assert [(p.name, p.metrics) for p in options.peers] == [(peer, False), (f"{peer}+metrics", True)]

    results = calls.compare(options)

    assert [(s.peer.name, s.mode) for s in results] == [(peer, "concurrent"), (f"{peer}+metrics", "concurrent")]
    section = calls.render(results, options, " ".join(argv), report.environment())
    assert "### Metrics on ÷ off" in section
    (row,) = [r for r in _rows(section, (peer,)) if len(r) == 11]
    assert row[1] == "W3 concurrent" and row[5] == "0.95", row
    rate_off, rate_on, cpu_off, cpu_on = (float(cell.replace(",", "")) for cell in (row[2], row[3], row[6], row[7]))
    assert rate_off > 0 and rate_on > 0 and float(row[4]) > 0, row  # calls/s off and on, on ÷ off
    assert cpu_off >= 0 and cpu_on >= 0, row  # server CPU per call
    assert (row[9], row[10]) == ("0", "0"), row  # errors off, errors on


def test_chat_quick_run_delivers_every_message_to_every_member(redis_url: str) -> None:
    rooms, members, messages = 5, 3, 4
    argv = ["chat", "--quick", "--peers", "wsrpc-uvicorn-pubsub", "--redis-url", redis_url, "--quiet-wait", "0"]
    argv += ["--rooms", str(rooms), "--members", str(members), "--messages", str(messages), "--rate", "20"]
    options = chat.options_from(run.build_parser().parse_args(argv))

    results = chat.compare(options)  # two wsrpc processes on Redis, every room on both

    assert [(s.peer.name, s.mode) for s in results] == [
        ("wsrpc-uvicorn-pubsub", "burst"),
        ("wsrpc-uvicorn-pubsub", "steady"),
    ]
    for series in results:
        (result,) = series.runs
        assert result.published == rooms * members * messages, series.mode
        assert result.expected == rooms * members * messages * members  # every member gets its room's every message
        assert (result.delivered, result.duplicates, result.stray) == (result.expected, 0, 0), series.mode
        assert (result.publish_errors, result.dropped_connections, result.incomplete) == (0, 0, None), series.mode
        assert result.publishes_per_s > 0 and result.p99_ms > 0
    rows = _rows(chat.render(results, options, "chat", report.environment()), ("wsrpc-uvicorn-pubsub",))
    assert [row[7] for row in rows] == ["0", "0"], rows  # lost, burst and steady


def test_workload_aliases_expand_to_their_workload() -> None:
    args = run.build_parser().parse_args([*run.ALIASES["w2"], "--quick"])
    assert args.workload == "calls" and args.modes == "pipelined" and args.quick
    assert run.build_parser().parse_args([*run.ALIASES["w6"], "--quick"]).workload == "chat"
