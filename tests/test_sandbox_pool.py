"""What the pool does for well-behaved code: results, sessions, isolation, limits on output."""

from __future__ import annotations

import os

import pytest

from sandbox import Outcome, SandboxOptions, SandboxPool
from tests.test_sandbox_helpers import eventually


@pytest.fixture(scope="module")
def pool():
    os.environ["SANDBOX_TEST_SECRET"] = "hunter2"
    with SandboxPool(SandboxOptions(workers=2, wall_time_s=1.5, max_output_bytes=200)) as pool:
        yield pool
    del os.environ["SANDBOX_TEST_SECRET"]


def test_program_output_and_result(pool):
    result = pool.run("print(sum(range(10)))")
    assert (result.outcome, result.output, result.error) == (Outcome.OK, "45\n", None)


def test_error_result_carries_the_last_traceback_line(pool):
    result = pool.run("x = {}\nx['missing']")
    assert result.outcome is Outcome.ERROR and result.error == "KeyError: 'missing'"
    assert "x['missing']" in result.output


def test_run_many_keeps_the_order_given(pool):
    codes = [f"import time; time.sleep({0.05 * (5 - i)}); print({i})" for i in range(6)]
    assert [r.output for r in pool.run_many(codes)] == [f"{i}\n" for i in range(6)]


def test_output_is_captured_at_the_descriptor_level(pool):
    code = (
        "import os, sys, ctypes\nprint('py')\nsys.stdout.flush()\nos.write(1, b'fd1\\n')\n"
        "os.write(2, b'fd2\\n')\nlibc = ctypes.CDLL(None)\nlibc.puts(b'c')\nlibc.fflush(None)"
    )
    assert pool.run(code).output == "py\nfd1\nfd2\nc\n"


def test_long_output_keeps_head_and_tail(pool):
    result = pool.run("for i in range(1000): print(i)")
    assert result.truncated and result.ok
    assert result.output.startswith("0\n1\n2\n") and result.output.endswith("998\n999\n")
    assert "bytes of output omitted" in result.output


def test_each_program_gets_a_fresh_process(pool):
    pool.run("import builtins, math\nbuiltins.print = None\nmath.pi = 3")
    assert pool.run("import math; print(math.pi)").output == "3.141592653589793\n"


def test_environment_is_scrubbed_and_stdin_is_empty(pool):
    result = pool.run("import os; print('SANDBOX_TEST_SECRET' in os.environ, 'PATH' in os.environ)")
    assert result.output == "False True\n"
    assert pool.run("input()").error == "EOFError: EOF when reading a line"


def test_working_directory_is_private_and_removed(pool):
    first = pool.run("import os, tempfile\nopen('f', 'w').write('x')\nprint(os.path.abspath('f'))")
    path = first.output.strip()
    assert first.ok and os.path.basename(path) == "f"
    peek = f"open({path!r})"
    assert pool.run(peek).error.startswith(("PermissionError", "FileNotFoundError"))
    assert eventually(lambda: pool.run(peek).error.startswith("FileNotFoundError"))
    temp = pool.run("import tempfile, os\nprint(tempfile.mkdtemp().startswith(os.getcwd()))")
    assert temp.output == "True\n"


@pytest.mark.slow  # a wall-clock bound: the fast subset stays load-proof
def test_heavy_modules_are_preloaded_for_programs_that_name_them(pool):
    pool.run("import sympy")  # starts the heavy template
    result = pool.run(
        "import time, sys\nt = time.time()\nimport sympy, numpy\nprint(time.time() - t)"
    )
    assert result.ok and float(result.output) < 0.05


def test_session_keeps_globals_and_shows_the_last_expression(pool):
    with pool.session() as session:
        assert session.run("from sympy import symbols, solve\nx = symbols('x')").output == ""
        assert session.run("solve(x**2 - 4, x)").output == "[-2, 2]\n"
        assert session.run("y = 5\nprint('y set')\ny * 2").output == "y set\n10\n"
        assert session.run("y;").output == ""
        assert session.run("import sys; sys.exit(1)").error == "SystemExit: 1"
        assert session.run("y").output == "5\n"


def test_killed_session_says_so_and_restarts_empty(pool):
    with pool.session() as session:
        session.run("a = 1")
        timed_out = session.run("while True: pass")
        assert timed_out.outcome is Outcome.TIMEOUT and not timed_out.restarted
        after = session.run("a")
        assert after.restarted and after.error == "NameError: name 'a' is not defined"
        assert session.run("a = 2\na").output == "2\n"
        assert not session.run("a").restarted


def test_closed_session_refuses_blocks(pool):
    session = pool.session()
    session.run("pass")
    session.close()
    session.close()
    with pytest.raises(RuntimeError):
        session.run("pass")


def test_blocks_of_different_sessions_run_in_parallel_and_in_order(pool):
    first, second = pool.session(), pool.session()
    sleep = "import time; start = time.monotonic(); time.sleep(1); end = time.monotonic(); "
    results = pool.run_blocks(
        [
            (first, sleep + "v = 1"),
            (second, sleep + "v = 2"),
            (first, "v + 10"),
            (second, "v + 20"),
        ]
    )
    assert [r.output for r in results] == ["", "", "11\n", "22\n"]
    # Parallel: each sleep began before the other ended (the monotonic clock is the machine's,
    # so this holds however loaded the machine is, unlike a bound on the elapsed time).
    spans = [
        [float(t) for t in r.output.split()]
        for r in pool.run_blocks([(first, "print(start, end)"), (second, "print(start, end)")])
    ]
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], spans
    first.close()
    second.close()


def test_reuse_mode_shares_processes_but_not_globals():
    config = SandboxOptions(workers=1, isolate=False, wall_time_s=1)
    with SandboxPool(config) as pool:
        first, second = pool.run_many(
            ["x = 1\nimport math\nmath.marker = 7", "print('x' in dir())"]
        )
        assert first.ok and second.output == "False\n"
        assert pool.run("import math; print(math.marker)").output == "7\n"
        assert pool.run("while True: pass").outcome is Outcome.TIMEOUT
        assert pool.run("import math; print(hasattr(math, 'marker'))").output == "False\n"


def test_all_guarantees_hold_on_a_root_linux_host(pool):
    guarantees = pool.guarantees
    assert os.geteuid() == 0, "this host runs tests as root; the guarantees below assume it"
    for name in (
        "pid_namespace",
        "network_namespace",
        "read_only_filesystem",
        "private_uid",
        "minimal_view",
        "own_landlock_domain",
        "no_shared_ipc",
    ):
        assert guarantees[name], guarantees
    assert guarantees["warnings"] == []
