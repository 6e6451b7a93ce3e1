"""The layers' fetchers download their pinned .debs straight from a Debian archive's pool, with
no apt and no dpkg: here from a local archive (an HTTP server on 127.0.0.1 serving a pool of
synthetic .debs) named by the mirror variables. Nothing reaches the internet."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.layers import LAYERS_DIR, layer_script, make_deb

fetch_openssl = layer_script("aspose-ocr", "fetch_openssl")
# One fetch_tessdata module per session, whichever test file loads it first.
fetch_tessdata = sys.modules.get("fetch_tessdata") or layer_script("tesseract", "fetch_tessdata")
debian_fetch = fetch_openssl.debian_fetch
FetchError = debian_fetch.FetchError

TESSDATA = "./usr/share/tesseract-ocr/5/tessdata"
LIBSSL = b"\x7fELF fake libssl 1.1"
LIBCRYPTO = b"\x7fELF fake libcrypto 1.1"
LIBSSL_PATH = "/debian-security/pool/updates/main/o/openssl/libssl1.1_1.1.1w-0+deb11u8_amd64.deb"
LIBTESSERACT_PATH = "/debian/pool/main/t/tesseract/libtesseract5_5.3.0-2_amd64.deb"


def language_path(code: str) -> str:
    return f"/debian/pool/main/t/tesseract-lang/tesseract-ocr-{code}_4.1.0-2_all.deb"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Archive:
    """A Debian archive on 127.0.0.1: ``<url>/debian`` and ``<url>/debian-security`` serve
    ``root``. It records each GET's path, and can answer a path with errors first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        #: path -> what its next GETs get instead of the file: an HTTP status, or "truncate"
        #: (the headers promise the whole file, the body stops halfway).
        self.faults: dict[str, list[int | str]] = {}
        archive = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                archive.requests.append(self.path)
                faults = archive.faults.get(self.path)
                fault = faults.pop(0) if faults else None
                if isinstance(fault, int):
                    self.send_error(fault)
                elif fault == "truncate":
                    content = (archive.root / self.path.lstrip("/")).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content[: len(content) // 2])
                    self.close_connection = True
                else:
                    super().do_GET()

            def log_message(self, format: str, *args: object) -> None:
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, path: str, deb: Path) -> Path:
        """Serve ``deb``'s bytes at ``path``; return the file served."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(deb.read_bytes())
        return target


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Archive]:
    """A local archive, named by DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR; no waiting between
    attempts; nothing from the environment that could supply the .debs another way."""
    served = Archive(tmp_path / "archive")
    served.thread.start()
    monkeypatch.setenv("DEBIAN_MIRROR", f"{served.url}/debian")
    monkeypatch.setenv("DEBIAN_SECURITY_MIRROR", f"{served.url}/debian-security/")
    monkeypatch.setattr(debian_fetch, "RETRY_DELAY_S", 0.0)
    for name in ("LIBSSL11_DEB", "TESSERACT_DEBS_DIR", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()


def libssl_deb(path: Path) -> Path:
    lib = "./usr/lib/x86_64-linux-gnu"
    return make_deb(
        path,
        {f"{lib}/libssl.so.1.1": LIBSSL, f"{lib}/libcrypto.so.1.1": LIBCRYPTO},
        package="libssl1.1",
    )


def language_deb(path: Path, code: str) -> Path:
    return make_deb(path, {f"{TESSDATA}/{code}.traineddata": f"{code} model".encode()})


@pytest.fixture
def pool(archive: Archive, tmp_path: Path) -> dict[str, str]:
    """The archive's pool holds libssl1.1, eng, rus, osd and libtesseract5; returns the pins
    (attribute of the fetcher -> value) that make the synthetic .debs the pinned ones."""
    made = tmp_path / "made"
    made.mkdir()
    pins = {
        "DEB_SHA256": sha(archive.add(LIBSSL_PATH, libssl_deb(made / "libssl.deb"))),
        "LIBTESSERACT": sha(
            archive.add(
                LIBTESSERACT_PATH,
                make_deb(made / "libtesseract5.deb", {f"{TESSDATA}/pdf.ttf": b"glyphless"}),
            )
        ),
    }
    for code in ("eng", "rus", "osd"):
        pins[code] = sha(archive.add(language_path(code), language_deb(made / code, code)))
    return pins


def pin_tessdata(monkeypatch: pytest.MonkeyPatch, pins: dict[str, str]) -> None:
    """Pin fetch_tessdata (in this process) to the pool's synthetic .debs."""
    monkeypatch.setattr(
        fetch_tessdata, "LANGUAGE_PINS", {code: pins[code] for code in ("eng", "rus", "osd")}
    )
    libtesseract = fetch_tessdata.LIBTESSERACT
    monkeypatch.setattr(
        fetch_tessdata,
        "LIBTESSERACT",
        debian_fetch.DebPin(
            libtesseract.package,
            libtesseract.version,
            libtesseract.arch,
            pins["LIBTESSERACT"],
            source=libtesseract.source,
        ),
    )


# --- as the builds run them: a child process without apt-get or dpkg ------------------------------

#: Runs a fetcher's main() with its pins replaced (argv[1]: JSON [layer, module, pins, args]),
#: after checking that neither apt-get nor dpkg can be found.
RUNNER = """
import json, shutil, sys
layer, module, pins, args = json.loads(sys.argv[1])
assert shutil.which("apt-get") is None and shutil.which("dpkg") is None, "apt or dpkg on PATH"
sys.path.insert(0, layer)
fetcher = __import__(module)
for name, value in pins.items():
    if name == "LIBTESSERACT":
        old = fetcher.LIBTESSERACT
        fetcher.LIBTESSERACT = type(old)(old.package, old.version, old.arch, value, old.source)
    elif name == "LANGUAGE_PINS":
        fetcher.LANGUAGE_PINS = value
    else:
        setattr(fetcher, name, value)
sys.exit(fetcher.main(args))
"""


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    """A PATH directory with nothing but this Python in it (no apt-get, no dpkg, no shell)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    (directory / "python3").symlink_to(sys.executable)
    return directory


def run_fetcher(
    bare_path: Path, archive: Archive, home: Path, layer: str, module: str, pins: object, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": str(bare_path),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "DEBIAN_MIRROR": os.environ["DEBIAN_MIRROR"],
        "DEBIAN_SECURITY_MIRROR": os.environ["DEBIAN_SECURITY_MIRROR"],
    }
    spec = json.dumps([str(LAYERS_DIR / layer), module, pins, list(args)])
    return subprocess.run(
        [str(bare_path / "python3"), "-I", "-c", RUNNER, spec],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_both_fetchers_download_from_the_pool_without_apt_or_dpkg_then_reuse_the_cache(
    tmp_path: Path, archive: Archive, pool: dict[str, str], bare_path: Path
) -> None:
    home = tmp_path / "home"
    tessdata_pins = {
        "LANGUAGE_PINS": {code: pool[code] for code in ("eng", "rus", "osd")},
        "LIBTESSERACT": pool["LIBTESSERACT"],
    }

    def run_both() -> None:
        openssl = run_fetcher(
            bare_path, archive, home, "aspose-ocr", "fetch_openssl",
            {"DEB_SHA256": pool["DEB_SHA256"]}, "--dest", str(tmp_path / "lib"),
        )  # fmt: skip
        assert openssl.returncode == 0, openssl.stderr
        tessdata = run_fetcher(
            bare_path, archive, home, "tesseract", "fetch_tessdata", tessdata_pins,
            "--dest", str(tmp_path / "tessdata"), "--languages", "eng rus",
        )  # fmt: skip
        assert tessdata.returncode == 0, tessdata.stderr

    run_both()

    assert sorted(archive.requests) == sorted(
        [LIBSSL_PATH, LIBTESSERACT_PATH, *(language_path(c) for c in ("eng", "rus", "osd"))]
    )
    assert (tmp_path / "lib" / "libssl.so.1.1").read_bytes() == LIBSSL
    assert (tmp_path / "lib" / "libcrypto.so.1.1").read_bytes() == LIBCRYPTO
    assert {path.name: path.read_bytes() for path in (tmp_path / "tessdata").iterdir()} == {
        "eng.traineddata": b"eng model",
        "rus.traineddata": b"rus model",
        "osd.traineddata": b"osd model",
        "pdf.ttf": b"glyphless",
    }
    cached = sorted(path.name for path in (home / "cache").rglob("*") if path.is_file())
    assert cached == [
        "libssl1.1_1.1.1w-0+deb11u8_amd64.deb",
        "libtesseract5_5.3.0-2_amd64.deb",
        "tesseract-ocr-eng_1%3a4.1.0-2_all.deb",
        "tesseract-ocr-osd_1%3a4.1.0-2_all.deb",
        "tesseract-ocr-rus_1%3a4.1.0-2_all.deb",
    ]

    archive.requests.clear()
    run_both()

    assert archive.requests == []  # everything came from the verified cache


# --- failures, in this process ----------------------------------------------------------------


def test_a_download_with_another_hash_fails_naming_both_hashes_and_keeps_nothing(
    tmp_path: Path, archive: Archive, pool: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_tessdata(monkeypatch, pool)
    served = archive.add(language_path("rus"), language_deb(tmp_path / "evil.deb", "rus"))
    served.write_bytes(served.read_bytes() + b"tampered")
    cache = tmp_path / "cache"

    with pytest.raises(FetchError) as raised:
        fetch_tessdata.fetch(tmp_path / "tessdata", ["rus"], cache)

    message = str(raised.value)
    assert "SHA-256 mismatch" in message
    assert f"expected {pool['rus']}" in message
    assert f"actual   {sha(served)}" in message
    assert f"{archive.url}{language_path('rus')}" in message
    assert "TESSERACT_DEBS_DIR" in message
    assert [path.name for path in cache.iterdir()] == []  # no partial or unverified file
    assert not (tmp_path / "tessdata").exists()


def test_a_deb_missing_from_the_pool_fails_naming_the_url_and_how_to_supply_it(
    tmp_path: Path,
    archive: Archive,
    pool: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(fetch_openssl, "DEB_SHA256", pool["DEB_SHA256"])
    (archive.root / LIBSSL_PATH.lstrip("/")).unlink()

    code = fetch_openssl.main(["--dest", str(tmp_path / "lib"), "--cache", str(tmp_path / "c")])

    err = capsys.readouterr().err
    assert code == 1
    assert "HTTP 404" in err
    assert f"{archive.url}{LIBSSL_PATH}" in err
    assert f"DEBIAN_SECURITY_MIRROR={archive.url}/debian-security" in err
    assert "https://snapshot.debian.org/archive/debian-security/" in err
    assert "set LIBSSL11_DEB=/path/to/it" in err
    assert "DEB_VERSION and DEB_SHA256" in err
    assert archive.requests == [LIBSSL_PATH]  # a 404 is not retried


def test_server_errors_and_short_reads_are_retried(
    tmp_path: Path, archive: Archive, pool: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_tessdata(monkeypatch, pool)
    archive.faults[language_path("eng")] = [503, "truncate"]

    fetch_tessdata.fetch(tmp_path / "tessdata", ["eng"], tmp_path / "cache")

    assert archive.requests.count(language_path("eng")) == 3
    assert (tmp_path / "tessdata" / "eng.traineddata").read_bytes() == b"eng model"
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == [
        "libtesseract5_5.3.0-2_amd64.deb",
        "tesseract-ocr-eng_1%3a4.1.0-2_all.deb",
        "tesseract-ocr-osd_1%3a4.1.0-2_all.deb",
    ]


def test_a_server_that_keeps_failing_is_given_up_after_the_attempts(
    tmp_path: Path, archive: Archive, pool: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_tessdata(monkeypatch, pool)
    archive.faults[language_path("eng")] = [502, 502, 502]

    with pytest.raises(FetchError, match=r"HTTP 502 .*\n.*\n\(3 attempts; the archive root is "):
        fetch_tessdata.fetch(tmp_path / "tessdata", ["eng"], tmp_path / "cache")
    assert archive.requests.count(language_path("eng")) == 3


def test_an_unreachable_mirror_fails_naming_the_url_and_the_variable(
    tmp_path: Path, archive: Archive, pool: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_tessdata(monkeypatch, pool)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("DEBIAN_MIRROR", f"http://127.0.0.1:{port}/debian")

    with pytest.raises(FetchError) as raised:
        fetch_tessdata.fetch(tmp_path / "tessdata", ["eng"], tmp_path / "cache")

    message = str(raised.value)
    assert f"http://127.0.0.1:{port}/debian/pool/main/t/tesseract-lang/" in message
    assert "3 attempts" in message
    assert f"DEBIAN_MIRROR=http://127.0.0.1:{port}/debian" in message
    assert "set DEBIAN_MIRROR to a Debian mirror you can reach" in message
    assert "TESSERACT_DEBS_DIR=/path/to/it" in message
