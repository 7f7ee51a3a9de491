"""Foundry projects and Unity Catalog three-level names (``memvault.engine.namespaces``)."""

from __future__ import annotations

import pytest

from memvault.engine import namespaces
from memvault.engine.namespaces import StoreLocation
from memvault.errors import InvalidRequest


@pytest.mark.parametrize(
    ("full_name", "location"),
    [
        ("main.default.notes", StoreLocation("main", "default", "notes", "default")),
        ("main.team-1.notes", StoreLocation("main", "team-1", "notes", "team-1")),
        ("cat.sch.notes", StoreLocation("cat", "sch", "notes", "cat.sch")),
        # A Foundry-made store may have dots in its name: split at the first two dots only.
        ("main.default.v1.archive", StoreLocation("main", "default", "v1.archive", "default")),
    ],
)
def test_locate(full_name: str, location: StoreLocation) -> None:
    assert namespaces.locate(full_name, catalog="main") == location
    assert location.full_name == full_name
    assert namespaces.full_name(location.project, location.name, catalog="main") == full_name


@pytest.mark.parametrize(
    "full_name",
    ["notes", "main.notes", "main..notes", ".default.notes", "main.default.", "ma in.d.n",
     "main.de/f.n", "main.default.bad name", "main._x.n", "main.default.a:b", "main.default.n\n", 5, None],
)
def test_locate_refuses_what_is_no_full_name(full_name: object) -> None:
    with pytest.raises(InvalidRequest):
        namespaces.locate(full_name, catalog="main")


def test_the_default_catalog_decides_which_schemas_are_bare_projects() -> None:
    assert namespaces.locate("main.sales.n", catalog="main").project == "sales"
    assert namespaces.locate("main.sales.n", catalog="corp").project == "main.sales"
    assert namespaces.locate("corp.sales.n", catalog="corp").project == "sales"
    assert namespaces.catalog_and_schema("sales", catalog="corp") == ("corp", "sales")


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        ("default", ("main", "default")),
        ("cat.sch", ("cat", "sch")),
        # No catalog and schema produce these projects: their stores have no full name.
        ("main.default", None),
        ("a.b.c", None),
        ("x" * 64, None),
    ],
)
def test_catalog_and_schema_of_a_project(project: str, expected: tuple | None) -> None:
    assert namespaces.catalog_and_schema(project, catalog="main") == expected
    if expected is None:
        assert namespaces.full_name(project, "n", catalog="main") is None
        assert namespaces.schema_full_name(project, catalog="main") == f"project:{project}"
    else:
        assert namespaces.schema_full_name(project, catalog="main") == ".".join(expected)
        assert namespaces.project_key(*expected, catalog_default="main") == project


def test_new_location_refuses_dots_and_bad_parts() -> None:
    assert namespaces.new_location("main", "default", "agent_memory", catalog="main") == (
        StoreLocation("main", "default", "agent_memory", "default")
    )
    for args in (("main", "default", "a.b"), ("main", "de.f", "n"), ("ma.in", "d", "n"),
                 ("main", "default", ""), ("main", "", "n"), (None, "d", "n"),
                 ("main", "d", "x" * 129), ("main", "d" * 64, "n")):  # fmt: skip
        with pytest.raises(InvalidRequest):
            namespaces.new_location(*args, catalog="main")


def test_parse_full_name_leaves_plain_names_alone() -> None:
    assert namespaces.parse_full_name("notes", catalog="main") is None
    assert namespaces.parse_full_name("v1.notes", catalog="main") is None
    assert namespaces.parse_full_name("main.default.notes", catalog="main") == ("default", "notes")
    assert namespaces.parse_full_name("cat.sch.notes", catalog="main") == ("cat.sch", "notes")


def test_the_configured_catalog_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert namespaces.full_name("default", "n") == "main.default.n"
    monkeypatch.setenv("MEMVAULT_DEFAULT_CATALOG", "corp")
    assert namespaces.full_name("default", "n") == "corp.default.n"
    assert namespaces.parse_full_name("corp.sales.n") == ("sales", "n")
