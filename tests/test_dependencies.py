"""The lock files pin exactly what requirements*.txt pin, every package with its hashes (installed with --require-hashes)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s\\;]+)")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            name = re.sub(r"\[.*\]", "", match.group(1)).lower().replace("_", "-")
            found[name] = match.group(2)
    return found


def locked(path: Path) -> dict[str, list[str]]:
    """Each package in a lock file, with its hashes."""
    packages, current = {}, None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = match.group(1).lower().replace("_", "-")
            packages[current] = (match.group(2), [])
        elif current and "--hash=sha256:" in line:
            packages[current][1].append(line.strip().split("sha256:")[1].rstrip(" \\"))
    return packages


@pytest.mark.parametrize(
    ("wanted", "lock"), [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")]
)
def test_each_lock_file_pins_the_top_level_versions_and_hashes_every_package(wanted, lock):
    top = pins(ROOT / wanted)
    if wanted == "requirements-dev.txt":
        top |= pins(ROOT / "requirements.txt")
    packages = locked(ROOT / lock)
    for name, version in top.items():
        assert name in packages, f"{name} is not in {lock}: run make lock"
        assert packages[name][0] == version, (
            f"{name}: {wanted} says {version}, {lock} {packages[name][0]}: run make lock"
        )
    assert all(hashes for _, hashes in packages.values()), "every package has its hashes"


def test_the_development_lock_installs_the_same_runtime_as_production():
    runtime, development = locked(ROOT / "requirements.lock"), locked(ROOT / "requirements-dev.lock")
    assert {name: version for name, (version, _) in runtime.items()} == {
        name: development[name][0] for name in runtime
    }
