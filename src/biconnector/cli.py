"""The `biconnector` command."""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn
from pydantic import ValidationError

from biconnector import logs
from biconnector.cache import Answers, open_cache
from biconnector.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="biconnector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="address to listen on (default: BIND_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: BIND_PORT)")
    cache = commands.add_parser("cache", help="the metadata cache")
    cache.add_argument("cache_command", choices=["clear"], help="clear: forget every answer")
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValidationError as exc:
        print(_describe(exc), file=sys.stderr)
        return 2
    if args.command == "cache":
        removed = asyncio.run(_clear_cache(settings))
        where = "Redis" if settings.cache_url else settings.cache_directory.resolve()
        print(f"The metadata cache in {where} is empty ({removed} answers removed).")
        return 0
    logs.configure(settings)
    uvicorn.run(
        "biconnector.app:serve_app",
        factory=True,
        host=args.host or settings.bind_host,
        port=args.port or settings.bind_port,
        log_config=None,
        access_log=False,
    )
    return 0


async def _clear_cache(settings: Settings) -> int:
    answers = Answers(open_cache(settings), settings)
    try:
        return await answers.clear()
    finally:
        await answers.close()


def _describe(error: ValidationError) -> str:
    lines = ["The configuration is not valid:"]
    for item in error.errors():
        variable = "_".join(str(part) for part in item["loc"]).upper()
        lines.append(f"  {variable}: {item['msg']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
