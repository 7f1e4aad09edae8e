"""The `biconnector` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from biconnector import logs, serving
from biconnector.cache import Answers, open_cache
from biconnector.errors import ConnectorError
from biconnector.portal.keys import UnreadableToken
from biconnector.portal.store import Portal, Portals
from biconnector.settings import Settings

if TYPE_CHECKING:
    from biconnector.portal.lifecycle import Lifecycle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="biconnector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="address to listen on (default: BIND_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: BIND_PORT)")
    cache = commands.add_parser("cache", help="the metadata cache")
    cache.add_argument("cache_command", choices=["clear"], help="clear: forget every answer")
    portals = commands.add_parser("portals", help="the portals that installed the application")
    portal_commands = portals.add_subparsers(dest="portals_command", required=True)
    portal_commands.add_parser("list", help="list them")
    register = portal_commands.add_parser(
        "register", help="add or update their connectors (after APP_DOMAIN changes, say)"
    )
    register.add_argument("member_ids", nargs="*", help="only these portals (default: all)")
    renew = portal_commands.add_parser(
        "renew", help="renew their tokens (run it monthly: unused refresh tokens lapse)"
    )
    renew.add_argument("member_ids", nargs="*", help="only these portals (default: all)")
    database = commands.add_parser("db", help="the application's own database")
    database.add_argument("db_command", choices=["upgrade"], help="apply its migrations")
    database.add_argument("--quiet", action="store_true", help="print nothing when it works")
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
    if args.command == "portals":
        return _portals(
            settings,
            args.portals_command,
            getattr(args, "member_ids", []),
        )
    if args.command == "db":
        return _upgrade(settings, quiet=args.quiet)
    return serving.serve(settings, args.host, args.port)


def _upgrade(settings: Settings, *, quiet: bool) -> int:
    state = Portals.of(settings)
    try:
        state.upgrade()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"The application's database ({_where(settings)}) cannot be used: {reason}",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        state.close()
    if not quiet:
        print(f"The application's database is up to date ({_where(settings)}).")
    return 0


async def _clear_cache(settings: Settings) -> int:
    answers = Answers(open_cache(settings), settings)
    try:
        return await answers.clear()
    finally:
        await answers.close()


def _portals(settings: Settings, command: str, member_ids: list[str]) -> int:
    # Here, not at the top: `serve` would otherwise load the SDK into the serving process.
    from biconnector.portal.lifecycle import Lifecycle

    lifecycle = Lifecycle(settings)
    try:
        lifecycle.portals.upgrade()
        known = lifecycle.portals.all()
        if command == "list":
            for portal in known:
                installed = f"{portal.installed_at:%Y-%m-%d}"
                print(f"{portal.member_id}  {portal.domain}  installed {installed}")
            print(f"{len(known)} portal(s) in {_where(settings)}.")
            return 0
        return _each(lifecycle, command, known, member_ids)
    except UnreadableToken as exc:
        print(f"{exc} Reinstall the application on each portal.", file=sys.stderr)
        return 2
    finally:
        lifecycle.close()


def _each(lifecycle: Lifecycle, command: str, known: list[Portal], member_ids: list[str]) -> int:
    """Register the connectors of (or renew the tokens of) the portals named, all when none
    is; 1 if any failed."""
    chosen = [portal for portal in known if not member_ids or portal.member_id in member_ids]
    failed = sorted(set(member_ids) - {portal.member_id for portal in chosen})
    for member_id in failed:
        print(f"{member_id}: no such portal has installed the application", file=sys.stderr)
    for portal in chosen:
        try:
            if command == "renew":
                lifecycle.renew(portal)
                print(f"{portal.domain}: tokens renewed")
                continue
            done = lifecycle.register(portal)
        except ConnectorError as exc:  # the lifecycle translates what it can foresee
            failed.append(portal.member_id)
            print(f"{portal.domain}: {exc.message}", file=sys.stderr)
            continue
        summary = ", ".join(
            f"{item.engine} {item.id} {'added' if item.added else 'updated'}" for item in done
        )
        print(f"{portal.domain}: {summary}")
    return 1 if failed else 0


def _where(settings: Settings) -> str:
    # The URL's password, if it has one, is not shown.
    return make_url(settings.database_url).render_as_string(hide_password=True)


def _describe(error: ValidationError) -> str:
    lines = ["The configuration is not valid:"]
    for item in error.errors():
        variable = "_".join(str(part) for part in item["loc"]).upper()
        lines.append(f"  {variable}: {item['msg']}" if variable else f"  {item['msg']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
