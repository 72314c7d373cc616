"""The authorization bridge of kamailio.cfg (WITH_AUTHORIZE): Kamailio's suspended INVITEs, received
over its evapi socket, asked of POST /v1/authorize, answered back so that Kamailio resumes them.

Every question is its own task: a slow answer never holds up the next one, and Kamailio's SIP
workers never wait at all (the transaction is suspended there). Every question gets a reply within
`timeout` seconds: the API's answer, or "unavailable" (no answer in time, connection refused, a 5xx
or 504, a token the API refuses), on which Kamailio applies AUTH_FAIL_POLICY. Kamailio's own watchdog
(AUTH_WAIT_SECONDS, longer) covers a bridge that is stuck or gone.

    python -m pipeline.adapters.kamailio_authorize --evapi 127.0.0.1:8448 --api http://127.0.0.1:8080
The bearer token: RATING_SWITCH_API_TOKEN, or --token-file (a `token create --switch SERVER` token,
or the admin's). Started by deploy/kamailio/switch.sh (deploy/local/up --switch).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import click
import httpx
import orjson

from pipeline.adapters.card_dial import PIN_MASK, DialError, mask_pins
from pipeline.adapters.kamailio_evapi import (
    HELLO,
    FrameError,
    NetstringReader,
    answered,
    authorize_body,
    bad_dial,
    card_dial,
    netstring,
    unavailable,
)
from pipeline.logging_setup import setup_logging
from pipeline.settings import Settings

log = logging.getLogger(__name__)
IN_FLIGHT = 512  # questions asked of the API at once; more wait their turn (Kamailio's watchdog still runs)


class AuthorizeBridge:
    def __init__(self, evapi: tuple[str, int], client: httpx.AsyncClient, server_id: str, timeout: float) -> None:
        self.evapi = evapi
        self.client = client
        self.server_id = server_id
        self.timeout = timeout
        self._slots = asyncio.Semaphore(IN_FLIGHT)

    async def run(self, stop: asyncio.Event) -> None:
        """Connected to Kamailio until `stop`; reconnects whenever Kamailio goes away."""
        delay, said = 0.2, False
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(*self.evapi)
            except OSError as exc:
                if not said:
                    log.warning("Kamailio's evapi %s:%s not reachable (%s); retrying", *self.evapi, exc)
                    said = True
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 2.0)
                continue
            log.info("connected to Kamailio's evapi %s:%s as server %s", *self.evapi, self.server_id)
            delay, said = 0.2, False
            await self._serve(reader, writer, stop)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
        lock = asyncio.Lock()
        tasks: set[asyncio.Task] = set()
        frames = NetstringReader()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await _send(writer, lock, HELLO)
            while True:
                reading = asyncio.ensure_future(reader.read(65536))
                await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not reading.done():
                    reading.cancel()
                    break
                data = reading.result()
                if not data:
                    log.warning("Kamailio closed the evapi connection")
                    break
                for frame in frames.feed(data):
                    task = asyncio.create_task(self._answer(frame, writer, lock))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        except (OSError, FrameError) as exc:
            log.warning("evapi connection lost: %s", exc)
        finally:
            stopping.cancel()
            if tasks:  # questions already asked get their replies if the connection still takes them
                await asyncio.wait(tasks, timeout=self.timeout + 1)
            writer.close()

    async def _answer(self, frame: bytes, writer: asyncio.StreamWriter, lock: asyncio.Lock) -> None:
        try:
            question = orjson.loads(frame)
            int(question["tindex"]), int(question["tlabel"]), question["call_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.error("not a question Kamailio asks: %s", mask_pins(repr(frame[:200])))
            return
        async with self._slots:
            reply = await self.ask(question)
        try:
            await _send(writer, lock, reply)
        except OSError as exc:  # Kamailio's watchdog resumes that call with its policy
            log.warning("reply for %s not delivered: %s", question["call_id"], exc)

    async def ask(self, question: dict) -> dict:
        call = question["call_id"]
        try:
            dial = card_dial(question)  # a calling card's *CARD*PIN#DESTINATION, or None
        except DialError as exc:
            log.info("authorize %s/%s: not a card dial string (%s): 484", self.server_id, call, exc)
            return bad_dial(question, exc)
        try:
            response = await asyncio.wait_for(
                self.client.post("/v1/authorize", json=authorize_body(question, self.server_id, dial)), self.timeout)
        except (TimeoutError, httpx.TimeoutException):
            return self._unavailable(question, f"no answer from the API within {self.timeout:g} s")
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return self._unavailable(question, f"API not reachable: {type(exc).__name__}: {exc}", dial)
        if response.status_code != 200:  # a 422 may quote the body, PIN included: redacted below
            return self._unavailable(question, f"API answered {response.status_code}: {response.text[:200]}", dial)
        try:
            reply = answered(question, response.json(), dial)
        except (ValueError, TypeError) as exc:
            return self._unavailable(question, f"API answer not understood: {exc}", dial)
        log.debug("%s: %s", call, reply)
        return reply

    def _unavailable(self, question: dict, detail: str, dial=None) -> dict:
        if dial is not None and dial.pin:  # the detail goes to the log here and in Kamailio
            detail = detail.replace(dial.pin, PIN_MASK)
        log.warning("authorize %s/%s: %s", self.server_id, question["call_id"], detail)
        return unavailable(question, detail)


async def _send(writer: asyncio.StreamWriter, lock: asyncio.Lock, message: dict) -> None:
    async with lock:  # one whole netstring at a time
        writer.write(netstring(orjson.dumps(message)))
        await writer.drain()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def read_token(token_file: Path | None, settings: Settings) -> str:
    if token_file is not None:
        return token_file.read_text().strip()
    return (getattr(settings, "switch_api_token", "") or os.environ.get("RATING_SWITCH_API_TOKEN", "")).strip()


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--evapi")
    return host, int(port)


@click.command(help="Answer Kamailio's suspended INVITEs (evapi) with POST /v1/authorize.")
@click.option("--evapi", "evapi", default="127.0.0.1:8448", show_default=True,
              help="Kamailio's evapi socket (kamailio.cfg AUTH_EVAPI_LISTEN)")
@click.option("--api", "api_url", default=None,
              help="the API's base URL (default: http://RATING_API_HOST:RATING_API_PORT)")
@click.option("--server", default=None, help="server_id of this switch's calls (default: RATING_SWITCH_SERVER)")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="a file holding the bearer token (default: RATING_SWITCH_API_TOKEN)")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None,
              help="seconds to wait for the API (default: RATING_AUTHORIZE_TIMEOUT_MS + 1 s; keep it below "
                   "kamailio.cfg's AUTH_WAIT_SECONDS)")
def main(evapi: str, api_url: str | None, server: str | None, token_file: Path | None, timeout: float | None) -> None:
    settings = Settings()
    setup_logging(settings.log_level)
    token = read_token(token_file, settings)
    if not token:
        raise click.UsageError("no bearer token: set RATING_SWITCH_API_TOKEN or give --token-file")
    wait = timeout or settings.authorize_timeout_ms / 1000 + 1
    url = api_url or f"http://{settings.api_host}:{settings.api_port}"
    asyncio.run(_run(_host_port(evapi), url, token, server or settings.switch_server, wait))


async def _run(evapi: tuple[str, int], url: str, token: str, server_id: str, timeout: float) -> None:
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=timeout, limits=limits) as client:
        log.info("authorizing calls of server %s with %s", server_id, url)
        await AuthorizeBridge(evapi, client, server_id, timeout).run(stop)


if __name__ == "__main__":
    main()
