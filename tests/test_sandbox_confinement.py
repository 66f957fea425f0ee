"""What a sandboxed program can see and whom it can reach: nothing but Python, and no one.

Each file the test reads exists on the host (the test checks first), so a missing view would
fail the test rather than pass it by accident; the channel test runs once without
namespaces too, where the same two programs do exchange bytes.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest

from sandbox import Outcome, SandboxOptions, SandboxPool

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


# A listens on an abstract unix socket, creates a System V shared memory segment, drops a
# world-readable file in a world-writable working directory and in /dev/shm; B, running at
# the same time, tries each of them.
LISTENER = """
import ctypes, os, socket, time
shm = ctypes.CDLL(None).shmget({key}, 4096, 0o1666)
os.chmod(".", 0o777)
with open("drop", "w") as handle:
    handle.write("A")
os.chmod("drop", 0o666)
try:
    open("/dev/shm/{name}", "w").write("A")
except OSError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(b"\\0{name}")  # last: once B can send, everything else is in place
s.settimeout(0.05)
got = []
deadline = time.time() + 2.0
while time.time() < deadline:
    try:
        got.append(s.recv(8))
    except OSError:
        pass
print("received", len(got), "shm", shm >= 0)
"""
TALKER = """
import ctypes, os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sent = 0
deadline = time.time() + 1.5
while time.time() < deadline and not sent:
    try:
        s.sendto(b"B", b"\\0{name}")
        sent = 1
    except OSError:
        time.sleep(0.02)
time.sleep(0.5)  # without a socket to tell it, give A the time to set everything up
found = 0
for n in range(200):
    try:
        found += open(os.path.join(os.path.dirname(os.getcwd()), str(n), "drop")).read() == "A"
    except OSError:
        pass
try:
    found += open("/dev/shm/{name}").read() == "A"
except OSError:
    pass
shm = ctypes.CDLL(None).shmget({key}, 4096, 0o666)
print("sent", sent, "found", found, "shm", shm >= 0)
"""


@pytest.mark.parametrize("namespaces", [True, False])
def test_two_concurrent_programs_cannot_exchange_a_byte(namespaces):
    name = f"thinkcode-channel-{uuid.uuid4().hex}"
    key = int.from_bytes(os.urandom(3), "big") + 1
    config = SandboxOptions(
        workers=2,
        namespaces=namespaces,
        # Without the view a private uid cannot read a Python installed under /root.
        preload=SandboxOptions.preload + ",ctypes,socket,time",
    )
    with SandboxPool(config) as pool:
        listener, talker = pool.run_many(
            [LISTENER.format(name=name, key=key), TALKER.format(name=name, key=key)]
        )
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"/dev/shm/{name}")
    assert listener.ok and talker.ok, (listener, talker)
    if namespaces:
        assert listener.output == "received 0 shm False\n", listener
        assert talker.output == "sent 0 found 0 shm False\n", talker
    else:  # the fallback: every channel is open, which shows the programs would use them
        assert listener.output == "received 1 shm True\n", listener
        assert talker.output == "sent 1 found 2 shm True\n", talker
