"""The pool's life: lazy start, forks, pickling, server deaths, and no process left behind even
when the trainer is interrupted or killed."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import sandbox.pool
from sandbox import Outcome, SandboxOptions, SandboxPool
from tests.test_sandbox_helpers import descendants, eventually

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = SandboxOptions(workers=1, wall_time_s=5, preload="math", preload_heavy="")


def _server(pid: int | None = None) -> int:
    servers = [p for p in descendants(pid) if _comm(p) == "sandbox-server"]
    assert len(servers) == 1, servers
    return servers[0]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _running(pid: int) -> bool:
    """Alive and not a zombie (a dead child stays a zombie until its parent reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pids: set[int]) -> bool:
    return not any(_running(pid) for pid in pids)


def test_a_new_pool_starts_nothing_until_used():
    before = descendants()
    with SandboxPool(FAST) as pool:
        assert descendants() == before
        assert pool.run("print(1)").output == "1\n"
        assert descendants() - before
    assert eventually(lambda: descendants() == before)


def test_close_is_idempotent_and_final():
    pool = SandboxPool(FAST)
    pool.run("pass")
    pool.close()
    pool.close()
    with pytest.raises(RuntimeError):
        pool.run("pass")


def test_a_forked_child_gets_its_own_server_and_the_parent_keeps_its_own():
    with SandboxPool(FAST) as pool:
        assert pool.run("print('parent')").ok
        parent_server = _server()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                result = pool.run("print('child')")
                os.write(write, result.output.encode())
            finally:
                os._exit(0)
        os.close(write)
        assert os.read(read, 100) == b"child\n"
        os.waitpid(pid, 0)
        assert _server() == parent_server
        assert pool.run("print('again')").output == "again\n"


def test_a_pool_pickles_as_its_config():
    with SandboxPool(FAST) as pool:
        pool.run("pass")
        copy = pickle.loads(pickle.dumps(pool))
    with copy:
        assert copy.config == FAST
        assert copy.run("print(2)").output == "2\n"


def test_a_garbage_collected_pool_stops_its_server():
    pool = SandboxPool(FAST)
    pool.run("pass")
    server = _server()
    del pool
    gc.collect()
    assert eventually(lambda: _gone({server}), timeout=10)


def test_a_dead_server_fails_running_work_as_unavailable_and_is_replaced():
    with SandboxPool(FAST) as pool:
        pool.run("pass")
        server = _server()
        scratch = pool.guarantees["scratch"]
        processes = descendants(server) | {server}
        results = []
        worker = threading.Thread(target=lambda: results.append(pool.run("while True: pass")))
        worker.start()
        assert eventually(lambda: len(descendants(server)) >= 2)
        os.kill(server, signal.SIGKILL)
        worker.join(10)
        assert results[0].outcome is Outcome.UNAVAILABLE, results
        assert eventually(lambda: _gone(processes), timeout=10)
        assert eventually(lambda: pool.run("print(3)").output == "3\n", timeout=10)
        assert not os.path.exists(scratch)  # the dead server's, removed by the trainer side


def test_a_server_that_cannot_start_gives_typed_results_and_stops_retrying(monkeypatch):
    monkeypatch.setattr(sandbox.pool, "python_command", lambda *_: [sys.executable, "-c", ""])
    with SandboxPool(FAST) as pool:
        results = [pool.run("print(1)") for _ in range(sandbox.pool.MAX_START_FAILURES + 2)]
    assert {r.outcome for r in results} == {Outcome.UNAVAILABLE}
    assert "repeatedly" in results[-1].error


TRAINER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from sandbox import SandboxOptions, SandboxPool
    pool = SandboxPool(SandboxOptions(workers=2, wall_time_s=60))
    pool.run("pass")
    print("ready", flush=True)
    pool.run_many(["import time, os\\nos.fork()\\ntime.sleep(60)"] * 4)
    """
)


def sigint_masks(pid: int) -> dict[str, bool]:
    """Whether process ``pid`` blocks, ignores and catches SIGINT (its kernel signal masks)."""
    bit, masks = 1 << (signal.SIGINT - 1), {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("SigBlk", "SigIgn", "SigCgt"):
                masks[key] = bool(int(value, 16) & bit)
    return masks


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL, signal.SIGTERM])
def test_no_process_outlives_an_interrupted_or_killed_trainer(tmp_path, stop):
    script = tmp_path / "trainer.py"
    script.write_text(TRAINER.format(root=ROOT))
    trainer = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        # As from an interactive shell: a pytest that a non-interactive shell starts in the
        # background (`cmd &`, as CI scripts and agents do) ignores SIGINT from its first
        # instruction (POSIX), its children inherit that, and Python then installs no
        # KeyboardInterrupt handler in the trainer. The trainer's masks are checked below.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert trainer.stdout.readline() == "ready\n"
        server = _server(trainer.pid)
        # server, template, a spare, two sleepers and their forked children at least
        assert eventually(lambda: len(descendants(server)) >= 6, timeout=10)
        processes = descendants(trainer.pid)
        # A SIGINT the trainer blocks or ignores would fail below as a timeout; say so here.
        assert sigint_masks(trainer.pid) == {"SigBlk": False, "SigIgn": False, "SigCgt": True}
        trainer.send_signal(stop)
        # Exit may wait for the server's own shutdown (up to 10 s, then SIGKILL) and its reader
        # thread (up to 10 s); what must hold is that nothing outlives it.
        trainer.wait(timeout=45)
        assert eventually(lambda: _gone(processes), timeout=10), processes
    finally:
        trainer.kill()
        trainer.wait()
