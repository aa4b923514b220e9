"""``[tool.thriftbuild]`` validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from thriftbuild.codegen.errors import ConfigurationError
from thriftbuild.codegen.model import GeneratorOptions
from thriftbuild.codegen.settings import BuildSettings, read_pyproject_table


def test_defaults_are_slots_auto_and_lenient() -> None:
    settings = BuildSettings.from_table({})
    assert settings.backend == "auto"
    assert settings.generator_options() == GeneratorOptions(("slots",), strict=False)


def test_every_documented_key_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.thriftbuild]\n"
        'include-dirs = ["idl"]\n'
        'gen-options = "slots, utf8strings"\n'
        "strict = true\n"
        'backend = "compiler"\n'
        'compiler = "/opt/thrift/bin/thrift"\n'
        'exclude = ["tests/*"]\n'
    )
    table = read_pyproject_table(tmp_path)
    assert table is not None
    settings = BuildSettings.from_table(table)
    # Every key, compared as a whole: a key read into the wrong field or dropped fails.
    assert settings == BuildSettings(
        include_dirs=("idl",),
        gen_options=("slots", "utf8strings"),
        strict=True,
        backend="compiler",
        compiler="/opt/thrift/bin/thrift",
        exclude=("tests/*",),
    )
    assert settings.include_paths(tmp_path) == [(tmp_path / "idl").resolve()]


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("include_dirs", "include-dirs"), ("gen-option", "gen-options"), ("excludes", "exclude")],
)
def test_unknown_key_names_the_key_and_the_near_one(key: str, suggestion: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        BuildSettings.from_table({key: []})
    assert str(error.value) == (
        f"unknown key {key!r} in [tool.thriftbuild]; did you mean {suggestion!r}?"
    )


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"backend": "fast"}, "backend in [tool.thriftbuild] must be one of"),
        ({"strict": "yes"}, "strict in [tool.thriftbuild] must be true or false"),
        ({"include-dirs": "idl"}, "include-dirs in [tool.thriftbuild] must be a list of strings"),
        ({"compiler": ""}, "compiler in [tool.thriftbuild] must be a non-empty string"),
    ],
)
def test_wrong_value_types_are_rejected_with_the_value(
    table: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConfigurationError, match="got"):
        BuildSettings.from_table(table)
    with pytest.raises(ConfigurationError) as error:
        BuildSettings.from_table(table)
    assert fragment in str(error.value)


def test_thrift_environment_variable_wins_over_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = BuildSettings.from_table({"compiler": "/from/pyproject"})
    monkeypatch.delenv("THRIFT", raising=False)
    assert settings.effective_compiler() == "/from/pyproject"
    monkeypatch.setenv("THRIFT", "/from/env")
    assert settings.effective_compiler() == "/from/env"


def test_missing_table_is_none_and_broken_toml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert read_pyproject_table(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text("[tool.thriftbuild\n")
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_pyproject_table(tmp_path)
