import subprocess

import pytest

import labkit
from labkit import sim
from labkit.sim import process, worlds


@pytest.fixture(scope="session")
def binary():
    path, _ = sim.build()
    return path


@pytest.fixture
def lab(binary):
    """This test process's lab world of the generated inventory (in the test state folder of the root conftest),
    started if needed and made the one connect() logs in to."""
    return worlds.open(worlds.GENERATED, fresh=False)


@pytest.fixture
def session(lab):
    """A session on the world this test process used last (as a kernel's labkit.connect() gives)."""
    with labkit.connect() as s:
        yield s


@pytest.fixture
def fresh_lab(binary):
    """The generated inventory, pristine (for tests that change it); connect() logs in to it."""
    return worlds.open(worlds.GENERATED, fresh=True)


@pytest.fixture
def private_state(tmp_path, monkeypatch):
    """A state folder of the test's own: a second, independent simulator slot."""
    d = tmp_path / "state"
    monkeypatch.setenv("LABKIT_STATE_DIR", str(d))
    yield d
    sim.stop()


class Extra:
    """A simulator started directly, outside labkit's state: to labkit it is 'some other vCenter'."""

    def __init__(self, binary, *flags):
        self.proc = subprocess.Popen([str(binary), "-l", "127.0.0.1:0", "-username", "alice", "-password", "s3cret",
                                      *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        m = process.ANNOUNCE.search(line)
        assert m, line
        self.url = process._strip_userinfo(m.group("url"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def extra_sim(binary):
    started = []

    def start(*flags):
        e = Extra(binary, *flags)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()
