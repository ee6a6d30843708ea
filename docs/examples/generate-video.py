#!/usr/bin/env python3
"""Generates one video through the sora-pipeline HTTP API: submits the prompt, watches the job's
progress and saves the MP4. Python 3.8+, standard library only.

    python3 docs/examples/generate-video.py "A cat playing piano in a jazz club" cat.mp4

The API: SORA_API_URL with SORA_API_TOKEN (sent as "Authorization: Bearer <token>") or
SORA_AUTH_HEADER (a whole header line, "Name: value"); without SORA_API_URL, the apiUrl and
headers of .local/stack.json, which `npm start` writes.
Optional: SORA_MODEL, SORA_SIZE, SORA_SECONDS (the request's fields), SORA_POLL_SECONDS
(default 3), SORA_TIMEOUT_SECONDS (default 1800).
Exit status: 0 when the MP4 is saved, 1 when anything fails (the reason is printed), 2 for
wrong usage.
"""

import hashlib
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path


class Failure(Exception):
    """Anything that stops the example; its message is the reason shown to the user."""


def api_config():
    """The API URL and the headers that authenticate, from the environment or .local/stack.json."""
    url = os.environ.get("SORA_API_URL", "").strip()
    if url:
        headers = {}
        if os.environ.get("SORA_AUTH_HEADER"):
            name, _, value = os.environ["SORA_AUTH_HEADER"].partition(":")
            headers[name.strip()] = value.strip()
        elif os.environ.get("SORA_API_TOKEN"):
            headers["Authorization"] = "Bearer " + os.environ["SORA_API_TOKEN"]
        return url.rstrip("/"), headers
    repo_root = Path(__file__).resolve().parents[2]
    for path in (Path(".local/stack.json"), repo_root / ".local/stack.json"):
        if path.is_file():
            stack = json.loads(path.read_text())
            if not stack.get("apiUrl"):
                raise Failure(f"{path} has no apiUrl")
            return stack["apiUrl"].rstrip("/"), dict(stack.get("headers") or {})
    raise Failure(
        "no API configured: set SORA_API_URL and SORA_API_TOKEN, "
        "or run 'npm start' (it writes .local/stack.json)"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The content route answers 302 to a presigned S3 link; we follow it ourselves, without
    # the Authorization header (urllib would forward it, and S3 refuses two kinds of auth).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class Api:
    def __init__(self, url, headers):
        self.url = url
        self.headers = headers

    def call(self, method, path, body=None, headers=None):
        """Returns (status, headers, parsed JSON body or None). Never raises for an HTTP status."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        for name, value in {**self.headers, **(headers or {})}.items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _opener.open(request, timeout=30) as response:
                return response.status, response.headers, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.headers, _json(error.read())
        except (urllib.error.URLError, OSError) as error:
            raise Failure(f"{method} {path}: cannot reach {self.url} ({error})") from error


def _json(raw):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return {"message": raw[:500].decode(errors="replace")}


def http_failure(what, status, body):
    """A Failure naming the status and the reason: ours ({"error":{...}}) or API Gateway's."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        reason = f"{body['error'].get('code')}: {body['error'].get('message')}"
    elif isinstance(body, dict) and "message" in body:
        reason = body["message"]
    else:
        reason = json.dumps(body)
    hint = {
        401: " (no credentials sent: set SORA_API_TOKEN or SORA_AUTH_HEADER)",
        403: " (the API does not accept this token)",
    }.get(status, "")
    return Failure(f"{what}: HTTP {status}: {reason}{hint}")


def submit(api, prompt):
    request = {"prompt": prompt}
    for field in ("model", "size", "seconds"):
        value = os.environ.get(f"SORA_{field.upper()}")
        if value:
            request[field] = value
    # Retrying with the same Idempotency-Key can never start a second (paid) generation.
    key = f"generate-video-{uuid.uuid4()}"
    for attempt in range(1, 4):
        status, headers, body = api.call("POST", "/videos", request, {"Idempotency-Key": key})
        if status in (200, 202):
            return body
        if status not in (429, 503) or attempt == 3:
            raise http_failure("POST /videos", status, body)
        time.sleep(float(headers.get("Retry-After") or 5))
    raise AssertionError("unreachable")


def wait_until_done(api, job_id):
    poll_seconds = float(os.environ.get("SORA_POLL_SECONDS") or 3)
    deadline = time.monotonic() + float(os.environ.get("SORA_TIMEOUT_SECONDS") or 1800)
    last = None
    while True:
        status, _, job = api.call("GET", f"/videos/{job_id}")
        if status != 200:
            raise http_failure(f"GET /videos/{job_id}", status, job)
        line = f"{job['status']} {job['progress']}%"
        if line != last:
            print(f"  {line}", flush=True)
            last = line
        if job["status"] == "COMPLETED":
            return job
        if job["status"] == "FAILED":
            error = job.get("error") or {}
            raise Failure(f"video {job_id} FAILED: {error.get('code')}: {error.get('message')}")
        if time.monotonic() > deadline:
            raise Failure(f"video {job_id} is still {job['status']} after the timeout")
        time.sleep(poll_seconds)


def download(api, job, output):
    status, headers, body = api.call("GET", f"/videos/{job['id']}/content")
    if status != 302:
        raise http_failure(f"GET /videos/{job['id']}/content", status, body)
    partial = Path(f"{output}.part")
    digest = hashlib.sha256()
    try:
        # The link carries its own signature: no Authorization header goes to S3.
        with urllib.request.urlopen(headers["Location"], timeout=60) as response:
            with open(partial, "wb") as file:
                while chunk := response.read(1 << 16):
                    digest.update(chunk)
                    file.write(chunk)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise Failure(f"downloading the MP4 of {job['id']} failed: {error}") from error
    # Check the file against what the pipeline recorded, then move it into place.
    size = partial.stat().st_size
    if size != job["video"]["bytes"] or digest.hexdigest() != job["video"]["sha256"]:
        partial.unlink()
        raise Failure(f"the downloaded file ({size} bytes) does not match the job's size and sha256")
    shutil.move(str(partial), output)
    return size


def main(argv):
    if len(argv) != 3 or not argv[1].strip() or not argv[2]:
        print('Usage: generate-video.py "<prompt>" <output.mp4>', file=sys.stderr)
        return 2
    prompt, output = argv[1], argv[2]
    try:
        api = Api(*api_config())
        job = submit(api, prompt)
        print(
            f"Submitted {job['id']} ({job['model']}, {job['size']}, {job['seconds']} s, "
            f"about ${job['estimatedCostUsd']})",
            flush=True,
        )
        job = wait_until_done(api, job["id"])
        size = download(api, job, output)
    except Failure as failure:
        print(f"generate-video: {failure}", file=sys.stderr)
        return 1
    print(f"Saved {output} ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
