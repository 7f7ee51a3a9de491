"""The README documents every setting, and the package exports exactly its public names."""

from __future__ import annotations

import re
from pathlib import Path

import memvault
from memvault.settings import Settings, env_name, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_settings_table() -> str:
    text = README.read_text()
    match = re.search(r"<!-- settings-table:start -->\n(.*?)<!-- settings-table:end -->", text, re.S)
    assert match, "README.md lost its settings-table markers"
    return match.group(1).strip()


def test_readme_settings_table_is_current() -> None:
    assert readme_settings_table() == settings_table(), (
        "README settings table is stale; regenerate it with "
        "`python -c 'from memvault.settings import settings_table; print(settings_table())'`"
    )


def test_every_setting_has_help_and_a_variable() -> None:
    for name, info in Settings.model_fields.items():
        assert info.description, f"setting {name} has no description"
        assert env_name(name) in readme_settings_table()


def test_public_names_are_exactly_all() -> None:
    public = {name for name in dir(memvault) if not name.startswith("_")}
    # Subpackages appear as attributes once imported; they are reached by their module path.
    modules = {name for name in public if type(getattr(memvault, name)).__name__ == "module"}
    assert public - modules == set(memvault.__all__) - {"__version__"}
