"""The Binder recipe (binder/), proven without Docker.

repo2docker installs binder/apt.txt, then binder/requirements.txt into the image's environment, then
runs binder/postBuild as the notebook user; each server then starts through binder/start. This test
does the same on this machine: as a non-root user (a dedicated one when the test runs as root), in a
fresh virtualenv, from a copy of the project's tracked files, with a clean home. It then executes
lesson 00 through `start`, against the simulator that `start` launched.
"""
import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
USER = "labkit-binder"


def _apt_packages():
    lines = (ROOT / "binder" / "apt.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_apt_txt_names_packages_that_exist():
    names = _apt_packages()
    assert {"golang-go", "golang-github-vmware-govmomi-dev"} <= set(names)
    # one apt-cache for all (it reads the package lists once; a call per package took 12 s): it names each found
    r = subprocess.run(["apt-cache", "show", "--no-all-versions", *names], capture_output=True, text=True)
    found = {line.split(":", 1)[1].strip() for line in r.stdout.splitlines() if line.startswith("Package:")}
    assert r.returncode == 0 and found == set(names), (sorted(set(names) - found), r.stderr)


@pytest.fixture(scope="module")
def binder_user(tmp_path_factory):
    """(run-as prefix, home) for a non-root user with a clean home."""
    if os.geteuid() != 0:
        home = tmp_path_factory.mktemp("binder-home")
        _seed_build_caches(home)
        return [], home
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    home = Path(pwd.getpwnam(USER).pw_dir)
    for leftover in (".cache", ".local", ".jupyter", ".ipython", "go", "vmotion-labs", ".labkit"):
        shutil.rmtree(home / leftover, ignore_errors=True)
    _seed_build_caches(home)
    subprocess.run(["chown", "-R", f"{USER}:{USER}", str(home)], check=True)
    return ["runuser", "-u", USER, "--"], home


def _seed_build_caches(home: Path) -> None:
    """Give the user a copy of this machine's build caches, as a BinderHub's cached image layers would.

    - Go's cache is keyed by the content of every input, so postBuild still compiles and links the simulator
      itself; it only skips recompiling govmomi's unchanged packages (about a minute of both cores).
    - The lab guest of lesson 03b (labkit's qemu cache, keyed by the QEMU and guest kernel it was built for):
      postBuild then finds it ready instead of downloading a kernel and test-booting it (about 18 s).
      Building the guest is proven by `make` and tests/test_realmigration.py. The copy keeps root's accelerator
      probe (KVM or TCG); lesson 00, run here, starts no guest, so that cannot change what this test sees.
    """
    from labkit.realmigration import guest
    from labkit.sim import builder

    found = subprocess.run([builder.go_binary(), "env", "GOCACHE"], capture_output=True, text=True)
    cache = Path(found.stdout.strip()) if found.returncode == 0 else None
    if cache and cache.is_dir():
        with contextlib.suppress(shutil.Error):  # Go may trim an entry while it is copied: a miss, no harm
            shutil.copytree(cache, home / ".cache" / "go-build", dirs_exist_ok=True)
    if guest.cache_root().is_dir():
        shutil.copytree(guest.cache_root(), home / ".cache" / "labkit" / "qemu", dirs_exist_ok=True)


def _as_user(prefix, home, cmd, cwd, env_extra=None, timeout=900):
    env = {"HOME": str(home), "PATH": f"{cwd}/.binder-venv/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "USER": USER if prefix else os.environ.get("USER", ""), **(env_extra or {})}
    return subprocess.run([*prefix, "env", "-i", *(f"{k}={v}" for k, v in env.items()), *cmd], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_postbuild_and_start_serve_a_lesson_as_a_non_root_user(binder_user):
    prefix, home = binder_user
    repo = Path(tempfile.mkdtemp(prefix="labkit-binder-"))  # not under pytest's root-only folder
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    if prefix:
        subprocess.run(["chown", "-R", f"{USER}:{USER}", str(repo)], check=True)
    try:
        # repo2docker's steps: a fresh environment with requirements.txt, then postBuild. repo2docker installs
        # the file with pip; uv reads the same file (-e ., -c ../constraints.txt) and installs the same pinned
        # set in a fraction of pip's minute, which keeps make test within its ten minutes.
        python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or sys.executable
        r = _as_user(prefix, home, [python, "-m", "venv", ".binder-venv"], repo)
        assert r.returncode == 0, r.stderr
        uv = repo / ".uv"
        from uv import find_uv_bin  # installed by make (constraints.txt)

        shutil.copy2(find_uv_bin(), uv)
        if prefix:
            subprocess.run(["chown", f"{USER}:{USER}", str(uv)], check=True)
        r = _as_user(prefix, home, [str(uv), "pip", "install", "-q", "--system-certs", "--python", ".binder-venv/bin/python",
                                    "-r", "binder/requirements.txt"], repo)
        assert r.returncode == 0, r.stderr[-3000:]
        r = _as_user(prefix, home, ["binder/postBuild"], repo)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert list((home / ".cache" / "labkit" / "sim").glob("labsim-*")), "postBuild built no simulator"

        # each server: start releases the lessons into the user's workspace and points JupyterLab there, then
        # execs the command; run lesson 00 (the instructor's source, so that its checks have answers) through it
        out = repo / "executed.ipynb"
        r = _as_user(prefix, home, ["binder/start", "bash", "-c",
                                    "jupyter server --show-config 2>/dev/null | grep -i root_dir; "
                                    "jupyter execute --output executed "
                                    "notebooks/00-getting-started.ipynb && mv notebooks/executed.ipynb ."],
                     repo, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
        assert f"added 00-getting-started.ipynb" in r.stdout
        workspace = home / "vmotion-labs"
        assert "BEGIN SOLUTION" not in (workspace / "00-getting-started.ipynb").read_text()
        config = json.loads((home / ".labkit" / "jupyter" / "jupyter_server_config.json").read_text())
        assert config == {"ServerApp": {"root_dir": str(workspace)}}
        book = json.loads(out.read_text())
        code = [c for c in book["cells"] if c["cell_type"] == "code"]
        outputs = [o for c in code for o in c["outputs"]]
        unexpected = [o for c in code for o in c["outputs"] if o["output_type"] == "error"
                      and "raises-exception" not in c["metadata"].get("tags", [])]
        assert outputs and not unexpected, unexpected
        text = json.dumps(outputs)
        assert "esx-01" in text and "correct" in text    # it read the lab world and checked its exercises
        # a second start keeps the workspace as it is
        r = _as_user(prefix, home, ["binder/start", "true"], repo, timeout=120)
        assert r.returncode == 0 and "up to date with the course" in r.stdout, r.stdout + r.stderr
    finally:
        shutil.rmtree(repo / "notebooks" / ".ipynb_checkpoints", ignore_errors=True)
    kernels = home / ".cache" / "labkit" / "run" / "kernels"
    assert not kernels.exists() or list(kernels.iterdir()) == [], "a lab world outlived the lesson's kernel"
    shutil.rmtree(repo, ignore_errors=True)
