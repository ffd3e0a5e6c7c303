"""``vidpipe local serve``: the real api handler over HTTP, a presigned POST used with a real HTTP
client against moto (S3's policy check in front), and the plan running behind it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.helpers import sample
from vidpipe.s3post import PolicyError, check_post, signature
from vidpipe.serve import LocalServer, local_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    mp = pytest.MonkeyPatch()
    mp.setenv("MAX_VIDEO_BYTES", str(6 * 1024 * 1024))
    mp.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with local_server(tmp_path_factory.mktemp("serve"), port=0, visibility_timeout_s=2) as srv:
        yield srv
    mp.undo()


def api(server: LocalServer, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, server.url + path.lstrip("/"), json=body, timeout=30)


def ticket(server: LocalServer, shortcode: str, path: Path, **over: Any) -> dict[str, Any]:
    body = {
        "platform": "demo",
        "shortcode": shortcode,
        "filename": path.name,
        "content_type": "video/mp4",
        "size_bytes": path.stat().st_size,
        "stages": ["frame-extract"],
        **over,
    }
    got = api(server, "POST", "/videos", body)
    assert got.status_code == 201, got.text
    return got.json()


def upload(t: dict[str, Any], data: bytes, **fields: str) -> requests.Response:
    form = {**t["upload"]["fields"], **fields}
    return requests.post(
        t["upload"]["url"], data=form, files={"file": ("video.mp4", data)}, timeout=60
    )


def wait_final(server: LocalServer, shortcode: str, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = api(server, "GET", f"/videos/demo/{shortcode}")
        if got.status_code == 200 and got.json()["state"] not in ("queued", "running"):
            return got.json()
        time.sleep(0.5)
    raise AssertionError(f"demo/{shortcode} did not finish: {got.text}")


def test_health_and_the_console_are_served(server):
    got = api(server, "GET", "/health")
    assert got.status_code == 200, got.text
    assert got.json()["mode"] == "local" and got.json()["services"]["rekognition"] == "emulated"
    page = requests.get(server.url, timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert requests.get(server.url + "openapi.json", timeout=10).json()["openapi"] == "3.1.0"


@pytest.mark.samples
def test_a_presigned_post_lands_at_its_key_with_the_plan_and_the_plan_runs(server):
    clip = sample("documentary_cuts.mp4")
    t = ticket(server, "cuts1", clip, options={"frame-extract": {"min_frames": 3}})
    got = upload(t, clip.read_bytes())
    assert got.status_code == 204, got.text
    s3 = server.stack.client("s3")
    head = s3.head_object(Bucket=server.stack.videos_bucket, Key="demo/cuts1/video.mp4")
    assert head["Metadata"]["vidpipe-stages"] == "frame-extract"
    assert json.loads(head["Metadata"]["vidpipe-options"]) == {"frame-extract": {"min_frames": 3}}
    assert head["ContentLength"] == clip.stat().st_size
    # S3's event -> SNS -> the entry queue -> the plan -> frame-extract, with nothing else
    status = wait_final(server, "cuts1")
    assert status["state"] == "succeeded", status
    assert status["options"] == {"frame-extract": {"min_frames": 3}}
    frames = api(server, "GET", "/videos/demo/cuts1/frames").json()["frames"]
    assert len(frames) == 6
    assert requests.get(frames[0]["url"], timeout=10).content[:2] == b"\xff\xd8"
    # the report is written when the plan finishes
    deadline = time.monotonic() + 30
    while api(server, "GET", "/videos/demo/cuts1").json()["report_url"] is None:
        assert time.monotonic() < deadline, "no report"
        time.sleep(0.3)
    report = api(server, "GET", "/videos/demo/cuts1/report")
    assert report.status_code == 200 and "Key frames (6)" in report.text
    listed = api(server, "GET", "/videos?platform=demo").json()["videos"]
    assert ("cuts1", "succeeded") in {(v["shortcode"], v["state"]) for v in listed}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"key": "demo/other/video.mp4"}, "AccessDenied"),
        ({"key": "demo/up1/frames/0.jpg"}, "AccessDenied"),
        ({"Content-Type": "text/html"}, "AccessDenied"),
        ({"x-amz-meta-vidpipe-stages": "rekognition,physics"}, "AccessDenied"),
        ({"x-amz-meta-extra": "1"}, "AccessDenied"),
        ({"x-amz-signature": "0" * 64}, "SignatureDoesNotMatch"),
    ],
)
def test_a_post_that_breaks_its_policy_is_refused(server, synth_clip, fields, code):
    t = ticket(server, "up1", synth_clip[0])
    got = upload(t, synth_clip[0].read_bytes(), **fields)
    assert got.status_code == 403, got.text
    assert f"<Code>{code}</Code>" in got.text
    s3 = server.stack.client("s3")
    listed = s3.list_objects_v2(Bucket=server.stack.videos_bucket, Prefix="demo/up1/")
    assert listed.get("KeyCount", 0) == 0
    listed = s3.list_objects_v2(Bucket=server.stack.videos_bucket, Prefix="demo/other/")
    assert listed.get("KeyCount", 0) == 0


def test_a_file_over_the_policy_size_is_refused(server, synth_clip):
    t = ticket(server, "big1", synth_clip[0])
    got = upload(t, b"\0" * (6 * 1024 * 1024 + 1))
    assert got.status_code == 400 and "<Code>EntityTooLarge</Code>" in got.text


def test_an_expired_policy_is_refused():
    policy = base64.b64encode(
        json.dumps({"expiration": "2020-01-01T00:00:00Z", "conditions": [{"bucket": "b"}]}).encode()
    ).decode()
    fields = {
        "policy": policy,
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": "local/20200101/us-east-1/s3/aws4_request",
        "x-amz-signature": signature("local", "20200101", "us-east-1", policy),
    }
    with pytest.raises(PolicyError, match="expired"):
        check_post(fields, "b", 1, "local")
    later = datetime(2019, 12, 31, tzinfo=UTC) + timedelta(hours=1)
    with pytest.raises(PolicyError, match="Extra input fields: x-amz-algorithm"):
        check_post(fields, "b", 1, "local", now=later)


def test_a_run_through_http_re_plans_the_uploaded_video(server, synth_clip):
    t = ticket(server, "run1", synth_clip[0])
    assert upload(t, synth_clip[0].read_bytes()).status_code == 204
    first = wait_final(server, "run1")
    run = {"stages": ["frame-extract", "rekognition"]}
    got = api(server, "POST", "/videos/demo/run1/runs", run)
    assert got.status_code == 202, got.text
    run_id = got.json()["run_id"]
    deadline = time.monotonic() + 120
    while True:
        status = api(server, "GET", "/videos/demo/run1").json()
        if status["upload_id"].endswith(run_id) and status["state"] != "running":
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["upload_id"] == f"{first['upload_id']}:run:{run_id}"
    assert status["state"] == "succeeded"
    assert [s["stage"] for s in status["stage_status"]] == ["frame-extract", "rekognition"]
    assert "rekognition/analysis.json" in {o["name"] for o in status["outputs"]}


@pytest.mark.samples
def test_the_curl_examples_of_docs_api_md_work(server, tmp_path):
    import re
    import shutil
    import subprocess

    from tests.support.helpers import ROOT, SAMPLES

    if not (shutil.which("curl") and shutil.which("jq")):
        pytest.skip("curl and jq are needed to run docs/api.md's examples")
    text = (ROOT / "docs" / "api.md").read_text().split("## Errors")[0]
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 10
    script = "\n".join(blocks)
    script = script.replace("API=http://127.0.0.1:8000", f"API={server.url.rstrip('/')}")
    script = script.replace("../shared/samples/", f"{SAMPLES}/").replace("cuts1", "docs1")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    assert "204" in done.stdout.split()  # S3 took the upload
    assert '"state": "succeeded"' in done.stdout
    assert (tmp_path / "report.html").read_text().count("X-Amz-Signature") > 6
    deadline = time.monotonic() + 60
    while api(server, "GET", "/videos/demo/docs1").json()["stages"] != [
        "frame-extract",
        "rekognition",
    ]:  # the run re-plans it
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_serve_on_a_port_in_use_is_one_line_and_exit_code_2(tmp_path):
    import socket
    import subprocess
    import sys

    from tests.support.helpers import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "vidpipe.cli",
                "local",
                "serve",
                "--port",
                str(port),
                "--state-dir",
                str(tmp_path),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot serve on 127.0.0.1:{port}")
    assert "Traceback" not in proc.stderr


def test_a_body_over_the_limit_is_refused_before_the_function(server):
    got = requests.post(
        server.url + "videos",
        data=b"{" * (1024 * 1024 + 1),
        timeout=30,
        headers={"content-type": "application/json"},
    )
    assert got.status_code == 413 and got.json() == {"message": "Request Entity Too Large"}
    assert api(server, "GET", "/health").status_code == 200  # and the server goes on
