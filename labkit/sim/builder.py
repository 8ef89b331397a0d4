"""Compile the lab simulator from its Go source, once per source version.

The launcher (``launcher/*.go``) is built against the govmomi simulator
library that Debian and Ubuntu ship as ``golang-github-vmware-govmomi-dev``,
offline, in GOPATH mode. The binary is cached under a hash of the source and
of the Go version, so an unchanged source is never rebuilt.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import BuildError, SimulatorNotBuilt
from . import paths

APT_FIX = "sudo apt-get install golang-go golang-github-vmware-govmomi-dev"
GOVMOMI_PACKAGE = "github.com/vmware/govmomi/simulator"


def gopath() -> Path:
    return Path(os.environ.get("LABKIT_GOPATH", "/usr/share/gocode"))


def go_binary() -> str:
    go = shutil.which("go") or ("/usr/lib/go/bin/go" if Path("/usr/lib/go/bin/go").exists() else None)
    if go is None:
        raise BuildError("The Go toolchain is not installed, so the lab simulator cannot be built.", fix=APT_FIX)
    return go


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GOPATH=str(gopath()), GO111MODULE="off", GOFLAGS="", CGO_ENABLED="0")
    return env


def go_version(go: str) -> str:
    out = subprocess.run([go, "version"], capture_output=True, text=True, env=_go_env(), check=False)
    return out.stdout.strip()


def source_files() -> list[Path]:
    return sorted(paths.launcher_source().glob("*.go"))


def source_hash(go_version_text: str = "") -> str:
    """sha256 over the launcher's file names and contents (and the Go version)."""
    h = hashlib.sha256()
    for f in source_files():
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    h.update(go_version_text.encode())
    return h.hexdigest()[:16]


def _binary_dir() -> Path:
    return paths.cache_dir() / "sim"


def built_binary() -> Path | None:
    """The cached binary for the current source, or None if not built.

    The Go version is part of the key only when Go is installed; without Go a
    binary built earlier for this source still serves.
    """
    d = _binary_dir()
    try:
        key = source_hash(go_version(go_binary()))
        candidate = d / f"labsim-{key}"
        return candidate if candidate.exists() else None
    except BuildError:
        prefix = f"labsim-{source_hash()}"
        marker = d / f"{prefix}.source"
        if marker.exists():
            target = d / marker.read_text().strip()
            return target if target.exists() else None
        return None


def require_binary() -> Path:
    binary = built_binary()
    if binary is None:
        raise SimulatorNotBuilt("The lab simulator is not built yet.")
    return binary


def build(force: bool = False, log=None) -> tuple[Path, bool]:
    """Build the simulator if needed. Returns (binary, built_now)."""
    go = go_binary()
    if not (gopath() / "src" / GOVMOMI_PACKAGE).is_dir():
        raise BuildError(
            f"The govmomi simulator sources are missing from {gopath()}/src/{GOVMOMI_PACKAGE}.", fix=APT_FIX
        )
    key = source_hash(go_version(go))
    d = _binary_dir()
    target = d / f"labsim-{key}"
    if target.exists() and not force:
        return target, False
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".labsim-", dir=d)
    os.close(fd)
    try:
        proc = subprocess.run(
            [go, "build", "-trimpath", "-o", tmp, "."],
            cwd=paths.launcher_source(),
            env=_go_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
            raise BuildError("Building the lab simulator failed:\n" + "\n".join(detail))
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    # Lets a machine without Go find this build by source hash alone.
    marker = d / f"labsim-{source_hash()}.source"
    marker.write_text(target.name + "\n")
    for old in d.glob("labsim-*"):  # builds of earlier sources (a running one keeps its file open)
        if old not in (target, marker):
            old.unlink(missing_ok=True)
    if log:
        log(f"built {target}")
    return target, True
