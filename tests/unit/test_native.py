"""ocr_service.engines.native: the .NET runtime's environment is set in one place, first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocr_service.engines import native
from tools.template_env import load_template

# .NET reads it in this mixed case (ruff would have it upper-case as a literal).
DIAGNOSTICS = "COMPlus_EnableDiagnostics"


@pytest.fixture
def no_openssl_loading(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    loaded: list[Path | None] = []
    monkeypatch.setattr(native, "_load_openssl_1_1", loaded.append)
    return loaded


def test_prepare_runtime_environment_sets_what_the_runtime_needs(
    monkeypatch: pytest.MonkeyPatch, no_openssl_loading: list[Path | None]
) -> None:
    monkeypatch.delenv("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", raising=False)
    monkeypatch.delenv(DIAGNOSTICS, raising=False)
    native.prepare_runtime_environment(Path("/somewhere"))
    assert os.environ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] == "1"  # no ICU: it would abort
    assert os.environ[DIAGNOSTICS] == "0"  # no pipes in a read-only TMPDIR
    assert no_openssl_loading == [Path("/somewhere")]


def test_an_operator_can_still_override_them(
    monkeypatch: pytest.MonkeyPatch, no_openssl_loading: list[Path | None]
) -> None:
    monkeypatch.setenv(DIAGNOSTICS, "1")
    native.prepare_runtime_environment(None)
    assert os.environ[DIAGNOSTICS] == "1"


def test_template_does_not_repeat_them() -> None:
    function = load_template()["Resources"]["OcrFunction"]["Properties"]
    assert not native.RUNTIME_ENVIRONMENT.keys() & function["Environment"]["Variables"].keys()
