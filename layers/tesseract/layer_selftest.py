"""The TesseractLayer's self-test, run by build_layer.py in an isolated interpreter
(``python3.12 -I -S -B layer_selftest.py ...``: no site-packages, no PYTHON* variables, not even
this file's directory on ``sys.path``), with nothing but the layer's ``python/`` to import::

    layer_selftest.py SITE TESSDATA IMAGE SCRATCH LANGUAGES_JSON RECOGNIZE

It loads every language, recognizes IMAGE in RECOGNIZE, detects its orientation, writes a
searchable PDF with Tesseract's renderer and reads its text back with pypdfium2, then prints
``SELFTEST_RESULT {json}``; build_layer.py judges the report. Standard library only, apart
from the packages loaded from SITE.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

RESULT_MARK = "SELFTEST_RESULT "


def selftest(
    site: str, tessdata: str, image: str, *, scratch: str, languages: list[str], recognize: str
) -> dict[str, Any]:
    """Everything the function does with the layer, on ``image``; the report to judge."""
    sys.path.insert(0, site)
    import pypdfium2  # noqa: PLC0415 - only from the layer
    import tesserocr  # noqa: PLC0415
    from tesserocr import PSM, PyTessBaseAPI  # noqa: PLC0415

    report: dict[str, Any] = {
        "tesserocr": tesserocr.__file__,
        "pypdfium2": pypdfium2.__file__,
        "tesseract_version": str(tesserocr.tesseract_version()).splitlines()[0],
    }
    loaded = {}
    for language in languages:
        with PyTessBaseAPI(path=tessdata, lang=language) as api:
            loaded[language] = api.GetInitLanguagesAsString()
    report["loaded"] = loaded
    with PyTessBaseAPI(path=tessdata, lang=recognize) as api:
        api.SetImageFile(image)
        report["text"] = api.GetUTF8Text()
    with PyTessBaseAPI(path=tessdata, lang="osd", psm=PSM.OSD_ONLY) as api:
        api.SetImageFile(image)
        osd = api.DetectOrientationScript()
        report["osd"] = dict(osd) if osd else None
    base = os.path.join(scratch, "selftest")
    with PyTessBaseAPI(path=tessdata, lang=recognize) as api:
        api.SetVariable("tessedit_create_pdf", "1")
        report["pdf_written"] = bool(api.ProcessPages(base, image))
    document = pypdfium2.PdfDocument(base + ".pdf")
    try:
        report["pdf_pages"] = len(document)
        report["pdf_text"] = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    return report


def main(argv: list[str]) -> int:
    site, tessdata, image, scratch, languages, recognize = argv
    report = selftest(
        site, tessdata, image, scratch=scratch, languages=json.loads(languages), recognize=recognize
    )
    print(RESULT_MARK + json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
