"""push_image.sh with stand-in docker, aws, git and sam on PATH (no Docker engine here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "push_image.sh"
BASH = shutil.which("bash") or "/bin/bash"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"

STANDINS = {
    # each stand-in logs its argv, then answers like the real tool would
    "aws": """
case "$*" in
  "sts get-caller-identity --query Account --output text") echo 123456789012 ;;
  "ecr describe-repositories"*) [ -n "${ECR_REPO_EXISTS:-}" ] || exit 254 ;;
  "configure get region") exit 1 ;;
  # the pause lets docker start first, as it may on a busy machine
  "ecr get-login-password"*) sleep 0.2; echo token ;;
esac""",
    # like the real docker, `login --password-stdin` reads the password from its stdin
    "docker": """
case "$*" in
  "login "*"--password-stdin"*) read -r password; echo "docker login got $password" >> "$LOG" ;;
esac""",
    "git": """
case "$*" in
  "rev-parse --short=12 HEAD") echo 0123456789ab ;;
  "status --porcelain") echo "${GIT_DIRTY:-}" ;;
esac""",
    "sam": "",
}


@pytest.fixture
def standins(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, body in STANDINS.items():
        path = bin_dir / name
        path.write_text(f'#!/bin/sh\nLOG="{log}"\necho "{name} $*" >> "$LOG"\n{body}\n')
        path.chmod(0o755)
    return bin_dir, log


def run(bin_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{bin_dir}:/usr/bin:/bin"
    return subprocess.run(
        [BASH, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **env},
        check=False,
    )


def calls_of(log: Path, tool: str) -> list[str]:
    return (
        [c for c in log.read_text().splitlines() if c.startswith(f"{tool} ")]
        if log.exists()
        else []
    )


def test_dry_run_prints_the_sequence_and_calls_neither_aws_nor_docker(standins):
    bin_dir, log = standins
    proc = run(bin_dir, "--region", "eu-west-1", "--account", "123456789012", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/vidpipe:0123456789ab"
    assert proc.stdout.splitlines() == [
        "+ aws ecr describe-repositories --repository-names vidpipe --region eu-west-1",
        "# only if describe-repositories finds no repository:",
        "+ aws ecr create-repository --repository-name vidpipe --region eu-west-1"
        " --image-scanning-configuration scanOnPush=true",
        "+ aws ecr get-login-password --region eu-west-1",
        f"+ docker login --username AWS --password-stdin {REGISTRY}",
        f"+ docker build --platform linux/amd64 --provenance=false -t {image} .",
        f"+ docker push {image}",
        f"ImageUri={image}",
    ]
    assert proc.stderr == ""  # account and region known: no placeholder note
    # a dry run makes no AWS call at all, not even a read-only one, and never runs docker
    assert calls_of(log, "aws") == [] and calls_of(log, "docker") == []


def test_dry_run_without_account_or_region_uses_placeholders(standins):
    bin_dir, log = standins
    proc = run(bin_dir, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "ImageUri=ACCOUNT_ID.dkr.ecr.REGION.amazonaws.com/vidpipe:0123456789ab" in proc.stdout
    assert "placeholder" not in proc.stdout and "ACCOUNT_ID/REGION stand for" in proc.stderr
    assert calls_of(log, "aws") == []


def test_dry_run_takes_account_and_region_from_the_environment(standins):
    bin_dir, log = standins
    proc = run(bin_dir, "--dry-run", AWS_ACCOUNT_ID="210987654321", AWS_REGION="ap-south-1")
    assert proc.returncode == 0, proc.stderr
    assert "ImageUri=210987654321.dkr.ecr.ap-south-1.amazonaws.com/vidpipe:" in proc.stdout
    assert calls_of(log, "aws") == []


def test_a_malformed_account_is_refused(standins):
    bin_dir, _ = standins
    proc = run(bin_dir, "--dry-run", "--account", "12ab")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "push_image.sh: --account must be a 12-digit AWS account id, got '12ab'"
    )


def test_help_is_the_header_comment_only(standins):
    bin_dir, log = standins
    proc = run(bin_dir, "--help")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Build the vidpipe image")
    assert "set -euo pipefail" not in proc.stdout
    assert not any(line.startswith("#") for line in lines)
    assert "--dry-run" in proc.stdout and "--account" in proc.stdout
    assert not log.exists()  # --help runs nothing


def test_existing_repo_dirty_tree_and_deploy(standins):
    bin_dir, log = standins
    proc = run(
        bin_dir,
        "--region",
        "us-east-1",
        "--account",
        "123456789012",
        "--dry-run",
        "--deploy",
        "--",
        "VideosBucketName=my-videos",
        GIT_DIRTY=" M README.md",
    )
    assert proc.returncode == 0, proc.stderr
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/vidpipe:0123456789ab-dirty"
    assert f"ImageUri={image}" in proc.stdout
    assert proc.stdout.splitlines()[-1] == (
        "+ sam deploy --template-file template.yaml --region us-east-1 --resolve-s3"
        " --capabilities CAPABILITY_IAM --image-repository"
        " 123456789012.dkr.ecr.us-east-1.amazonaws.com/vidpipe"
        f" --parameter-overrides ImageUri={image} VideosBucketName=my-videos"
    )
    assert calls_of(log, "aws") == [] and calls_of(log, "sam") == []


def test_real_run_creates_a_missing_repository(standins):
    bin_dir, log = standins
    proc = run(bin_dir, "--region", "eu-west-1", "--tag", "v1")
    assert proc.returncode == 0, proc.stderr
    assert "aws ecr create-repository --repository-name vidpipe --region eu-west-1" in "\n".join(
        calls_of(log, "aws")
    )
    assert proc.stdout.splitlines() == [f"ImageUri={REGISTRY}/vidpipe:v1"]


def test_account_that_does_not_match_the_credentials_is_refused(standins):
    bin_dir, _ = standins
    proc = run(bin_dir, "--region", "eu-west-1", "--account", "999999999999", "--tag", "v1")
    assert proc.returncode == 1
    assert "not the account of these credentials (123456789012)" in proc.stderr


def test_real_run_pipes_the_login_and_builds(standins):
    bin_dir, log = standins
    proc = run(bin_dir, "--region", "eu-west-1", "--tag", "v1", ECR_REPO_EXISTS="1")
    assert proc.returncode == 0, proc.stderr
    # `aws ecr get-login-password | docker login` run at once, so only docker's order is fixed;
    # the password reaches docker through the pipe, never through argv
    calls = [c for c in log.read_text().splitlines() if c.startswith("docker")]
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/vidpipe:v1"
    assert calls == [
        f"docker login --username AWS --password-stdin {REGISTRY}",
        "docker login got token",
        f"docker build --platform linux/amd64 --provenance=false -t {image} .",
        f"docker push {image}",
    ]


@pytest.mark.parametrize(
    ("missing", "message"),
    [("docker", "docker is not installed"), ("aws", "AWS CLI is not installed")],
)
def test_missing_tools_are_named(standins, missing, message):
    bin_dir, _ = standins
    (bin_dir / missing).unlink()
    # keep only our bin dir so a real docker/aws on the machine does not answer
    proc = subprocess.run(
        [BASH, str(SCRIPT), "--dry-run"],
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}:/nonexistent"},
        check=False,
    )
    assert proc.returncode != 0
    assert message in proc.stderr


def test_not_logged_in_is_a_clear_error(standins):
    bin_dir, _ = standins
    (bin_dir / "aws").write_text("#!/bin/sh\nexit 255\n")
    proc = run(bin_dir, "--region", "eu-west-1", "--tag", "v1")
    assert proc.returncode == 1
    assert "credentials are missing or expired" in proc.stderr


def test_shellcheck_is_clean():
    if shutil.which("shellcheck") is None:
        if os.environ.get("VIDPIPE_REQUIRE_TOOLS"):
            pytest.fail("shellcheck is required in CI")
        pytest.skip("shellcheck not installed")
    proc = subprocess.run(
        ["shellcheck", str(SCRIPT), str(ROOT / ".ci" / "run")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
