"""Serving the inspector's files: no key needed for the page itself, strict headers, and every
file shipped in the wheel."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import httpx

from memvault.api.app import create_app
from tests.conftest import FOUNDRY, make_settings

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "src" / "memvault" / "api" / "ui" / "static"


async def test_page_loads_without_a_key_while_the_api_needs_one(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "data", api_keys="secret"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            redirect = await client.get("/ui")
            assert redirect.status_code in (307, 308)
            assert redirect.headers["location"].endswith("/ui/")

            page = await client.get("/ui/")
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            policy = page.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "default-src 'none'" in policy
            assert page.headers["x-content-type-options"] == "nosniff"

            assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert {"app.js", "style.css", "icon.svg"} <= set(assets)
            types = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
            for asset in assets:
                response = await client.get(f"/ui/{asset}")
                assert response.status_code == 200, asset
                expected = types[asset.rsplit(".", 1)[1]]
                assert response.headers["content-type"].startswith(expected), asset
                assert response.headers["content-security-policy"] == policy

            assert (await client.get(f"{FOUNDRY}/memory_stores")).status_code == 401


async def test_a_missing_file_is_a_foundry_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/nothing-here.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_package_data_ships_every_static_file() -> None:
    """setuptools matches package-data globs against the package's directory."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["memvault"]
    package = REPO / "src" / "memvault"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    files = {path for path in STATIC.rglob("*") if path.is_file()}
    assert {"index.html", "app.js", "style.css"} <= {path.name for path in files}
    assert files <= shipped
