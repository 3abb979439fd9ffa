"""Vendored assets are exactly the npm files the MANIFESTs name: version and sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "api" / "console" / "static" / "vendor"
AXE = ROOT / "tests" / "browser" / "vendor"
# a version string each file carries inside it, so a MANIFEST cannot name the wrong version
BANNERS = {
    "htmx.min.js": 'version:"{version}"',
    "chart.umd.min.js": "Chart.js v{version}",
    "axe.min.js": "axe v{version}",
}


def manifest(folder: Path) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in (folder / "MANIFEST").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            file, package, version, sha256, _ = line.split("\t")
            rows.append((file, package, version, sha256))
    return rows


ENTRIES = [(folder, *row) for folder in (VENDOR, AXE) for row in manifest(folder)]


@pytest.mark.parametrize(
    ("folder", "file", "package", "version", "sha256"),
    ENTRIES,
    ids=[f"{e[2]}@{e[3]}:{e[1]}" for e in ENTRIES],
)
def test_vendored_file_matches_manifest(
    folder: Path, file: str, package: str, version: str, sha256: str
) -> None:
    data = (folder / file).read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha256, f"{file} is not {package}@{version}"
    banner = BANNERS.get(Path(file).name)
    if banner:
        assert banner.format(version=version).encode() in data[:200_000]


@pytest.mark.parametrize("folder", [VENDOR, AXE], ids=["console", "axe"])
def test_no_unlisted_vendored_file(folder: Path) -> None:
    listed = {row[0] for row in manifest(folder)}
    present = {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.name != "MANIFEST"
    }
    assert present == listed


def test_pinned_versions() -> None:
    versions = {(package, version) for _, _, package, version, _ in ENTRIES}
    assert versions == {
        ("htmx.org", "2.0.11"),
        ("chart.js", "4.6.1"),
        ("swagger-ui-dist", "5.35.0"),
        ("axe-core", "4.14.1"),
    }
