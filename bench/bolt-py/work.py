"""A Bolt for Python app doing for `/tailer status JOB RUN` the work tailerbot does.

Bolt verifies the request's signature (SLACK_SIGNING_SECRET), the handler acknowledges at
once, then asks Tailer for the run (`check_run_status`), writes a short answer and posts
it to the command's `response_url`. The ingress benchmark (bench/ingress.sh) loads it with
the same signed commands as tailerbot and checks, at the Slack stand-in, that every
acknowledged command got exactly one reply.

    SLACK_SIGNING_SECRET=... TAILER_API_URL=http://127.0.0.1:8081 TAILER_API_TOKEN=... \\
      PORT=3001 python work.py   ->   POST http://127.0.0.1:3001/slack/commands

It is the asynchronous app (AsyncApp) under uvicorn, as app.py serves it by default. With
Bolt's default `process_before_response=False`, `ack()` answers the request and the rest
of the listener goes on after it.

Tailer is called as tailerbot calls it: POST TAILER_API_URL/v1/dag/status, header
`Authorization: Bearer TAILER_API_TOKEN`, a JSON body with `action: check_run_status`, the
job's account, environment, configuration type and id, `job_id` and `run_id`. One call per
command: unlike tailerbot, nothing is shared between identical reads.

Both destinations go through one shared aiohttp session, opened at the server's start
(ASGI lifespan) and closed at its end, of at most HTTP_POOL (64) keep-alive connections;
a call has TAILER_TIMEOUT_SECS (10, tailerbot's `timeout_secs`) to finish. A call that
fails is counted and logged to stderr (the first 20 of each kind), never raised; a failed
Tailer call still gets a reply, saying so, as tailerbot's does. The counts are printed to
stderr when the server stops:

    work-py: commands=... tailer_calls=... tailer_errors=... replies=... reply_errors=...

Bolt asks Slack who its token belongs to (auth.test) once, at the first request: offline,
SLACK_API_URL points it at the Slack stand-in (`tailerbot sim --slack-standin`), as in app.py.
"""

import json
import logging
import os
import sys
from typing import Any, Optional

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

PATH = "/slack/commands"
# The largest answer read from Tailer (tailerbot's `max_response_bytes`).
MAX_RESPONSE_BYTES = 8 * 1024 * 1024

# The jobs of tailerbot.example.toml that the benchmark asks about, as tailerbot knows
# them (`job_id` of a table-to-table operation: `gbq-to-gbq|<configuration_id>`).
JOBS = {
    "iowa-prepare": {
        "account": "000099",
        "environment": "DEV",
        "configuration_type": "table-to-table",
        "configuration_id": "000099_iowa_liquor_prepare_pda_DEV",
        "job_id": "gbq-to-gbq|000099_iowa_liquor_prepare_pda_DEV",
    },
    "sales-daily": {
        "account": "000099",
        "environment": "PROD",
        "configuration_type": "table-to-table",
        "configuration_id": "000099_sales_daily_PROD",
        "job_id": "gbq-to-gbq|000099_sales_daily_PROD",
    },
}


class TailerError(Exception):
    pass


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body of `response`, or TailerError beyond `limit` bytes (left unread)."""
    if response.content_length is not None and response.content_length > limit:
        raise TailerError(f"an answer larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise TailerError(f"an answer larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class Work:
    """The Tailer call and the reply, over one shared HTTP session, with their counts."""

    def __init__(self, tailer_url: str, tailer_token: str, pool: int, timeout: float) -> None:
        self.status_url = tailer_url.rstrip("/") + "/v1/dag/status"
        self.auth = {"Authorization": f"Bearer {tailer_token}"}
        self.pool = pool
        self.timeout = timeout
        self.session: Optional[aiohttp.ClientSession] = None
        self.counts = {"commands": 0, "tailer_calls": 0, "tailer_errors": 0, "replies": 0, "reply_errors": 0}
        self.logged = {"tailer_errors": 0, "reply_errors": 0}

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.pool, limit_per_host=self.pool),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        print("work-py: " + " ".join(f"{k}={v}" for k, v in self.counts.items()), file=sys.stderr, flush=True)

    def failed(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        self.logged[kind] += 1
        if self.logged[kind] <= 20:
            print(f"work-py: {kind.replace('_errors', '')} call failed: {message}", file=sys.stderr, flush=True)
            if self.logged[kind] == 20:
                print(f"work-py: further {kind} are only counted", file=sys.stderr, flush=True)

    async def check_run_status(self, job: dict, run: str) -> Optional[dict]:
        """The run's item, None when Tailer has none; raises TailerError."""
        assert self.session is not None, "the session opens at the server's start"
        self.counts["tailer_calls"] += 1
        body = {"action": "check_run_status", **job, "run_id": run}
        try:
            async with self.session.post(self.status_url, json=body, headers=self.auth) as response:
                # An unknown run is a 404 or an empty `results` (the docs allow both).
                if response.status == 404:
                    await read_capped(response, MAX_RESPONSE_BYTES)
                    return None
                raw = await read_capped(response, MAX_RESPONSE_BYTES)
                if not 200 <= response.status < 300:
                    raise TailerError(f"Tailer answered {response.status}: {raw[:200].decode('utf-8', 'replace')}")
        except TailerError:
            raise
        except Exception as e:  # a transport error, a timeout, a bad URL: counted, never raised to Bolt
            raise TailerError(f"{type(e).__name__}: {e}") from e
        try:
            answer: Any = json.loads(raw)
        except ValueError as e:
            raise TailerError(f"Tailer's answer is not JSON: {raw[:200].decode('utf-8', 'replace')}") from e
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise TailerError("Tailer's answer has no `results` list")
        return next((item for item in results if isinstance(item, dict) and item.get("run_id") == run), None)

    async def status_text(self, name: str, job: dict, run: str) -> str:
        try:
            item = await self.check_run_status(job, run)
        except TailerError as e:
            self.failed("tailer_errors", str(e))
            return f":warning: Tailer did not answer for run `{run}` of {name}: {e}"
        if item is None:
            return f"Tailer has no status for run `{run}` of {name} yet: a run that was just launched can take a moment to show."
        parts = [f"Run `{run}` of {name} ({job['environment']}): *{item.get('status')}*"]
        if item.get("start_execution_date"):
            parts.append(f"started {item['start_execution_date']}")
        if item.get("duration"):
            parts.append(f"took {item['duration']}")
        if item.get("last_update_date"):
            parts.append(f"last update {item['last_update_date']}")
        return ", ".join(parts)

    async def reply(self, response_url: Optional[str], text: str) -> None:
        assert self.session is not None, "the session opens at the server's start"
        if not response_url:
            self.failed("reply_errors", "the command has no response_url")
            return
        try:
            async with self.session.post(response_url, json={"response_type": "ephemeral", "text": text}) as response:
                body = await read_capped(response, 64 * 1024)
                if not 200 <= response.status < 300:
                    self.failed("reply_errors", f"response_url answered {response.status}: {body[:200].decode('utf-8', 'replace')}")
                    return
        except Exception as e:  # a transport error, a timeout, a bad URL: counted, never raised to Bolt
            self.failed("reply_errors", f"{type(e).__name__}: {e}")
            return
        self.counts["replies"] += 1


def build_app(work: Work) -> AsyncApp:
    signing_secret = os.environ.get("SLACK_SIGNING_SECRET")
    if not signing_secret:
        sys.exit("error: SLACK_SIGNING_SECRET is required")
    token = os.environ.get("SLACK_BOT_TOKEN", "xoxb-bench")
    api_url = os.environ.get("SLACK_API_URL")
    client = AsyncWebClient(token=token, base_url=api_url.rstrip("/") + "/") if api_url else AsyncWebClient(token=token)
    app = AsyncApp(
        signing_secret=signing_secret,
        # A single-workspace app: the client carries the bot token, which Bolt checks
        # with auth.test at the first request.
        client=client,
    )

    @app.command("/tailer")
    async def tailer(ack, command):
        words = (command.get("text") or "").split()
        job = JOBS.get(words[1]) if len(words) == 3 and words[0] == "status" else None
        if job is None:
            await ack(response_type="ephemeral", text="This app answers `/tailer status <job> <run>` only, for a job it knows.")
            return
        await ack()
        work.counts["commands"] += 1
        text = await work.status_text(words[1], job, words[2])
        await work.reply(command.get("response_url"), text)

    return app


class Lifespan:
    """The ASGI app with the shared session opened at the server's start and closed at
    its end (Bolt's ASGI handler only acknowledges the lifespan events)."""

    def __init__(self, inner, work: Work) -> None:
        self.inner = inner
        self.work = work

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "lifespan":
            await self.inner(scope, receive, send)
            return
        message = await receive()
        if message["type"] == "lifespan.startup":
            await self.work.open()
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        if message["type"] == "lifespan.shutdown":
            await self.work.close()
            await send({"type": "lifespan.shutdown.complete"})


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    tailer_url = os.environ.get("TAILER_API_URL")
    tailer_token = os.environ.get("TAILER_API_TOKEN")
    if not tailer_url or not tailer_token:
        sys.exit("error: TAILER_API_URL and TAILER_API_TOKEN are required")
    port = int(os.environ.get("PORT", "3001"))
    work = Work(
        tailer_url,
        tailer_token,
        pool=int(os.environ.get("HTTP_POOL", "64")),
        timeout=float(os.environ.get("TAILER_TIMEOUT_SECS", "10")),
    )
    app = build_app(work)
    print(f"bolt-py (work, uvicorn) listening on {port}", flush=True)
    import uvicorn
    from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler

    uvicorn.run(
        Lifespan(AsyncSlackRequestHandler(app, path=PATH), work),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
