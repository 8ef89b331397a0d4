"""The course's JupyterLab: its command line, its environment, its settings, and how to recognise it running.

``labkit lab`` starts JupyterLab with :func:`command` and :func:`environment`;
Binder and JupyterHub (``binder/start``) use the same settings folder
(:func:`config_dir`). While it runs, ``labkit lab`` leaves a marker in labkit's
state folder (:func:`record`), so that ``labkit doctor`` can tell the lab
apart from another program on its port (:func:`running`, :func:`jupyter_version`).

Run as ``python -m labkit.labserver``, it prints the settings folder (writing
it first), for shells that set ``JUPYTER_CONFIG_PATH``.
"""
from __future__ import annotations

import dataclasses
import http.client
import json
import os
import shlex
import shutil
import sys
import urllib.request
from pathlib import Path

#: Defaults for JupyterLab's front-end settings (``labconfig/default_setting_overrides.json``). A learner who
#: wants the news can still turn them on in Settings: user settings win over these.
SETTINGS_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",       # no "Would you like to get notified about official Jupyter news?" pop-up
        "checkForUpdates": False,   # the course pins its JupyterLab; an update notice is no use to a learner
    },
}
#: Server settings (``jupyter_server_config.json``).
SERVER_CONFIG = {
    # no request to the Jupyter news feed
    "LabApp": {"news_url": None},
    # Kernels get CurveZMQ keys from the server when their kernelspec supports it (ipykernel does): their
    # loopback TCP sockets are encrypted, and ipykernel no longer warns "Kernel is running over TCP without
    # encryption" on every kernel start.
    "KernelManager": {"transport_encryption": "auto"},
}
MARKER = "lab-{port}.json"


def config_dir() -> Path:
    """The Jupyter config folder of the course, written if missing or out of date; returns it.

    It is meant to come first on ``JUPYTER_CONFIG_PATH``. It lives in the Python
    environment (``<prefix>/etc/labkit/jupyter``) when labkit may write there, as
    in the course's virtualenv and Binder's image, else in labkit's cache.
    Nothing is written into the user's own Jupyter folders.
    """
    from .sim import paths

    files = {Path("jupyter_server_config.json"): SERVER_CONFIG,
             Path("labconfig") / "default_setting_overrides.json": SETTINGS_OVERRIDES}
    last = None
    for folder in (Path(sys.prefix) / "etc" / "labkit" / "jupyter", paths.cache_dir() / "jupyter"):
        try:
            for name, content in files.items():
                text = json.dumps(content, indent=1) + "\n"
                path = folder / name
                if not path.is_file() or path.read_text() != text:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{os.getpid()}.tmp")
                    tmp.write_text(text)
                    tmp.replace(path)
            return folder
        except OSError as e:
            last = e
    raise OSError(f"labkit could not write JupyterLab's settings folder: {last}")


def command(notebook_dir, ip: str = "127.0.0.1", port: int = 8888, default_url: str | None = None,
            no_browser: bool = False) -> list[str]:
    """The command line that starts JupyterLab on ``notebook_dir``, at ``ip:port``.

    ``default_url`` is the page ``/`` leads to (e.g. ``/lab/tree/00-getting-started.ipynb``). JupyterLab
    does not move to another port when ``port`` is taken (``port_retries=0``): the URL that labkit prints
    stays the one it serves. Its terminals run ``$SHELL`` (not as a login shell), so they keep the PATH of
    :func:`environment`. The token is not on the command line, where ``ps`` shows it: see :func:`environment`.
    The course's settings (no news, encrypted kernel sockets) come from :func:`config_dir`, not from here,
    so that Binder's server gets the same.
    """
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebook_dir}", f"--ServerApp.ip={ip}",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if no_browser:
        cmd.append("--no-browser")
    if os.geteuid() == 0:  # containers and CI machines often run as root
        cmd.append("--allow-root")
    if default_url:
        cmd.append(f"--LabApp.default_url={default_url}")
    # JupyterLab's terminals run the learner's shell as it is, with the environment labkit gives (PATH):
    # unless told, jupyter_server_terminals runs a login shell whenever its output is not a terminal, and
    # /etc/profile then resets PATH
    shell = os.environ.get("SHELL") or shutil.which("sh") or "/bin/sh"
    cmd.append(f"--ServerApp.terminado_settings=shell_command={shlex.quote(shell)}")
    return cmd


def environment(token: str, base: dict | None = None) -> dict[str, str]:
    """The environment for JupyterLab, from ``base`` (default: this process's environment).

    * ``JUPYTER_TOKEN``: the token;
    * ``PATH`` starts with the folder of this Python (the virtualenv's ``bin``): JupyterLab's terminals
      inherit it, so ``labkit`` and ``python`` there are the course's, even when ``labkit lab`` was started
      as ``.venv/bin/labkit`` from a shell whose PATH lacks the virtualenv;
    * ``JUPYTER_CONFIG_PATH`` starts with :func:`config_dir` (written if needed): the course's settings.
    """
    env = dict(os.environ if base is None else base)
    env["PATH"] = _first(os.path.dirname(sys.executable), env.get("PATH", os.defpath))
    try:
        env["JUPYTER_CONFIG_PATH"] = _first(str(config_dir()), env.get("JUPYTER_CONFIG_PATH", ""))
    except OSError as e:  # the lab still works, with JupyterLab's own defaults
        print(f"labkit: {e}", file=sys.stderr)
    env["JUPYTER_TOKEN"] = token
    return env


def _first(folder: str, search_path: str) -> str:
    """``search_path`` (os.pathsep-separated) with ``folder`` first, and only there."""
    rest = [p for p in search_path.split(os.pathsep) if p and p != folder]
    return os.pathsep.join([folder, *rest])


@dataclasses.dataclass(frozen=True)
class RunningLab:
    """A ``labkit lab`` found running: its own pid, its JupyterLab's pid, where it serves."""

    pid: int
    server_pid: int
    port: int
    url: str


def _marker(port: int) -> Path:
    from .sim import paths

    return paths.state_dir() / MARKER.format(port=port)


def record(port: int, server_pid: int, ip: str = "127.0.0.1", page: str = "/lab") -> Path | None:
    """Leave the marker of a running lab: this process (``labkit lab``), its JupyterLab, the port and page.

    Best effort: the lab runs without it (``labkit doctor`` then sees only a Jupyter server on the port).
    """
    host = "127.0.0.1" if ip in ("0.0.0.0", "", "::") else ip
    path = _marker(port)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "server_pid": server_pid, "port": port,
                                   "url": f"http://{host}:{port}{page}"}))
        tmp.replace(path)
    except OSError:
        return None
    return path


def forget(port: int) -> None:
    """Remove this process's marker for ``port`` (another lab's is left alone)."""
    path = _marker(port)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running(port: int) -> RunningLab | None:
    """The ``labkit lab`` serving ``port``, by its marker checked against /proc; None if there is none.

    The marker counts only while its JupyterLab process is alive, is a Jupyter program, and is still the
    child of the recorded ``labkit lab``: a stale marker, or pids reused since, do not pass.
    """
    try:
        m = json.loads(_marker(port).read_text())
        lab = RunningLab(int(m["pid"]), int(m["server_pid"]), int(m["port"]), str(m["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if lab.port != port or _parent(lab.server_pid) != lab.pid:
        return None
    try:
        cmdline = Path(f"/proc/{lab.server_pid}/cmdline").read_bytes()
    except OSError:
        return None
    return lab if b"jupyter" in cmdline else None


def _parent(pid: int) -> int | None:
    """The parent pid of a live process (not a zombie), from /proc; None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) ": state, ppid, ...
    return None if fields[0] in ("Z", "X") else int(fields[1])


def jupyter_version(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> str | None:
    """The version a Jupyter server on ``host:port`` gives at ``/api`` (no token needed); None if none answers."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never through an http_proxy
    try:
        with direct.open(f"http://{host}:{port}/api", timeout=timeout) as r:
            answer = json.loads(r.read(4096))
    except (OSError, http.client.HTTPException, ValueError):   # refused, timed out, not HTTP, not JSON
        return None
    version = answer.get("version") if isinstance(answer, dict) else None
    return str(version) if version else None


if __name__ == "__main__":
    print(config_dir())
