"""Hostile programs: each ends in its typed outcome within the wall limit + 1 s, leaves no
process behind, and the pool then serves a normal program.

Two modes: with namespaces (the default on a Linux host that allows them) and the fallback
without any (``namespaces=False``: private uids and limits only), where some attacks that the
namespaces stop are expected to get through; those expectations document the fallback.
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from sandbox import Outcome, SandboxOptions, SandboxPool
from tests.test_sandbox_helpers import descendants, eventually, process_table, with_uid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WALL = 0.5
# What a kill may take beyond the wall limit on a loaded machine (2 busy cores, other suites).
SLACK = 3.0
OK, ERROR, TIMEOUT = Outcome.OK, Outcome.ERROR, Outcome.TIMEOUT
MEMORY, KILLED = Outcome.MEMORY, Outcome.KILLED
PREFIX = "import os as _os\n_os.write(1, b'%d\\n' % _os.getuid())\n"

# name: (code, outcome(s) with namespaces, outcome(s) without, expected error substring)
HOSTILE = {
    "busy_loop": ("while True: pass", TIMEOUT, TIMEOUT, "wall time"),
    "sleep": ("import time; time.sleep(100)", TIMEOUT, TIMEOUT, "wall time"),
    "fork_bomb": ("import os\nwhile True:\n    os.fork()", ERROR, ERROR, "BlockingIOError"),
    "fork_bomb_that_survives": (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        TIMEOUT,
        TIMEOUT,
        "wall time",
    ),
    "huge_allocation": ("bytearray(10**11)", MEMORY, MEMORY, "MemoryError"),
    "growing_list": ("x = []\nwhile True:\n    x.append(bytes(10**8))", MEMORY, MEMORY, "Mem"),
    "write_project_file": (f"open({ROOT!r} + '/pwned.txt', 'w')", ERROR, ERROR, "Error"),
    "delete_project_file": (
        f"import os; os.remove({ROOT!r} + '/pyproject.toml')",
        ERROR,
        ERROR,
        "",
    ),
    "write_tmp": ("open('/tmp/sandbox-hostile-test', 'w').write('x')", ERROR, OK, ""),
    "kill_parent": ("import os; os.kill(os.getppid(), 9)", OK, ERROR, ""),
    "kill_process_group": ("import os; os.killpg(os.getpgid(0), 9)", ERROR, KILLED, ""),
    # Alone in its pid namespace, kill(-1) finds no one; without one it finds only processes
    # it may not signal, which kill(2) reports as success.
    "kill_everything": ("import os; os.kill(-1, 9)", ERROR, OK, ""),
    "dodge_signals": (
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGTERM, lambda *a: None)\nwhile True: pass",
        TIMEOUT,
        TIMEOUT,
        "",
    ),
    # 100 MB go through the pipe in about the wall limit: finishing or not, the output is cut.
    "print_100_mb": ("import sys\nsys.stdout.write('x' * 10**8)", (OK, TIMEOUT), (OK, TIMEOUT), ""),
    "input": ("input()", ERROR, ERROR, "EOFError"),
    "recursion": ("def f(n): return f(n + 1)\nf(0)", ERROR, ERROR, "RecursionError"),
    "segfault": ("import ctypes; ctypes.string_at(0)", KILLED, KILLED, "SIGSEGV"),
    "sys_exit": ("import sys; sys.exit(3)", ERROR, ERROR, "SystemExit: 3"),
    "os_exit": ("import os; os._exit(1)", ERROR, ERROR, "exit status 1"),
    "endless_threads": (
        "import threading, time\nfor _ in range(3):\n"
        "    threading.Thread(target=time.sleep, args=(100,)).start()",
        OK,
        OK,
        "",
    ),
    "subprocess": (
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'while True: pass'])",
        TIMEOUT,
        (TIMEOUT, ERROR),  # a private uid may not run a Python installed under /root
        "",
    ),
    # The minimal view holds Python and nothing else to run.
    "run_a_shell": ("import subprocess; subprocess.run(['sh', '-c', 'true'])", ERROR, OK, ""),
    "close_result_channel": ("import os; os.close(3)", ERROR, ERROR, "exit status 1"),
    "garbage_on_result_channel": (
        "import os, time; os.write(3, b'\\xff' * 64); time.sleep(100)",
        KILLED,
        KILLED,
        "protocol",
    ),
    "become_root": ("import os; os.setuid(0)", ERROR, ERROR, "PermissionError"),
    "raise_limits": (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (-1, -1))",
        ERROR,
        ERROR,
        "not allowed",
    ),
    "huge_file": ("open('big', 'wb').write(b'x' * (20 << 20))", ERROR, ERROR, "File too large"),
    "read_trainer_environment": (
        f"print(open('/proc/{os.getpid()}/environ').read())",
        ERROR,
        ERROR,
        "Error",
    ),
    "list_other_samples": ("import os; print(os.listdir('..'))", ERROR, ERROR, "Permission"),
}


def _describe(pids: set[int]) -> str:
    table = process_table()
    return "\n".join(f"{pid} {table.get(pid)} {_comm(pid)}" for pid in sorted(pids))


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


def _settle() -> int:
    """Process count below this test once it stops changing (spares refilled)."""
    previous = -1
    for _ in range(100):
        count = len(descendants())
        if count == previous:
            return count
        previous = count
        time.sleep(0.3)
    raise AssertionError("the sandbox's processes never settled")


@pytest.fixture(scope="module")
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture(
    scope="module",
    params=["namespaces", pytest.param("fallback", marks=pytest.mark.slow)],
)
def hostile_pool(request):
    fallback = request.param == "fallback"
    config = SandboxOptions(
        workers=2,
        wall_time_s=WALL,
        cpu_time_s=WALL,
        memory_mb=512,
        disk_mb=16,
        max_output_bytes=4096,
        namespaces=not fallback,
        # Without a mount namespace a private uid cannot read a Python installed under /root
        # (as here): preload what the hostile programs import.
        preload=SandboxOptions.preload + (",threading,subprocess,ctypes,resource" * fallback),
    )
    with SandboxPool(config) as pool:
        assert [r.ok for r in pool.run_many(["pass", "import sympy"])] == [True, True]
        yield request.param, pool, _settle()


@pytest.mark.slow  # a wall-clock bound: the fast subset stays load-proof
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_is_contained(name, hostile_pool, listener):
    mode, pool, settled = hostile_pool
    code, with_namespaces, without, error = HOSTILE[name]
    start = time.monotonic()
    result = pool.run(PREFIX + code)
    elapsed = time.monotonic() - start

    expected = with_namespaces if mode == "namespaces" else without
    assert result.outcome in (expected if isinstance(expected, tuple) else (expected,)), result
    assert error in (result.error or ""), result
    assert elapsed < WALL + SLACK
    uid = int(result.output.split("\n", 1)[0])
    assert eventually(lambda: not with_uid(uid)), f"processes of uid {uid} survived"
    served = pool.run("print(6 * 7)")
    assert (served.outcome, served.output) == (OK, "42\n")
    assert eventually(lambda: len(descendants()) == settled), _describe(descendants())
    assert not os.path.exists(os.path.join(ROOT, "pwned.txt"))
    assert os.path.exists(os.path.join(ROOT, "pyproject.toml"))
    if name == "print_100_mb":
        assert result.truncated and len(result.output) < 4096 + 100
    if os.path.exists("/tmp/sandbox-hostile-test"):
        os.remove("/tmp/sandbox-hostile-test")


def test_network_is_unreachable_even_on_loopback(hostile_pool, listener):
    mode, pool, _ = hostile_pool
    port = listener.getsockname()[1]
    code = f"import socket\nsocket.socket().connect(('127.0.0.1', {port}))"
    result = pool.run(code)
    if mode == "namespaces":
        # The downed loopback, or before it the program's Landlock domain (no TCP at all).
        refused = ("unreachable", "Permission denied")
        assert result.outcome is ERROR and any(r in result.error for r in refused), result
        with pytest.raises(BlockingIOError):
            listener.accept()
    else:
        assert result.outcome is OK, result
        listener.accept()[0].close()


@pytest.mark.slow
def test_cpu_limit_stops_a_multithreaded_burn_before_the_wall_limit():
    config = SandboxOptions(workers=1, wall_time_s=20, cpu_time_s=1)
    code = (
        "import signal, threading\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
        "def spin():\n    while True: pass\n"
        "for _ in range(3): threading.Thread(target=spin, daemon=True).start()\nspin()"
    )
    with SandboxPool(config) as pool:
        start = time.monotonic()
        result = pool.run(code)
        assert result.outcome is TIMEOUT and "CPU" in result.error, result
        assert time.monotonic() - start < 10


@pytest.mark.slow  # a wall-clock bound: the fast subset stays load-proof
def test_a_session_thread_that_prints_forever_does_not_stall_the_server(hostile_pool):
    _, pool, _ = hostile_pool
    with pool.session() as session:
        start = time.monotonic()
        code = (
            "import os, threading\n"
            "def spam():\n    while True: os.write(1, b'x' * 4096)\n"
            "print('started', flush=True)\nthreading.Thread(target=spam, daemon=True).start()"
        )
        first = session.run(code)
        assert first.outcome is OK and first.output.startswith("started"), first
        assert session.run("print(6 * 7)").outcome is OK
        assert time.monotonic() - start < 2 * WALL + SLACK
    assert pool.run("print(1)").output == "1\n"
