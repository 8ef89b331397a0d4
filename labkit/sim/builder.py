"""Compile the lab simulator from its Go source, once per source version.

The launcher (``launcher/*.go``) is built against the govmomi simulator
library that Debian and Ubuntu ship as ``golang-github-vmware-govmomi-dev``,
offline, in GOPATH mode. Engine defects the launcher cannot reach are fixed by
the course's own patches (``patches/*.patch``, each saying what it fixes and
why): they are applied with GNU patch to a private copy of Debian's govmomi
sources, which comes first on GOPATH; Debian's tree is never changed. The
binary is cached under a hash of the launcher, the patches and the Go version,
so an unchanged source is never rebuilt.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import BuildError, SimulatorNotBuilt
from . import paths

APT_FIX = "sudo apt-get install golang-go golang-github-vmware-govmomi-dev patch"
GOVMOMI_PACKAGE = "github.com/vmware/govmomi/simulator"
GOVMOMI = "github.com/vmware/govmomi"


def gopath() -> Path:
    return Path(os.environ.get("LABKIT_GOPATH", "/usr/share/gocode"))


def go_binary() -> str:
    go = shutil.which("go") or ("/usr/lib/go/bin/go" if Path("/usr/lib/go/bin/go").exists() else None)
    if go is None:
        raise BuildError("The Go toolchain is not installed, so the lab simulator cannot be built.", fix=APT_FIX)
    return go


def _go_env(overlay: Path | None = None) -> dict[str, str]:
    """Go's environment: GOPATH mode, offline; ``overlay`` (the patched govmomi copy) first on GOPATH."""
    env = dict(os.environ)
    path = f"{overlay}{os.pathsep}{gopath()}" if overlay else str(gopath())
    env.update(GOPATH=path, GO111MODULE="off", GOFLAGS="", CGO_ENABLED="0")
    return env


def go_version(go: str) -> str:
    out = subprocess.run([go, "version"], capture_output=True, text=True, env=_go_env(), check=False)
    return out.stdout.strip()


def source_files() -> list[Path]:
    return sorted(paths.launcher_source().glob("*.go"))


def patch_files() -> list[Path]:
    """The course's patches to the engine, applied in name order."""
    return sorted((paths.launcher_source().parent / "patches").glob("*.patch"))


def source_hash(go_version_text: str = "") -> str:
    """sha256 over the launcher's and the patches' file names and contents (and the Go version)."""
    h = hashlib.sha256()
    for f in source_files():
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    for f in patch_files():
        h.update(b"patches/" + f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    h.update(go_version_text.encode())
    return h.hexdigest()[:16]


def _patched_govmomi(key: str) -> Path | None:
    """A GOPATH folder holding a copy of Debian's govmomi sources with the course's patches applied, made once
    per build key; None when there are no patches. Raises BuildError if a patch does not apply."""
    patches = patch_files()
    if not patches:
        return None
    overlay = _binary_dir() / f"gopath-{key}"
    if (overlay / "src" / GOVMOMI).is_dir():
        return overlay
    patch = shutil.which("patch")
    if patch is None:
        raise BuildError("GNU patch is not installed, so the lab simulator's engine fixes cannot be applied.",
                         fix=APT_FIX)
    tmp = Path(tempfile.mkdtemp(prefix=".gopath-", dir=_binary_dir()))
    try:
        tree = tmp / "src" / GOVMOMI
        shutil.copytree(gopath() / "src" / GOVMOMI, tree, symlinks=True)
        for p in patches:
            proc = subprocess.run([patch, "-p1", "--batch", "--forward", "--silent", "-d", str(tree), "-i", str(p)],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                detail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
                raise BuildError(f"The engine patch {p.name} does not apply to this govmomi:\n" + "\n".join(detail),
                                 fix="the patch was written for Debian's golang-github-vmware-govmomi-dev 0.24.2")
        os.replace(tmp, overlay)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return overlay


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
    paths.make(d, "LABKIT_CACHE_DIR")
    overlay = _patched_govmomi(key)
    fd, tmp = tempfile.mkstemp(prefix=".labsim-", dir=d)
    os.close(fd)
    try:
        proc = subprocess.run(
            [go, "build", "-trimpath", "-o", tmp, "."],
            cwd=paths.launcher_source(),
            env=_go_env(overlay),
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
    _prune(d, target)
    if log:
        log(f"built {target}")
    return target, True


#: builds kept in the cache: another checkout of the course on this machine (another clone, another branch)
#: may use one of the newest, and deleting it would leave that checkout's next world "not built"
KEEP_BUILDS = 4


def _prune(d: Path, current: Path) -> None:
    """Delete all but the KEEP_BUILDS newest builds (``current`` always stays), the patched sources of the builds
    deleted, and markers whose build is gone. A simulator running from a deleted build keeps its open file."""
    builds = sorted((p for p in d.glob("labsim-*") if p.suffix != ".source"),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    kept = {current, *builds[:KEEP_BUILDS]}
    for p in builds:
        if p not in kept:
            p.unlink(missing_ok=True)
    keys = {p.name.removeprefix("labsim-") for p in kept}
    for g in d.glob("gopath-*"):
        if g.name.removeprefix("gopath-") not in keys:
            shutil.rmtree(g, ignore_errors=True)
    for m in d.glob("labsim-*.source"):
        with contextlib.suppress(OSError):
            if not (d / m.read_text().strip()).exists():
                m.unlink()
