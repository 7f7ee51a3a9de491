"""``memvault mcp``: memory tools for MCP clients (Claude Desktop, IDEs, agent frameworks).

It is a client of a running memvault server, not a server of the database: it needs only the
``mcp`` extra (``pip install 'memvault[mcp]'``).
"""

from __future__ import annotations

import sys

import click

from memvault.client.http import DEFAULT_URL


@click.command(name="mcp")
@click.option("--store", required=True, envvar="MEMVAULT_MCP_STORE", show_envvar=True,
              help="The memory store the tools use (created with the server's defaults if it"
                   " does not exist).")
@click.option("--scope", required=True, envvar="MEMVAULT_MCP_SCOPE", show_envvar=True,
              help="The scope every tool reads and writes, e.g. your user id. The model never"
                   " chooses it.")
@click.option("--url", default=DEFAULT_URL, show_default=True, envvar="MEMVAULT_URL",
              show_envvar=True, help="The memvault server.")
@click.option("--api-key", default=None, envvar="MEMVAULT_API_KEY", show_envvar=True,
              help="API key for the memvault server (sent as a bearer token).")
@click.option("--project", default="default", show_default=True, envvar="MEMVAULT_PROJECT",
              show_envvar=True, help="The project the store belongs to.")
@click.option("--http", "use_http", is_flag=True,
              help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="MEMVAULT_MCP_HOST",
              show_envvar=True, help="With --http: the address to bind (loopback only).")
@click.option("--port", default=8000, show_default=True, type=int, envvar="MEMVAULT_MCP_PORT",
              show_envvar=True, help="With --http: the port to listen on.")
def command(store: str, scope: str, url: str, api_key: str | None, project: str,
            use_http: bool, host: str, port: int) -> None:
    """Serve memory tools (search, add, update, delete, list) over MCP.

    Over stdio by default, as MCP clients launch it; with --http, over streamable HTTP. The tools
    talk to the memvault server at --url.
    """
    from memvault.cli import is_loopback

    if use_http and not is_loopback(host):
        # The MCP endpoint has no authentication of its own: whoever reaches it reads the scope.
        raise click.UsageError(f"refusing to serve MCP on {host}: bind to a loopback address")
    try:
        import anyio

        from memvault.integrations import mcp as integration
    except ImportError as exc:
        raise click.ClickException(
            f"memvault mcp needs the MCP SDK ({exc}): pip install 'memvault[mcp]'") from exc
    from memvault.client import AsyncClient
    from memvault.errors import MemvaultError

    async def main() -> None:
        async with AsyncClient(url, project=project, api_key=api_key) as client:
            try:
                if await integration.ensure_store(client, store):
                    click.echo(f"memvault mcp: created memory store {store!r}", err=True)
            except MemvaultError as exc:
                # The tools report it to the model as long as it lasts (e.g. memvault is down).
                click.echo(f"memvault mcp: warning: {exc.message}", err=True)
            where = f"http://{host}:{port}/mcp" if use_http else "stdio"
            click.echo(f"memvault mcp: store {store!r}, scope {scope!r}, memvault at {url},"
                       f" serving on {where}", err=True)
            await integration.serve(client, store=store, scope=scope, http=use_http,
                                    host=host, port=port)

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        sys.exit(130)
