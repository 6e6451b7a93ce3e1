"""Run Python 3.13 for Linux arm64 (aarch64) on an x86_64 build host, under emulation.

The arm64 Tesseract deployment runs Lambda's python3.13 on Graviton. To run its code before it
is offered, this module assembles a tiny aarch64 root file system (a *sysroot*) from Debian
trixie's arm64 packages: python3.13 and the shared libraries it and the layer's wheels load
(glibc 2.41, libstdc++, OpenSSL 3, zlib, libffi, ...), each .deb pinned by SHA-256 in
:data:`PINS`, downloaded from Debian's pool (or ``$DEBIAN_MIRROR``) by ``debian_fetch.py``
(never apt: the host's package state is not touched) and cached. Debian's
``qemu-user-static`` then runs it:

    qemu-aarch64-static -L SYSROOT SYSROOT/usr/bin/python3.13 -I -S -B script.py ...

(:func:`python_command`). ``-L`` makes the emulated program find ``/lib/ld-linux-aarch64.so.1``
and ``/usr/lib/python3.13`` in the sysroot first; any other absolute path (the layer, the
script) is the host's. Emulation is 30 to 40 times slower than the native machine and is a
check of correctness, never of speed.

Used by ``layers/tesseract/build_layer.py`` (the arm64 layer's self-test; it reaches this
directory through the link ``layers/tesseract/common``) and by the e2e test of the arm64
deployment. On the command line::

    python3 layers/common/arm64_sysroot.py [--sysroot DIR]   # assemble it, run a probe, print it

Where: ``$OCR_ARM64_SYSROOT``, else ``<repository>/.cache/arm64-sysroot`` (the .debs in
``debs/``, the tree in ``root/``, rebuilt when the pins change). Standard library only.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path

from debian_fetch import DebPin, FetchError, ar_members, obtain_debs

#: ``<repository>/.cache/arm64-sysroot`` (this file is ``<repository>/layers/common/...``).
DEFAULT_DIR = Path(__file__).resolve().parents[2] / ".cache" / "arm64-sysroot"
ENV_DIR = "OCR_ARM64_SYSROOT"
#: Ends a download error: the pins move with Debian's point releases.
HELP = (
    "If Debian replaced a pinned version, pin the new one in layers/common/arm64_sysroot.py "
    "(PINS) from trixie's arm64 Packages index."
)
#: The emulator, from Debian's qemu-user-static (bookworm or later).
QEMU = "qemu-aarch64-static"
QEMU_INSTALL = "apt-get install -y qemu-user-static"
#: The interpreter inside the sysroot, and the Lambda runtime it stands in for.
PYTHON = "usr/bin/python3.13"
PYTHON_VERSION: tuple[int, int] = (3, 13)


class SysrootError(RuntimeError):
    """Raised with a message meant for the person running the build or the tests."""


#: python3.13 and what it, boto3, Pillow, pi-heif, pypdfium2 and tesserocr load. From trixie's
#: arm64 Packages index (``apt-cache show PACKAGE`` with a trixie arm64 source). When Debian
#: replaces a version, its .deb leaves the pool and the download fails naming it: take the new
#: Version, Filename and SHA256 from the index.
PINS: tuple[DebPin, ...] = (
    DebPin(
        "python3.13-minimal",
        "3.13.5-2+deb13u5",
        "arm64",
        "95237a3ad99bf9366308e16f7c79449c9371c4cff9c883772fb7c254652467eb",
        source="python3.13",
    ),
    DebPin(
        "libpython3.13-minimal",
        "3.13.5-2+deb13u5",
        "arm64",
        "3655ef258b19142cf6fe38ef89731d5c630b2cf3309632494a720b28c1cfcd85",
        source="python3.13",
    ),
    DebPin(
        "libpython3.13-stdlib",
        "3.13.5-2+deb13u5",
        "arm64",
        "d1178d24e4d143cc6c577d9dc0f26dd982efccc2e600d25ce86361f168a22be0",
        source="python3.13",
    ),
    DebPin(
        "libc6",
        "2.41-12+deb13u5",
        "arm64",
        "0966fc3da1a26cc57647c68b5736f791b6e7eb498173a7993f63b6c89b4ed4f5",
        source="glibc",
    ),
    DebPin(
        "zlib1g",
        "1:1.3.dfsg+really1.3.1-1+deb13u1",
        "arm64",
        "0e41b3d7ad8ad7fcd36dd4d61ca91a70018478fc4af652e044f4be770784ddff",
        source="zlib",
    ),
    DebPin(
        "libexpat1",
        "2.9.0-1~deb13u1",
        "arm64",
        "d9e1c50fcdad079fe16d77f1578adcc763be1bf7f2da7fa8adca7010b0c84c83",
        source="expat",
    ),
    DebPin(
        "libssl3t64",
        "3.5.9-1~deb13u1",
        "arm64",
        "18edc2b123e8e81efcc14ea5502454b4505285aa9d3325c22315e9304acb25ca",
        source="openssl",
    ),
    DebPin(
        "libffi8",
        "3.4.8-2",
        "arm64",
        "d84a783b818f2386627604e64b793eb4ac5bb9ea1ba321a194a1c9c82fe09a01",
        source="libffi",
    ),
    DebPin(
        "libstdc++6",
        "14.2.0-19",
        "arm64",
        "6669b0c52a2e7c6af9adfdabce3ff6e286065cdfbc7b85280862b5f799daebee",
        source="gcc-14",
    ),
    DebPin(
        "libgcc-s1",
        "14.2.0-19",
        "arm64",
        "1108bc87879833d6d9a145f22a4a15cddb34e065b4b5f4b97bee586adbac2851",
        source="gcc-14",
    ),
    DebPin(
        "libbz2-1.0",
        "1.0.8-6",
        "arm64",
        "3537fe4fc577a60c8a9568873cd577db7ebc135eb8bb1825f18caf8972d9d2f2",
        source="bzip2",
    ),
    DebPin(
        "liblzma5",
        "5.8.1-1+deb13u2",
        "arm64",
        "88f3aa499dc30edf01b9209ab40f11e37edfbecef971f84f4721de1874ed4827",
        source="xz-utils",
    ),
    DebPin(
        "libzstd1",
        "1.5.7+dfsg-1",
        "arm64",
        "924540bd59fdbfa77a0604360efdaca54411a43daf11c7e002a3c64791b67448",
        source="libzstd",
    ),
    DebPin(
        "libuuid1",
        "2.41.5-0+deb13u1",
        "arm64",
        "448ad6b190184dbff24508ef2eda88bd737a5ffc0f9750eb779fcf9885292bea",
        source="util-linux",
    ),
    DebPin(
        "media-types",
        "13.0.0",
        "all",
        "0788e4b0b72db1bcf74a19cb24c3511e7770ad0b341f0f30e361701c3072f53e",
    ),
)

#: Debian's merged /usr: the packages install to usr/lib, programs ask for /lib/ld-linux-...
MERGED_USR_LINKS: tuple[tuple[str, str], ...] = (
    ("lib", "usr/lib"),
    ("usr/lib/ld-linux-aarch64.so.1", "aarch64-linux-gnu/ld-linux-aarch64.so.1"),
)
STAMP = ".pins"


def default_dir() -> Path:
    """``$OCR_ARM64_SYSROOT``, else ``<repository>/.cache/arm64-sysroot``."""
    return Path(os.environ.get(ENV_DIR) or DEFAULT_DIR)


def pins_digest(pins: Sequence[DebPin] = PINS) -> str:
    """What the sysroot was assembled from, one line per .deb (the stamp's content)."""
    return "".join(f"{pin.sha256}  {pin.filename}\n" for pin in pins)


def qemu_path() -> str | None:
    """The emulator's path, or None when qemu-user-static is not installed."""
    return shutil.which(QEMU)


def native_arm64() -> bool:
    """True on an aarch64 host, where the sysroot's python runs without an emulator."""
    return platform.machine().lower() in ("aarch64", "arm64")


def unavailable_reason() -> str | None:
    """Why aarch64 programs cannot run here (None: they can, natively or emulated)."""
    if native_arm64() or qemu_path() is not None:
        return None
    if platform.system() != "Linux":
        return f"emulating Linux aarch64 needs a Linux host with {QEMU}, not {platform.system()}"
    return (
        f"{QEMU} is not installed, so nothing built for arm64 can run on this "
        f"{platform.machine()} host. Install Debian's emulator (as root: `{QEMU_INSTALL}`)"
    )


def _inside(root: Path, name: str) -> Path:
    """``root / name``, refusing names that climb out of ``root``."""
    relative = Path(name.removeprefix("./").lstrip("/"))
    if ".." in relative.parts:
        raise SysrootError(f"refusing archive member {name!r}: it climbs out of the sysroot")
    return root / relative


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, root: Path, deb: Path) -> bool:
    """Write one archive member below ``root``; False for what a sysroot needs not (devices)."""
    target = _inside(root, member.name)
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return True
    if not (member.issym() or member.islnk() or member.isfile()):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    if member.issym():
        target.symlink_to(member.linkname)
    elif member.islnk():
        shutil.copy2(_inside(root, member.linkname), target)
    else:
        handle = archive.extractfile(member)
        if handle is None:
            raise SysrootError(f"{deb}: cannot read {member.name}")
        target.write_bytes(handle.read())
        target.chmod(member.mode & 0o755 | 0o444)
    return True


def unpack(deb: Path, root: Path) -> int:
    """Unpack ``deb``'s data archive into ``root`` as ``dpkg -x`` would; return the entries.

    Regular files, directories and symbolic links (an absolute link target stays absolute:
    qemu's ``-L`` resolves it inside the sysroot first). Hard links are copied.
    """
    for name, content in ar_members(deb.read_bytes()):
        if not name.startswith("data.tar"):
            continue
        if name.endswith(".zst"):
            raise SysrootError(f"{deb}: {name} is zstd-compressed, which tarfile cannot read")
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:*") as archive:
            return sum(
                _extract(archive, member, root, deb)
                for member in archive
                if member.name.removeprefix("./").strip("/")
            )
    raise SysrootError(f"{deb}: no data.tar member; is it really a .deb?")


def assemble(directory: Path | None = None) -> Path:
    """The sysroot under ``directory`` (default :func:`default_dir`), assembled if missing or
    made from other pins; return its root (``directory/root``)."""
    base = (directory or default_dir()).resolve()
    root = base / "root"
    stamp = root / STAMP
    wanted = pins_digest()
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return root
    try:
        found = obtain_debs(PINS, base / "debs", label="arm64-sysroot", help_text=HELP)
    except FetchError as error:
        raise SysrootError(str(error)) from error
    debs = list(found.values())
    started = time.monotonic()
    fresh = base / "root.partial"
    if fresh.exists():
        shutil.rmtree(fresh)
    fresh.mkdir(parents=True)
    entries = sum(unpack(deb, fresh) for deb in debs)
    for link, target in MERGED_USR_LINKS:
        path = fresh / link
        if not path.exists() and not path.is_symlink():
            path.symlink_to(target)
    if not (fresh / PYTHON).is_file():
        raise SysrootError(f"the packages held no {PYTHON}: is python3.13-minimal pinned?")
    (fresh / STAMP).write_text(wanted, encoding="utf-8")
    if root.exists():
        shutil.rmtree(root)
    os.replace(fresh, root)
    print(
        f"arm64-sysroot: {len(debs)} packages, {entries} entries unpacked into {root} in "
        f"{time.monotonic() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return root


def python_command(root: Path) -> list[str]:
    """The command that starts the sysroot's python3.13 here: emulated on x86_64 (``-L``), or
    through the sysroot's own loader on an aarch64 host; raise when neither can run."""
    python = root / PYTHON
    if native_arm64():
        loader = root / "usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"
        library_path = f"{root}/usr/lib/aarch64-linux-gnu"
        return [str(loader), "--library-path", library_path, str(python)]
    qemu = qemu_path()
    if qemu is None:
        raise SysrootError(str(unavailable_reason()))
    return [qemu, "-L", str(root), str(python)]


def probe(root: Path) -> str:
    """Run the sysroot's python once: ``'3.13.5 aarch64 ...'``, or raise saying why not."""
    code = (
        "import platform, sys, ssl, ctypes, zlib, lzma, bz2, json, decimal, uuid; "
        "print(platform.python_version(), platform.machine(), ssl.OPENSSL_VERSION)"
    )
    done = subprocess.run(
        [*python_command(root), "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise SysrootError(
            f"the sysroot's python failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Assemble and probe the arm64 python3.13.")
    parser.add_argument("--sysroot", type=Path, default=None, help=f"default: ${ENV_DIR} or .cache")
    args = parser.parse_args(argv)
    try:
        root = assemble(args.sysroot)
        started = time.monotonic()
        print(f"{root}: {probe(root)} ({time.monotonic() - started:.1f} s)")
    except SysrootError as error:
        print(f"arm64-sysroot: ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
