"""In-process units of the sandbox: output capture, message formats, config, execution rules."""

from __future__ import annotations

import pytest

from sandbox import ExecutionResult, Outcome, SandboxOptions, execute
from sandbox.output import OutputBuffer
from sandbox.wire import FrameReader, ProtocolError, RecordReader, encode, record


def test_output_under_the_limit_is_kept_whole():
    buffer = OutputBuffer(16)
    buffer.feed(b"hello ")
    buffer.feed(b"world")
    assert buffer.render() == ("hello world", False)


def test_output_over_the_limit_keeps_head_and_tail():
    buffer = OutputBuffer(10)
    for chunk in (b"abc", b"defgh", b"ijklmnop", b"qrstuvwxyz"):
        buffer.feed(chunk)
    text, truncated = buffer.render()
    assert truncated
    assert text.startswith("abcde") and text.endswith("vwxyz")
    assert "[16 bytes of output omitted]" in text


def test_output_with_invalid_utf8_is_replaced_not_raised():
    buffer = OutputBuffer(64)
    buffer.feed(b"ok \xff\xfe")
    assert buffer.render()[0] == "ok \ufffd\ufffd"


def test_records_survive_arbitrary_chunking():
    stream = record(1, b"first") + record(0) + record(3, "é".encode())
    reader = RecordReader(max_payload=64, tags=4)
    received = []
    for i in range(len(stream)):
        received += reader.feed(stream[i : i + 1])
    assert received == [(1, b"first"), (0, b""), (3, "é".encode())]


@pytest.mark.parametrize("bad", [record(4, b"x"), record(0, b"x" * 65)])
def test_records_with_unknown_tags_or_oversized_are_refused(bad):
    with pytest.raises(ProtocolError):
        RecordReader(max_payload=64, tags=4).feed(bad)


def test_frames_round_trip_and_reject_garbage():
    reader = FrameReader(1 << 10)
    assert reader.feed(encode({"op": "run", "id": 3})) == [{"op": "run", "id": 3}]
    with pytest.raises(ProtocolError):
        FrameReader(1 << 10).feed(b"\x00\x00\x00\x02[]")
    with pytest.raises(ProtocolError):
        FrameReader(4).feed(encode({"too": "big"}))


def test_result_round_trips_through_the_wire():
    result = ExecutionResult(Outcome.TIMEOUT, "partial", "wall time", True, True)
    assert ExecutionResult.from_wire(result.to_wire()) == result
    assert not result.ok and ExecutionResult(Outcome.OK, "").ok


def test_config_validates_and_round_trips():
    config = SandboxOptions(workers=3, wall_time_s=2.5, isolate=False)
    assert SandboxOptions.from_json(config.to_json()) == config
    assert config.worker_count == 3
    assert "sympy" in config.modules(heavy=True) and "sympy" not in config.modules(heavy=False)
    for bad in ({"workers": 0}, {"wall_time_s": 0}, {"memory_mb": 0}, {"max_open_files": 8}):
        with pytest.raises(ValueError):
            SandboxOptions(**bad)


def _run(source, capsys, interactive=True):
    status = execute.run(source, {"__name__": "__main__"}, "<block-1>", interactive)
    out, err = capsys.readouterr()
    return status, out, err


def test_block_shows_printed_text_then_the_last_expression(capsys):
    status, out, _ = _run("x = 6\nprint('x is', x)\nx * 7", capsys)
    assert status == execute.Status("ok") and out == "x is 6\n42\n"


@pytest.mark.parametrize(
    ("source", "shown"),
    [("x = 1", ""), ("None", ""), ("print(1)", "1\n"), ("3;", ""), ("3  ; # hidden", "")],
)
def test_block_without_a_visible_value_prints_only_what_it_prints(source, shown, capsys):
    assert _run(source, capsys)[1] == shown


def test_block_shows_repr_not_str(capsys):
    assert _run("'a' + 'b'", capsys)[1] == "'ab'\n"


def test_program_mode_never_shows_expressions(capsys):
    assert _run("1 + 1", capsys, interactive=False)[1] == ""


def test_error_reports_last_line_and_a_trimmed_traceback(capsys):
    status, out, err = _run("def f():\n    return 1 / 0\nprint('before')\nf()", capsys)
    assert status == execute.Status("error", "ZeroDivisionError: division by zero")
    assert out == "before\n"
    assert "return 1 / 0" in err and "execute.py" not in err
    assert err.strip().endswith("ZeroDivisionError: division by zero")


def test_syntax_error_line(capsys):
    status, _, err = _run("x = (", capsys)
    assert status.kind == "error" and status.error.startswith("SyntaxError:")
    assert "<block-1>" in err


def test_system_exit_ends_a_program_but_not_a_session(capsys):
    assert _run("import sys; sys.exit(0)", capsys, interactive=False)[0].kind == "ok"
    assert _run("import sys; sys.exit(3)", capsys, interactive=False)[0].error == "SystemExit: 3"
    assert _run("import sys; sys.exit(0)", capsys)[0] == execute.Status("error", "SystemExit: 0")


def test_memory_and_cpu_limits_map_to_their_kinds(capsys):
    assert _run("raise MemoryError", capsys)[0].kind == "memory"
    namespace = {"CpuTimeExceeded": execute.CpuTimeExceeded}
    status = execute.run("raise CpuTimeExceeded", namespace, "<p>", False)
    assert status.kind == "timeout"
