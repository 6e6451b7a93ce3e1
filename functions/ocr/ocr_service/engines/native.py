"""Prepare the process for the engine's bundled .NET Core 3.1 runtime, before it is imported.

Each step below prevents a measured abort of the whole process (see README, "Facts"):
the runtime needs OpenSSL 1.1, which Amazon Linux 2023 and Debian 12 lack; it aborts on ICU
unless globalization runs in invariant mode; and it aborts when TMPDIR is not writable unless
its diagnostics pipes are off. A Python exception here is far better than an abort later.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from ocr_service.engines.port import EngineSetupError

# Lambda puts every layer's lib/ on LD_LIBRARY_PATH; the layer ships OpenSSL 1.1 there.
LAYER_LIB_DIR = Path("/opt/lib")
_OPENSSL_LIBRARIES = ("libcrypto.so.1.1", "libssl.so.1.1")  # libssl needs libcrypto first

# Set before the runtime starts; setdefault lets an operator still override them.
RUNTIME_ENVIRONMENT = {
    "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1",
    "COMPlus_EnableDiagnostics": "0",
}


class NativeSetupError(EngineSetupError):
    """The process cannot host the engine's runtime; the message says what is missing."""


def prepare_runtime_environment(openssl_lib_dir: Path | None) -> None:
    """Set the runtime's environment and load OpenSSL 1.1 globally, or raise NativeSetupError."""
    for name, value in RUNTIME_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    _load_openssl_1_1(openssl_lib_dir)


def _load_openssl_1_1(openssl_lib_dir: Path | None) -> None:
    # The runtime dlopen()s libssl by soname; a library already loaded with RTLD_GLOBAL under
    # that soname is reused, so loading it here settles both where it comes from and that it works.
    candidates = [d for d in (openssl_lib_dir, LAYER_LIB_DIR) if d is not None]
    errors: list[str] = []
    for directory in candidates:
        if all((directory / name).is_file() for name in _OPENSSL_LIBRARIES):
            try:
                for name in _OPENSSL_LIBRARIES:
                    ctypes.CDLL(str(directory / name), mode=ctypes.RTLD_GLOBAL)
                return
            except OSError as error:
                errors.append(f"{directory}: {error}")
    try:  # LD_LIBRARY_PATH or the system's own library directories
        for name in _OPENSSL_LIBRARIES:
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        return
    except OSError as error:
        errors.append(f"loader search path: {error}")
    searched = ", ".join(str(d) for d in candidates)
    raise NativeSetupError(
        "OpenSSL 1.1 (libssl.so.1.1, libcrypto.so.1.1) is required by the engine's .NET Core 3.1 "
        f"runtime and was not found (searched {searched} and LD_LIBRARY_PATH). Deploy the "
        "AsposeOcrLayer, or set OCR_OPENSSL_LIB_DIR to a directory holding both libraries "
        "(`make setup` puts them in .cache/openssl11/lib). Details: " + "; ".join(errors)
    )
