"""The engine of a built layer, run by build_layer.py in an isolated interpreter
(``python3.12 -I -S -B layer_engine.py ...``: no site-packages, no PYTHON* variables, not even
this file's directory on ``sys.path``), with nothing but the layer's ``python/`` to import from::

    layer_engine.py selftest SITE MODELS IMAGE        recognize IMAGE; print one result line
    layer_engine.py download-model SITE TARGET NAME   fetch the engine model NAME into TARGET

The self-test prints ``SELFTEST_RESULT {json}`` (where aspose was imported from, the package
version, the texts, the warnings); build_layer.py judges it. Standard library only, apart from
the engine loaded from SITE.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any

RESULT_MARK = "SELFTEST_RESULT "


def engine_module(site: str, models: str, *, downloads: bool) -> Any:
    """``aspose.ocr`` from ``site`` as the function configures it: no log files, models from
    ``models``, automatic downloads only if asked for."""
    sys.path.insert(0, site)
    from aspose import ocr  # noqa: PLC0415

    ocr.Logging.set_file_system(False)
    ocr.Resources.set_local_path(models)
    ocr.Resources.allow_automatic_downloads(downloads)
    return ocr


def selftest(site: str, models: str, image: str) -> dict[str, Any]:
    """Recognize ``image`` and say which package did it."""
    ocr = engine_module(site, models, downloads=False)
    import importlib.metadata  # noqa: PLC0415

    import aspose  # noqa: PLC0415

    with open(image, "rb") as handle:
        data = handle.read()
    source = ocr.OcrInput(ocr.InputType.SINGLE_IMAGE)
    source.add(io.BytesIO(data))
    results = ocr.AsposeOcr().recognize(source, ocr.RecognitionSettings())
    return {
        "package": aspose.__file__,
        "version": importlib.metadata.version("aspose-ocr-python-net"),
        "texts": [result.recognition_text for result in results],
        "warnings": [str(warning) for result in results for warning in result.warnings],
    }


def download_model(site: str, target: str, name: str) -> None:
    """Fetch the model file ``name`` into ``target`` with the engine (needs the network)."""
    engine_module(site, target, downloads=True).Resources.fetch_resource(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="layer_engine.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    test = commands.add_parser("selftest", help="recognize IMAGE; print one result line")
    fetch = commands.add_parser("download-model", help="fetch the engine model NAME into TARGET")
    for command, names in (
        (test, ("site", "models", "image")),
        (fetch, ("site", "target", "name")),
    ):
        for name in names:
            command.add_argument(name)
    args = parser.parse_args(argv)
    if args.command == "selftest":
        print(RESULT_MARK + json.dumps(selftest(args.site, args.models, args.image)), flush=True)
    else:
        download_model(args.site, args.target, args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
