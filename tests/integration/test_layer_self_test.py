"""The AsposeOcrLayer build's steps that run the engine in an isolated interpreter
(layer_engine.py, a child process): the self-test and downloading a model, with a stand-in
`aspose.ocr` (the real one runs in tests/e2e and `make -C layers/aspose-ocr build-AsposeOcrLayer`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.layers import layer_script, write_files

build_layer = layer_script("aspose-ocr", "build_layer")


def test_a_model_that_cannot_be_had_fails_the_build_clearly(tmp_path: Path) -> None:
    models = tmp_path / "ocr-models"
    models.mkdir()
    # No engine in this "site": the download attempt fails at once, as it would offline.
    with pytest.raises(build_layer.BuildError) as raised:
        build_layer.bundle_models(
            models, ["aspose-ocr-arabic-v1.ocr"], tmp_path / "source", tmp_path / "site", tmp_path
        )
    message = str(raised.value)
    assert "aspose-ocr-arabic-v1.ocr is not in" in message
    assert "OCR_MODELS_DIR" in message
    assert not (models / "aspose-ocr-arabic-v1.ocr").exists()


# --- the engine in an isolated interpreter (layer_engine.py) --------------------------------


STAND_IN_ENGINE = '''\
"""A stand-in for aspose.ocr: the calls layer_engine.py makes."""
import pathlib

TEXT = {text!r}
_local = [""]


class Logging:
    set_file_system = staticmethod(lambda enabled: None)


class Resources:
    set_local_path = staticmethod(lambda path: _local.__setitem__(0, path))
    allow_automatic_downloads = staticmethod(lambda allowed: None)

    @staticmethod
    def fetch_resource(name):
        pathlib.Path(_local[0], name).write_bytes(b"downloaded " + name.encode())


class InputType:
    SINGLE_IMAGE = 0


class OcrInput:
    def __init__(self, kind):
        self.images = []

    def add(self, stream):
        self.images.append(stream.read())


class RecognitionSettings:
    pass


class _Result:
    def __init__(self, text):
        self.recognition_text, self.warnings = text, ["trial"]


class AsposeOcr:
    def recognize(self, source, settings):
        return [_Result(TEXT) for _ in source.images]
'''


def stand_in_engine(site: Path, text: str) -> Path:
    """An importable `aspose.ocr` and its distribution's metadata under ``site``."""
    write_files(
        site,
        {
            "aspose/__init__.py": b"",
            "aspose/ocr.py": STAND_IN_ENGINE.format(text=text).encode(),
            "aspose_ocr_python_net-26.10.0.dist-info/METADATA": (
                b"Metadata-Version: 2.1\nName: aspose-ocr-python-net\nVersion: 26.10.0\n"
            ),
        },
    )
    return site


READ_WELL = "LAYER SELF TEST\nQuick brown foxes jump over lazy dogs"


def test_the_self_test_runs_layer_engine_py_on_the_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifacts = tmp_path / "artifacts"
    stand_in_engine(artifacts / "python", READ_WELL)
    (artifacts / "ocr-models").mkdir()

    build_layer.self_test(artifacts)

    printed = capsys.readouterr().out
    assert "self-test passed" in printed
    assert "aspose-ocr-python-net 26.10.0" in printed  # the version from the layer's metadata


def test_the_self_test_fails_when_the_layer_reads_wrongly(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    stand_in_engine(artifacts / "python", "LAYER SELF")
    (artifacts / "ocr-models").mkdir()

    with pytest.raises(build_layer.BuildError, match=r"recognized text lacks \['TEST', 'Quick'"):
        build_layer.self_test(artifacts)


def test_the_self_test_sees_only_the_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine on this interpreter's path (PYTHONPATH, the current directory) is no
    substitute for one in the layer."""
    elsewhere = stand_in_engine(tmp_path / "elsewhere", READ_WELL)
    monkeypatch.setenv("PYTHONPATH", str(elsewhere))
    monkeypatch.chdir(elsewhere)
    artifacts = tmp_path / "artifacts"
    (artifacts / "python").mkdir(parents=True)
    (artifacts / "ocr-models").mkdir()

    with pytest.raises(build_layer.BuildError, match=r"could not recognize selftest\.png"):
        build_layer.self_test(artifacts)


def test_a_missing_model_is_downloaded_with_the_layers_engine(tmp_path: Path) -> None:
    site = stand_in_engine(tmp_path / "site", READ_WELL)
    source, models = tmp_path / "source", tmp_path / "ocr-models"
    models.mkdir()

    build_layer.bundle_models(models, ["aspose-ocr-arabic-v1.ocr"], source, site, tmp_path)

    downloaded = b"downloaded aspose-ocr-arabic-v1.ocr"
    assert (source / "aspose-ocr-arabic-v1.ocr").read_bytes() == downloaded  # kept for next time
    assert (models / "aspose-ocr-arabic-v1.ocr").read_bytes() == downloaded
