"""What a sandboxed program can see and whom it can reach: nothing but Python, and no one.

Each file the test reads exists on the host (the test checks first), so a missing view would
fail the test rather than pass it by accident; the channel test runs once without
namespaces too, where the same two programs do exchange bytes.
"""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from sandbox import Outcome, SandboxOptions, SandboxPool
from sandbox.view import installation

ROOT = Path(__file__).resolve().parents[1]
REFUSED = ("FileNotFoundError", "PermissionError")


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(SandboxOptions(workers=2)) as pool:
        guarantees = pool.start()
        assert guarantees["minimal_view"] and guarantees["own_landlock_domain"], guarantees
        yield pool


@pytest.fixture(scope="module")
def host_files(shared_data: Path):
    """Files a program must not read: each exists for the test's own process."""
    name = f"thinkcode-sandbox-{uuid.uuid4().hex}"
    planted = [Path("/tmp") / name, Path("/dev/shm") / name]
    for path in planted:
        path.write_text("secret")
    files = {
        "project file": ROOT / "pyproject.toml",
        "shared data": shared_data / "benchmarks" / "gsm8k" / "test.jsonl",
        "/etc/passwd": Path("/etc/passwd"),
        "home directory": Path.home() / ".bashrc",
        "/tmp": planted[0],
        "/dev/shm": planted[1],
    }
    assert all(path.is_file() for path in files.values()), files
    yield files
    for path in planted:
        path.unlink()


@pytest.mark.parametrize(
    "what", ["project file", "shared data", "/etc/passwd", "home directory", "/tmp", "/dev/shm"]
)
def test_a_host_file_is_absent_or_refused(pool, host_files, what):
    path = host_files[what]
    for code in (
        f"print(open({str(path)!r}).read())",
        f"import os; print(os.listdir({str(path.parent)!r}))",
    ):
        result = pool.run(code)
        assert result.outcome is Outcome.ERROR and result.error.startswith(REFUSED), (code, result)


def test_writing_outside_the_working_directory_is_refused(pool):
    for path in ("/tmp/x", "/dev/shm/x", "/scratch/x", "/x", "/proc/x"):
        result = pool.run(f"open({path!r}, 'w').write('x')")
        assert result.outcome is Outcome.ERROR, (path, result)
        assert result.error.startswith((*REFUSED, "OSError: [Errno 30]")), (path, result)


def test_the_view_leaves_out_an_installation_that_holds_the_project():
    prefix = os.path.realpath(sys.prefix)
    assert prefix in installation(str(ROOT))
    assert prefix not in installation(os.path.join(prefix, "projects", "thinkcode"))


def test_python_and_its_libraries_still_work(pool):
    math_style = (
        "from sympy import Rational, solve, symbols\nimport numpy as np\nimport fractions\n"
        "x = symbols('x')\nroots = solve(x**2 - 5*x + 6, x)\n"
        "print(sum(roots), Rational(3, 4) + Rational(1, 6), fractions.Fraction(1, 3) * 3)\n"
        "print(round(np.linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]]))))\n"
        "import statistics, tempfile, subprocess, sys\n"
        "print(statistics.mean([1, 2, 3]), open(tempfile.mkstemp()[1], 'w').write('ok'))\n"
        "print(subprocess.run([sys.executable, '-c', 'print(7)'], capture_output=True).stdout)\n"
    )
    result = pool.run(math_style)
    assert (result.outcome, result.output) == (Outcome.OK, "5 11/12 1\n5\n2 2\nb'7\\n'\n"), result


# Run by an interpreter from a virtual environment made inside a project folder, the way most
# users install (``python3 -m venv .venv``): its ``bin/python`` is a link into the base
# installation, and the server runs with ``-S``, where ``sys.prefix`` is the base one.
IN_A_VENV = """
import sys
sys.path.insert(0, {root!r})
from sandbox import SandboxOptions, SandboxPool
program = (
    "import subprocess, sys\\n"
    "print(sys.executable)\\n"
    "print(subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True).stdout)\\n"
    "print(open({secret!r}).read())\\n"
)
with SandboxPool(SandboxOptions(workers=1, preload="", preload_heavy="")) as pool:
    result = pool.run(program)
print(repr((result.outcome.value, result.output, result.error)))
"""


def test_the_interpreter_of_a_virtual_environment_runs_in_the_sandbox(tmp_path: Path):
    """``sys.executable`` and a subprocess of it work from a venv's interpreter, and the project
    folder around the venv stays out of the view. The venv is made here, so the case is tested
    whether the suite itself runs in one or not."""
    project = tmp_path / "project"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", project / ".venv"], check=True)
    secret = project / "gold_answers.jsonl"
    secret.write_text("42\n")
    script = IN_A_VENV.format(root=str(ROOT), secret=str(secret))
    done = subprocess.run(
        [project / ".venv" / "bin" / "python", "-c", script],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outcome, output, error = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert outcome == "error" and error.startswith("FileNotFoundError"), (output, error)
    assert output.startswith(f"{project / '.venv' / 'bin' / 'python'}\nb'42\\n'\n"), output


# A creates a System V shared memory segment, drops a world-readable file in its working
# directory (opened to everyone) and in /dev/shm, then listens on an abstract unix socket. B,
# running at the same time and told the exact path of A's file (the worst case), tries each.
LISTENER = """
import ctypes, os, socket, time
shm = ctypes.CDLL(None).shmget({key}, 4096, 0o1666)
try:
    open("/dev/shm/{name}", "w").write("A")
except OSError:
    pass
os.chmod(".", 0o777)
with open("drop.tmp", "w") as handle:
    handle.write("A")
os.chmod("drop.tmp", 0o666)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(b"\\0{name}")
s.settimeout(0.05)
os.rename("drop.tmp", "drop")  # the test waits for this name: everything is in place
got = []
deadline = time.time() + 2.5
while time.time() < deadline:
    try:
        got.append(s.recv(8))
    except OSError:
        pass
print("received", len(got), "shm", shm >= 0)
"""
TALKER = """
import ctypes, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sent = 0
deadline = time.time() + 1.0
while time.time() < deadline and not sent:
    try:
        s.sendto(b"B", b"\\0{name}")
        sent = 1
    except OSError:
        time.sleep(0.02)
found = 0
for path in ({drop!r}, "/dev/shm/{name}"):
    try:
        found += open(path).read() == "A"
    except OSError:
        pass
shm = ctypes.CDLL(None).shmget({key}, 4096, 0o666)
print("sent", sent, "found", found, "shm", shm >= 0)
"""


def _drop_of_the_listener(pool: SandboxPool, in_view: bool) -> str:
    """Where A's file is, as B would name it (found through the server's mount namespace)."""
    scratch = pool.guarantees["scratch"]
    host = f"/proc/{pool.server_pid}/root{scratch}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in os.listdir(host):
            if os.path.exists(os.path.join(host, entry, "drop")):
                return os.path.join("/scratch" if in_view else scratch, entry, "drop")
        time.sleep(0.02)
    raise AssertionError("the listener never dropped its file")


@pytest.mark.parametrize("mode", ["default", "private_network", "no namespaces"])
def test_two_concurrent_programs_cannot_exchange_a_byte(mode):
    name = f"thinkcode-channel-{uuid.uuid4().hex}"
    key = int.from_bytes(os.urandom(3), "big") + 1
    config = SandboxOptions(
        workers=2,
        namespaces=mode != "no namespaces",
        private_network=mode == "private_network",
        # Without the view a private uid cannot read a Python installed under /root.
        preload=SandboxOptions.preload + ",ctypes,socket,time",
    )
    with SandboxPool(config) as pool:
        pool.start()
        results = {}
        thread = threading.Thread(
            target=lambda: results.update(a=pool.run(LISTENER.format(name=name, key=key)))
        )
        thread.start()
        try:
            drop = _drop_of_the_listener(pool, pool.guarantees["minimal_view"])
            talker = pool.run(TALKER.format(name=name, key=key, drop=drop))
        finally:
            thread.join()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"/dev/shm/{name}")
    listener = results["a"]
    assert listener.ok and talker.ok, (listener, talker)
    if mode != "no namespaces":
        assert listener.output == "received 0 shm False\n", listener
        assert talker.output == "sent 0 found 0 shm False\n", talker
    else:  # the fallback: every channel is open, which shows the programs would use them
        assert listener.output == "received 1 shm True\n", listener
        assert talker.output == "sent 1 found 2 shm True\n", talker
