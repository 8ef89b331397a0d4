"""The lab guest: a distribution kernel, busybox and the project's dirtier.

``labkit qemu build`` (or :func:`build`) prepares it once, from distribution
packages only:

* the kernel is taken from the distribution's kernel package (Debian's cloud
  kernel, Ubuntu's virtual one) with ``apt-get download`` and ``dpkg -x``:
  extracted into the cache, never installed;
* the initramfs holds ``busybox-static`` as the shell, ``guest/init`` and the
  dirtier (``guest/dirtier.c``), built static with gcc.

The result is cached under a hash of the inputs. A probe boot then decides the
accelerator: KVM only when a guest booted under it proves to run, else TCG.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import LabkitError
from ..sim import paths

QEMU = "qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
#: The first release whose TCG migration keeps every dirty page: QEMU 9.0
#: ("physmem: Fix migration dirty bitmap coherency with TCG memory access").
TCG_SAFE_VERSION = (9, 0)
#: Kernel meta-packages that point at a small kernel for virtual machines.
KERNEL_METAPACKAGES = ("linux-image-cloud-amd64", "linux-image-virtual", "linux-image-amd64", "linux-image-generic")
SETUP_FIX = "make setup (it installs QEMU from bookworm-backports on Debian 12, busybox-static and gcc)"
GUEST_SOURCES = ("dirtier.c", "init")


class GuestError(LabkitError):
    """The lab guest could not be built or booted."""

    fix = SETUP_FIX


@dataclasses.dataclass(frozen=True)
class Guest:
    """A built lab guest: what QEMU needs to boot it, and how it will run."""

    kernel: Path
    initrd: Path
    kernel_package: str
    qemu: str
    qemu_version: tuple[int, int, int]
    accel: str             # "kvm" or "tcg"
    accel_reason: str

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.qemu_version))

    @property
    def tcg_unsafe(self) -> bool:
        return self.accel == "tcg" and self.qemu_version[:2] < TCG_SAFE_VERSION

    @property
    def kernel_family(self) -> str:
        """The meta-package the kernel came from (linux-image-6.1.0-57-cloud-amd64 -> linux-image-cloud-amd64).

        The versioned name changes with every kernel update in the archive; the family does not.
        """
        return re.sub(r"^(linux-image-)\d[\d.]*-\d+-", r"\1", self.kernel_package)

    def describe(self) -> str:
        # Without KVM, TCG is the expected, working set-up: said calmly. accel_reason keeps the probe's own words.
        why = self.accel_reason if self.accel == "kvm" else "software emulation; KVM is not usable here"
        text = f"QEMU {self.version_text} with {self.accel.upper()} ({why}); guest kernel from {self.kernel_family}"
        if self.tcg_unsafe:
            text += "\n" + tcg_warning(self.qemu_version)
        return text


def tcg_warning(version) -> str:
    v = ".".join(map(str, version))
    return (f"warning: QEMU {v} is older than 9.0. Under TCG it can lose dirty pages while migrating "
            "(fixed upstream in 9.0 by 'physmem: Fix migration dirty bitmap coherency with TCG memory "
            "access'): the destination's memory may differ from the source's. Install QEMU >= 9.0 "
            "(Debian 12: bookworm-backports).")


def source_dir() -> Path:
    return Path(__file__).with_name("guest")


def qemu_binary() -> str:
    found = shutil.which(QEMU)
    if not found:
        raise GuestError(f"{QEMU} is not installed.")
    return found


def qemu_version(binary: str) -> tuple[int, int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
    m = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    if not m:
        raise GuestError(f"Cannot read the version of {binary}: {out.strip()[:80]!r}.")
    return tuple(int(x) for x in m.groups())


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    if proc.returncode != 0:
        detail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise GuestError(f"{' '.join(map(str, cmd[:3]))} failed:\n{detail}")
    return proc


def kernel_package() -> str:
    """The versioned kernel package a VM kernel meta-package points at, e.g. linux-image-6.1.0-56-cloud-amd64."""
    if not shutil.which("apt-cache"):
        raise GuestError("apt-cache is missing: the guest kernel comes from a Debian or Ubuntu package.")
    for meta in KERNEL_METAPACKAGES:
        proc = subprocess.run(["apt-cache", "depends", meta], capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            m = re.match(r"\s*Depends:\s*(linux-image-\d\S*)", line)
            if m:
                return m.group(1)
    raise GuestError("No kernel package found in the apt lists.", fix="sudo apt-get update, then labkit qemu build")


def _inputs_hash(package: str, version) -> str:
    h = hashlib.sha256()
    for name in GUEST_SOURCES:
        h.update((source_dir() / name).read_bytes())
    h.update(package.encode())
    h.update(repr(version).encode())
    h.update(str(os.stat(BUSYBOX).st_size).encode() if os.path.exists(BUSYBOX) else b"-")
    return h.hexdigest()[:16]


def cache_root() -> Path:
    return paths.cache_dir() / "qemu"


def _find_cached() -> Path | None:
    root = cache_root()
    if not root.is_dir():
        return None
    done = sorted(root.glob("*/guest.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    return done[0].parent if done else None


def load(build_if_missing: bool = True, log=print) -> Guest:
    """The built guest; builds it first if it is missing (and ``build_if_missing``)."""
    binary = qemu_binary()
    version = qemu_version(binary)
    cached = _find_cached()
    if cached is not None:
        meta = json.loads((cached / "guest.json").read_text())
        if (tuple(meta["qemu_version"]) == version and meta["hash"] == _inputs_hash(meta["kernel_package"], version)
                and (cached / "vmlinuz").exists() and (cached / "initrd.gz").exists()):
            return _guest(cached, meta, binary)
    if not build_if_missing:
        raise GuestError("The lab guest is not built yet.", fix="labkit qemu build")
    return build(log=log)


def _guest(d: Path, meta: dict, binary: str) -> Guest:
    """The cached guest. KVM, when the build's probe found it, only while /dev/kvm is still usable by this
    process: another user (a grading sandbox, which has no /dev/kvm) runs it under TCG."""
    accel, reason = meta["accel"], meta["accel_reason"]
    if accel == "kvm" and not kvm_usable():
        accel, reason = "tcg", "no usable /dev/kvm"
    return Guest(kernel=d / "vmlinuz", initrd=d / "initrd.gz", kernel_package=meta["kernel_package"], qemu=binary,
                 qemu_version=tuple(meta["qemu_version"]), accel=accel, accel_reason=reason)


def build(force: bool = False, log=print) -> Guest:
    """Prepare kernel and initramfs (cached), probe the accelerator, and return the guest."""
    binary = qemu_binary()
    version = qemu_version(binary)
    for tool, why in ((BUSYBOX, "busybox-static"), (shutil.which("gcc"), "gcc"), (shutil.which("dpkg"), "dpkg")):
        if not tool or not os.path.exists(tool):
            raise GuestError(f"{why} is missing.")
    package = kernel_package()
    key = _inputs_hash(package, version)
    d = cache_root() / key
    if (d / "guest.json").exists() and not force:
        meta = json.loads((d / "guest.json").read_text())
        return _guest(d, meta, binary)
    paths.make(d, "LABKIT_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="labkit-guest-") as tmp:
        tmp = Path(tmp)
        log(f"downloading {package} (the kernel is extracted, not installed)")
        _run(["apt-get", "download", package], cwd=tmp)
        deb = next(tmp.glob("linux-image-*.deb"))
        _run(["dpkg", "-x", str(deb), str(tmp / "pkg")])
        kernels = sorted((tmp / "pkg" / "boot").glob("vmlinuz-*"))
        if not kernels:
            raise GuestError(f"{package} holds no /boot/vmlinuz.")
        shutil.copyfile(kernels[0], d / "vmlinuz")

        log("building the dirtier and the initramfs")
        root = tmp / "root"
        (root / "bin").mkdir(parents=True)
        _run(["gcc", "-static", "-O2", "-Wall", "-o", str(root / "dirtier"), str(source_dir() / "dirtier.c")])
        shutil.copyfile(BUSYBOX, root / "bin" / "busybox")
        shutil.copyfile(source_dir() / "init", root / "init")
        for f in ("bin/busybox", "init", "dirtier"):
            os.chmod(root / f, 0o755)
        os.symlink("busybox", root / "bin" / "sh")
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        cpio = _cpio(root, files)
        with gzip.open(d / "initrd.gz", "wb", compresslevel=6) as f:
            f.write(cpio)

    meta = {"kernel_package": package, "qemu_version": list(version), "hash": key}
    accel, reason = probe_accel(binary, d / "vmlinuz", d / "initrd.gz", log=log)
    meta.update(accel=accel, accel_reason=reason)
    (d / "guest.json").write_text(json.dumps(meta, indent=1))
    return _guest(d, meta, binary)   # its callers say how it runs (describe()), once


def _cpio(root: Path, files: list[str]) -> bytes:
    """The initramfs archive (newc), written by busybox's cpio."""
    proc = subprocess.run([BUSYBOX, "cpio", "-o", "-H", "newc"], cwd=root, input="\n".join(files).encode() + b"\n",
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise GuestError("busybox cpio failed: " + proc.stderr.decode(errors="replace").strip()[-200:])
    return proc.stdout


def kvm_usable() -> bool:
    return os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)


def probe_accel(binary: str, kernel: Path, initrd: Path, timeout: float = 10.0, log=print) -> tuple[str, str]:
    """KVM when a probe boot under it reaches the dirtier's first report, else TCG (and why)."""
    if not kvm_usable():
        return "tcg", "no usable /dev/kvm"
    log("checking whether KVM runs the guest (a test boot of 10 s at most)")
    with tempfile.TemporaryDirectory(prefix="labkit-probe-") as tmp:
        console = Path(tmp) / "console.log"
        cmd = [binary, "-accel", "kvm", "-m", "128", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
               "-no-reboot", "-kernel", str(kernel), "-initrd", str(initrd),
               "-append", "console=ttyS0 panic=-1 quiet wss_mib=8 hot_mib=4 rate=100",
               "-serial", f"file:{console}"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                if console.exists() and "written=" in console.read_text(errors="replace"):
                    return "kvm", "a probe boot under KVM ran the guest"
                time.sleep(0.2)
        finally:
            proc.kill()
            _, err = proc.communicate()
        first = (err or b"").decode(errors="replace").strip().splitlines()[:1]
        why = f": {first[0][:100]}" if first else ""
        return "tcg", f"a probe boot under KVM failed{why}"
