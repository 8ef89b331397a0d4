"""Connecting: the lab simulator, other endpoints, and every error a learner can hit."""
import socket
import subprocess
import time

import pytest
from helpers import free_port
from pyVmomi import vim

import labkit
from labkit import connection, sim
from labkit.errors import (
    CallTimeout,
    EndpointUnreachable,
    InvalidLogin,
    MalformedURL,
    SimulatorNotRunning,
    UntrustedCertificate,
)


def test_connect_starts_or_reuses_the_lab_simulator(lab):
    with labkit.connect() as s:
        assert s.is_lab and s.url == lab.url
        assert s.content.about.apiType == "VirtualCenter"
    assert labkit.sim.worlds.latest() == lab  # the kernel's own world, not another process's


def test_session_logs_out_on_exit(lab):
    watcher = labkit.connect()
    before = len(watcher.content.sessionManager.sessionList)
    with labkit.connect() as s:
        assert s.content.sessionManager.currentSession.userName == sim.DEFAULT_USER
        assert len(watcher.content.sessionManager.sessionList) == before + 1
    assert s.closed
    assert len(watcher.content.sessionManager.sessionList) == before
    with pytest.raises(vim.fault.NotAuthenticated):
        s.content.sessionManager.currentSession
    watcher.close()


def test_password_never_shows(lab):
    with labkit.connect() as s:
        assert lab.state.password not in repr(s)
        assert lab.state.password not in str(vars(s))
        assert "lab simulator" in repr(s)


def test_wrong_password_is_a_real_invalid_login(extra_sim):
    e = extra_sim()
    with pytest.raises(InvalidLogin) as err:
        labkit.connect(e.url, user="alice", password="wrong", insecure=True)
    msg = str(err.value)
    assert msg.startswith(f"{e.url} rejected the user name or password for 'alice'.")
    assert "GOVC_PASSWORD" in msg and "wrong" not in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__
    # and the right one works: the simulator checks the pair, it does not accept any
    with labkit.connect(e.url, user="alice", password="s3cret", insecure=True) as s:
        assert s.content.sessionManager.currentSession.userName == "alice"


def test_missing_login_for_a_url(extra_sim, monkeypatch):
    e = extra_sim()
    with pytest.raises(InvalidLogin, match="No user name or password given"):
        labkit.connect(e.url)


def test_untrusted_certificate_says_how_to_trust_or_opt_out(extra_sim, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    e = extra_sim("-tlscert", str(cert), "-tlskey", str(key))
    with pytest.raises(UntrustedCertificate) as err:
        labkit.connect(e.url, user="alice", password="s3cret")
    msg = str(err.value)
    assert "is not trusted (self-signed certificate)" in msg
    assert "cafile=" in msg and "insecure=True" in msg and "GOVC_INSECURE=1" in msg
    with labkit.connect(e.url, user="alice", password="s3cret", cafile=str(cert)) as s:
        assert not s.is_lab
    with labkit.connect(e.url, user="alice", password="s3cret", insecure=True) as s:
        assert not s.is_lab


def test_the_builtin_simulator_certificate_is_untrusted_too(extra_sim):
    # Verification is on for every endpoint labkit does not run itself, loopback included.
    e = extra_sim()
    with pytest.raises(UntrustedCertificate):
        labkit.connect(e.url, user="alice", password="s3cret")


def test_plain_http_simulator(extra_sim):
    e = extra_sim("-tls=false")
    assert e.url.startswith("http://")
    with labkit.connect(e.url, user="alice", password="s3cret") as s:
        assert s.content.about.apiType == "VirtualCenter"


def test_nothing_listening_on_loopback_means_start_the_simulator():
    port = free_port()
    with pytest.raises(SimulatorNotRunning) as err:
        labkit.connect(f"https://127.0.0.1:{port}/sdk", user="u", password="p")
    elsewhere = connection._running_simulator_url()  # a world another test of this process left running
    if elsewhere is None:
        assert str(err.value) == (f"Nothing answers at https://127.0.0.1:{port}/sdk: the lab simulator is not "
                                  "running there. Fix: labkit sim start")
    else:
        assert str(err.value).startswith(f"Nothing answers at https://127.0.0.1:{port}/sdk; the lab simulator runs "
                                         f"at {elsewhere}.")


def test_a_silent_endpoint_times_out(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(5)
        port = server.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(CallTimeout) as err:
            labkit.connect(f"https://127.0.0.1:{port}", user="u", password="p", timeout=1)
        assert time.monotonic() - t0 < 10
    assert str(err.value).startswith(f"https://127.0.0.1:{port}/sdk did not answer within 1 s.")
    assert "timeout=" in str(err.value)


def test_an_unknown_host_is_unreachable():
    with pytest.raises(EndpointUnreachable, match="cannot be resolved"):
        labkit.connect("https://no-such-vcenter.invalid/sdk", user="u", password="p", timeout=5)


def test_something_that_is_not_vsphere(tmp_path):
    server = subprocess.Popen(["python3", "-m", "http.server", "--bind", "127.0.0.1", "0"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = server.stdout.readline()
        port = int(line.split("port ")[1].split()[0])
        with pytest.raises(EndpointUnreachable, match="not with the vSphere API"):
            labkit.connect(f"http://127.0.0.1:{port}", user="u", password="p", timeout=5)
    finally:
        server.terminate()


def test_malformed_url_is_caught_before_any_network_call():
    with pytest.raises(MalformedURL, match="invalid port"):
        labkit.connect("https://vc:notaport/sdk", user="u", password="p")


def test_govc_environment(extra_sim, monkeypatch):
    e = extra_sim()
    monkeypatch.setenv("GOVC_URL", e.url)
    monkeypatch.setenv("GOVC_USERNAME", "alice")
    monkeypatch.setenv("GOVC_PASSWORD", "s3cret")
    monkeypatch.setenv("GOVC_INSECURE", "1")
    with labkit.connect(env=True) as s:
        assert s.user == "alice" and not s.is_lab
    monkeypatch.delenv("GOVC_URL")
    with pytest.raises(MalformedURL, match="GOVC_URL is not set"):
        labkit.connect(env=True)


def test_current_session(lab):
    s = labkit.connect()
    assert labkit.current() is s
    s.close()
    with pytest.raises(labkit.LabkitError, match="labkit.connect"):
        labkit.current()
