"""Where the layers' pinned .debs are downloaded from: Debian's pool URL scheme, the mirror
variables, and the real pins' URLs (which were checked by hand to download and match; see
tests/integration/test_debian_download.py for downloads from a local archive)."""

from __future__ import annotations

import sys

import pytest

from tests.support.layers import layer_script

fetch_openssl = layer_script("aspose-ocr", "fetch_openssl")
# One fetch_tessdata module per session, whichever test file loads it first.
fetch_tessdata = sys.modules.get("fetch_tessdata") or layer_script("tesseract", "fetch_tessdata")
debian_fetch = fetch_openssl.debian_fetch
DebPin = debian_fetch.DebPin


@pytest.fixture(autouse=True)
def no_mirrors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's own archives, whatever the environment running the tests says."""
    for archive in (debian_fetch.DEBIAN, debian_fetch.DEBIAN_SECURITY):
        monkeypatch.delenv(archive.env, raising=False)


@pytest.mark.parametrize(
    ("source", "prefix"),
    [("openssl", "o"), ("tesseract-lang", "t"), ("libxml2", "libx"), ("lib", "lib"), ("l", "l")],
)
def test_the_pool_files_a_source_under_its_first_letter_or_lib_and_one_more(
    source: str, prefix: str
) -> None:
    assert debian_fetch.pool_prefix(source) == prefix


def test_the_openssl_pin_is_downloaded_from_the_security_archives_pool() -> None:
    pin = fetch_openssl._pin()

    assert pin.url() == (
        "https://deb.debian.org/debian-security/pool/updates/main/o/openssl/"
        f"libssl1.1_{fetch_openssl.DEB_VERSION}_amd64.deb"
    )
    assert pin.filename == fetch_openssl.DEB_FILENAME


def test_the_tesseract_pins_are_downloaded_from_bookworms_pool_without_the_epoch() -> None:
    wanted = fetch_tessdata.pins_for(fetch_tessdata.DEFAULT_LANGUAGES)
    root = "https://deb.debian.org/debian/pool/main/t"

    assert {name: pin.url() for name, pin in wanted.items()} == {
        "pdf.ttf": f"{root}/tesseract/libtesseract5_5.3.0-2_amd64.deb",
        **{
            f"{code}.traineddata": f"{root}/tesseract-lang/tesseract-ocr-{code}_4.1.0-2_all.deb"
            for code in fetch_tessdata.with_always(fetch_tessdata.DEFAULT_LANGUAGES)
        },
    }
    # The cache keeps the name apt-get gives the file, so caches filled by apt stay valid.
    assert wanted["eng.traineddata"].filename == "tesseract-ocr-eng_1%3a4.1.0-2_all.deb"
    assert wanted["eng.traineddata"].pool_filename == "tesseract-ocr-eng_4.1.0-2_all.deb"


def test_a_language_with_an_underscore_is_filed_under_its_hyphenated_package() -> None:
    pin = fetch_tessdata.language_pin("chi_sim", {"chi_sim": "0" * 64})

    assert pin.url().endswith("/t/tesseract-lang/tesseract-ocr-chi-sim_4.1.0-2_all.deb")


def test_a_source_defaults_to_the_package_and_lib_sources_take_four_letters() -> None:
    pin = DebPin("libfoo1", "2:1.0+dfsg-1~deb12u1", "arm64", "0" * 64, source="libfoo")

    assert pin.url() == (
        "https://deb.debian.org/debian/pool/main/libf/libfoo/libfoo1_1.0+dfsg-1~deb12u1_arm64.deb"
    )
    assert DebPin("zlib1g", "1.0-1", "amd64", "0" * 64).pool_path == (
        "pool/main/z/zlib1g/zlib1g_1.0-1_amd64.deb"
    )


def test_the_mirror_variables_replace_the_archive_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBIAN_MIRROR", " http://mirror.example/debian/ ")
    monkeypatch.setenv(
        "DEBIAN_SECURITY_MIRROR", "https://snapshot.debian.org/archive/debian-security/20240101T0Z"
    )

    assert fetch_tessdata.language_pin("eng").url() == (
        "http://mirror.example/debian/pool/main/t/tesseract-lang/tesseract-ocr-eng_4.1.0-2_all.deb"
    )
    snapshot = "https://snapshot.debian.org/archive/debian-security/20240101T0Z"
    assert fetch_openssl._pin().url().startswith(f"{snapshot}/pool/updates/main/o/openssl/")


@pytest.mark.parametrize("value", ["deb.debian.org/debian", "ftp://mirror.example/debian", "/srv"])
def test_a_mirror_that_is_no_http_url_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("DEBIAN_MIRROR", value)

    with pytest.raises(debian_fetch.FetchError, match=r"DEBIAN_MIRROR=.*not an http\(s\) URL"):
        fetch_tessdata.language_pin("eng").url()
