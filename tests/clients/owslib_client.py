"""Drives a wades server with OWSLib, as a new user would.

Usage: python owslib_client.py BASE_URL

Lists the processes, describes `echo`, executes it synchronously and
asynchronously, polls the job until it is successful and fetches its results.
Prints every step; exits non-zero with a message naming the request, what was
expected and what came back on any mismatch.

OWSLib 0.35 (`owslib.ogcapi.processes.Processes`) covers GET /processes,
GET /processes/{id} and POST /processes/{id}/execution (`async_=True` sends
`Prefer: respond-async`). It has no method for job status or results, so those
requests go through the same object's `_request`, the transport every
`Processes` method uses (same headers, same error handling).
"""

import sys
import time

import owslib
from owslib.ogcapi.processes import Processes

TEXT = "wades, from OWSLib"
ASYNC_TEXT = "wades, from OWSLib, asynchronously"
POLL_TIMEOUT = 60.0


def fail(step, msg):
    print(f"FAIL [{step}]: {msg}", file=sys.stderr)
    sys.exit(1)


def step(name, fn):
    """Runs one client call; an exception becomes a clear failure."""
    print(f"--> {name}")
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 -- report whatever the client raised
        fail(name, f"{type(e).__name__}: {e}")


def output_value(doc, output_id):
    """The value of `output_id` in a results document (OGC 1.0 results.yaml):
    either the bare value or a qualified value `{"value": ...}`."""
    if not isinstance(doc, dict) or output_id not in doc:
        return None
    v = doc[output_id]
    if isinstance(v, dict) and "value" in v:
        return v["value"]
    return v


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base = sys.argv[1]
    print(f"OWSLib {owslib.__version__} against {base}")

    p = step("landing page (Processes(url))", lambda: Processes(base, timeout=30))
    print(f"    {len(p.links)} links")

    api = step("API definition (service-desc link)", p.api)
    if "openapi" not in api or "paths" not in api:
        fail("API definition", f"not an OpenAPI document: keys {sorted(api)[:10]}")
    print(f"    OpenAPI {api['openapi']}, {len(api['paths'])} paths")

    conf = step("conformance", p.conformance)
    core = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core"
    if core not in conf.get("conformsTo", []):
        fail("conformance", f"{core} missing from {conf}")

    processes = step("list processes", p.processes)
    ids = [x.get("id") for x in processes]
    print(f"    processes: {ids}")
    if "echo" not in ids:
        fail("list processes", f"`echo` not among {ids}")

    desc = step("describe echo", lambda: p.process("echo"))
    for key in ("inputs", "outputs"):
        if "stringInput" not in desc.get(key, {}):
            fail("describe echo", f"no stringInput in {key}: {sorted(desc.get(key, {}))}")
    jco = desc.get("jobControlOptions", [])
    for mode in ("sync-execute", "async-execute"):
        if mode not in jco:
            fail("describe echo", f"jobControlOptions {jco} lacks {mode}")
    print(f"    inputs: {sorted(desc['inputs'])}")

    # Synchronous: OWSLib sends `Prefer: respond-sync` and `response: document`
    # and parses the body as JSON.
    res = step(
        "execute echo synchronously (response=document)",
        lambda: p.execute("echo", inputs={"stringInput": TEXT}),
    )
    print(f"    results: {res}")
    got = output_value(res, "stringInput")
    if got != TEXT:
        fail("execute sync", f"stringInput came back as {got!r}, expected {TEXT!r}; document {res!r}")

    # Asynchronous: `Prefer: respond-async`; the standard answers 201 Created
    # with a status document and a Location header naming the job.
    status = step(
        "execute echo asynchronously (async_=True)",
        lambda: p.execute(
            "echo", inputs={"stringInput": ASYNC_TEXT, "pause": 0.3}, async_=True
        ),
    )
    headers = p.response_headers or {}
    print(f"    status: {status}")
    print(f"    Location: {headers.get('Location')}")
    job_id = status.get("jobID") if isinstance(status, dict) else None
    if not job_id:
        fail("execute async", f"the 201 body has no jobID: {status!r}")
    if status.get("status") not in ("accepted", "running", "successful"):
        fail("execute async", f"status {status.get('status')!r}, expected accepted/running")
    location = headers.get("Location")
    if not location or not location.rstrip("/").endswith(job_id):
        fail("execute async", f"Location header {location!r} does not name job {job_id}")

    # Poll the job (OWSLib has no job API: the same transport, by path).
    print(f"--> poll jobs/{job_id} until final")
    deadline = time.monotonic() + POLL_TIMEOUT
    seen = []
    while True:
        try:
            st = p._request(path=f"jobs/{job_id}")
        except Exception as e:  # noqa: BLE001
            fail("poll job", f"{type(e).__name__}: {e}")
        s = st.get("status")
        if not seen or seen[-1] != s:
            seen.append(s)
        if s in ("successful", "failed", "dismissed"):
            break
        if time.monotonic() > deadline:
            fail("poll job", f"still {s!r} after {POLL_TIMEOUT}s")
        time.sleep(0.1)
    print(f"    statuses seen: {seen}")
    if s != "successful":
        fail("poll job", f"job ended {s!r}: {st}")

    results = step(
        f"results of job {job_id}", lambda: p._request(path=f"jobs/{job_id}/results")
    )
    print(f"    results: {results}")
    got = output_value(results, "stringInput")
    if got != ASYNC_TEXT:
        fail("job results", f"stringInput came back as {got!r}, expected {ASYNC_TEXT!r}")

    print("OK: OWSLib listed, described, executed echo sync and async, and read the results")


if __name__ == "__main__":
    main()
