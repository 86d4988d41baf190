"""The smallest Bolt for Python app that answers /tailer.

Bolt verifies the request's signature (SLACK_SIGNING_SECRET) and the handler only
acknowledges. The ingress benchmark (bench/ingress.sh) loads it with the same signed
commands as tailerbot.

    SLACK_SIGNING_SECRET=... PORT=3001 python app.py   ->   POST http://127.0.0.1:3001/slack/commands

It is the asynchronous app (AsyncApp), served one of the two ways Bolt's docs offer for
it, chosen by BOLT_SERVER:

- "uvicorn" (the default): the ASGI adapter under uvicorn (uvloop and httptools);
- "aiohttp": Bolt's built-in aiohttp server (AsyncApp.start).

Measured with the benchmark's load generator (64 connections, `status <job> <run>`, 10 s)
one after the other on the same 2-core machine: uvicorn 4,162 req/s (p99 31.6 ms) against
aiohttp 2,927 req/s (p99 40.4 ms); hence the default.

Bolt asks Slack who its token belongs to (auth.test) once, at the first request:
offline, SLACK_API_URL points it at the Slack stand-in (`tailerbot sim --slack-standin`).
"""

import logging
import os
import sys

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

PATH = "/slack/commands"


def build_app() -> AsyncApp:
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
    async def tailer(ack):
        await ack()

    return app


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    port = int(os.environ.get("PORT", "3001"))
    server = os.environ.get("BOLT_SERVER", "uvicorn")
    app = build_app()
    print(f"bolt-py ({server}) listening on {port}", flush=True)
    if server == "aiohttp":
        app.start(port=port, path=PATH, host="127.0.0.1")
    elif server == "uvicorn":
        import uvicorn
        from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler

        uvicorn.run(AsyncSlackRequestHandler(app, path=PATH), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    else:
        sys.exit(f"error: BOLT_SERVER must be uvicorn or aiohttp, not {server!r}")


if __name__ == "__main__":
    main()
