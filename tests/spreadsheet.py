"""A CSV opened in a real spreadsheet: LibreOffice Calc (Debian's ``libreoffice-calc-nogui``,
headless), for the tests that prove an exported CSV reads back cell for cell without formulas.

Calc imports the CSV the way a user's double-click does (comma, double quotes, UTF-8) with formula
evaluation on, the setting under which formula injection bites, and saves it as flat OpenDocument
XML (``.fods``), which is read back here cell by cell: its shown text, its value type and its
formula, if Calc made one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tests.ci import missing

SOFFICE = os.environ.get("REGISTRY_SOFFICE", "/usr/bin/soffice")
# Calc's CSV import options: comma (44), double quote (34), UTF-8 (76), from line 1, no column
# types, default language, quoted fields not forced to text, no special-number detection, (three
# export-only tokens), all sheets, and formulas evaluated: a cell starting with "=" becomes one.
CSV_IMPORT = "Text - txt - csv (StarCalc):44,34,76,1,,0,false,false,false,false,false,-1,true"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


@dataclass(frozen=True)
class Cell:
    text: str
    """What Calc shows."""
    kind: str | None
    """``string``, ``float``, ``date``, ... or None for an empty cell."""
    formula: str | None
    """The formula Calc made of the cell (``of:=...``), or None."""
    value: str | None = None
    """``office:value`` of a number cell."""


def soffice() -> str:
    """The path of LibreOffice's ``soffice``, or skip the test (fail it under ``CI=true``)."""
    found = SOFFICE if Path(SOFFICE).exists() else shutil.which(SOFFICE)
    if found:
        return found
    message = f"LibreOffice not found at {SOFFICE} (run `make spreadsheet`, or apt-get install libreoffice-calc-nogui)"
    missing(message, message + "; under CI the spreadsheet tests must run")


def _shown(cell: ET.Element) -> str:
    """The text of a cell's paragraphs, with ODF's encoded spaces, tabs and line breaks."""

    def walk(node: ET.Element) -> str:
        out = [node.text or ""]
        for child in node:
            if child.tag == f"{{{_TEXT}}}s":
                out.append(" " * int(child.get(f"{{{_TEXT}}}c", "1")))
            elif child.tag == f"{{{_TEXT}}}tab":
                out.append("\t")
            elif child.tag == f"{{{_TEXT}}}line-break":
                out.append("\n")
            else:
                out.append(walk(child))
            out.append(child.tail or "")
        return "".join(out)

    return "\n".join(walk(p) for p in cell.findall(f"{{{_TEXT}}}p"))


def open_csv(data: bytes, workdir: Path) -> list[list[Cell]]:
    """The cells of the CSV ``data`` once Calc has imported it: one list per row, without the
    empty rows and cells after the last filled one."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "sheet.csv"
    source.write_bytes(data)
    subprocess.run(
        [
            soffice(),
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(workdir / 'profile').as_uri()}",
            f"--infilter={CSV_IMPORT}",
            "--convert-to",
            "fods",
            "--outdir",
            str(workdir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    rows: list[list[Cell]] = []
    for row in ET.parse(workdir / "sheet.fods").iter(f"{{{_TABLE}}}table-row"):
        cells: list[Cell] = []
        for cell in row.findall(f"{{{_TABLE}}}table-cell"):
            found = Cell(
                _shown(cell),
                cell.get(f"{{{_OFFICE}}}value-type"),
                cell.get(f"{{{_TABLE}}}formula"),
                cell.get(f"{{{_OFFICE}}}value"),
            )
            cells += [found] * int(cell.get(f"{{{_TABLE}}}number-columns-repeated", "1"))
        while cells and cells[-1].kind is None and not cells[-1].text:
            cells.pop()
        # An empty row repeated stands for the rest of the sheet (a million rows): counted once.
        rows += [cells] * (int(row.get(f"{{{_TABLE}}}number-rows-repeated", "1")) if cells else 1)
    while rows and not rows[-1]:
        rows.pop()
    return rows
