"""The lock files the image installs from (docs/deploy.md, "Reproducible builds") agree with
pyproject.toml and requirements-mediapipe.txt; when a dependency changes without a new lock,
this fails and names the command that regenerates it."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.helpers import ROOT

REGENERATE = (
    "regenerate the locks: uv pip compile pyproject.toml --generate-hashes --python-version 3.12 "
    "--python-platform x86_64-manylinux_2_34 -o requirements.lock (and the same for "
    "requirements-mediapipe.txt with --no-deps -o requirements-mediapipe.lock); docs/deploy.md"
)
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.M)


def parse_lock(name: str) -> dict[str, tuple[str, list[str], str]]:
    """``{canonical name: (version, hashes, the entry's comment text)}``."""
    text = (ROOT / name).read_text()
    starts = list(_ENTRY.finditer(text))
    entries = {}
    for m, nxt in zip(starts, [*starts[1:], None], strict=True):
        block = text[m.end() : nxt.start() if nxt else len(text)]
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        comments = " ".join(line.strip("# ") for line in block.splitlines() if "#" in line)
        entries[canonicalize_name(m.group(1))] = (m.group(2), hashes, comments)
    return entries


def project_requirements() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(r) for r in pyproject["project"]["dependencies"]]


def test_every_locked_package_has_hashes():
    for lock in ("requirements.lock", "requirements-mediapipe.lock"):
        for name, (_, hashes, _) in parse_lock(lock).items():
            assert hashes, f"{lock}: {name} has no --hash; {REGENERATE}"


def test_the_lock_satisfies_every_dependency_of_pyproject():
    locked = parse_lock("requirements.lock")
    for req in project_requirements():
        name = canonicalize_name(req.name)
        assert name in locked, (
            f"{req} is in pyproject.toml but not in requirements.lock; {REGENERATE}"
        )
        version = locked[name][0]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside pyproject's {req}; {REGENERATE}"
        )


def test_the_lock_holds_no_dependency_pyproject_dropped():
    locked = parse_lock("requirements.lock")
    direct = {canonicalize_name(r.name) for r in project_requirements()}
    from_pyproject = {n for n, (_, _, via) in locked.items() if "vidpipe (pyproject.toml)" in via}
    assert from_pyproject == direct, f"lock and pyproject.toml disagree; {REGENERATE}"


def test_one_headless_opencv_and_mediapipe_alone_in_its_lock():
    locked = parse_lock("requirements.lock")
    assert "opencv-python" not in locked and "opencv-contrib-python" not in locked
    assert "mediapipe" not in locked  # installed --no-deps from its own lock
    [line] = [
        ln
        for ln in (ROOT / "requirements-mediapipe.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    pinned = Requirement(line)
    mp = parse_lock("requirements-mediapipe.lock")
    assert set(mp) == {"mediapipe"}, f"mediapipe's lock must hold mediapipe alone; {REGENERATE}"
    assert pinned.specifier.contains(mp["mediapipe"][0]), REGENERATE


def test_the_dockerfile_installs_from_the_locks_with_hashes():
    text = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r ${LAMBDA_TASK_ROOT}/requirements.lock" in text
    assert "--no-deps --require-hashes -r ${LAMBDA_TASK_ROOT}/requirements-mediapipe.lock" in text
    assert "tomllib" not in text  # no resolving from pyproject's ranges at build time


def test_the_base_image_is_pinned_by_digest_or_says_why_not():
    text = (ROOT / "Dockerfile").read_text()
    [default] = re.findall(r"^ARG BASE_IMAGE=(\S+)$", text, flags=re.M)
    assert "FROM ${BASE_IMAGE}" in text
    if not re.search(r"@sha256:[0-9a-f]{64}$", default):
        # never a made-up digest: until a real one is resolved, the Dockerfile says so
        assert "NOT YET PINNED BY DIGEST" in text
