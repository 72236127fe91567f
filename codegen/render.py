"""Render a service package's files from the service model with the Jinja templates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jinja2

from codegen import names
from codegen.model import ServicePackage
from codegen.pipeline import TEMPLATES


def _py(value: Any) -> str:
    """A Python literal for a value from the spec: `repr` is the only way spec text enters code."""
    if isinstance(value, (str, bool, int, float, type(None))):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    raise TypeError(f"no Python literal for {type(value).__name__}")


def _markdown(text: str) -> str:
    """Spec prose in a README: keep it readable, stop it from opening HTML or code fences."""
    return text.replace("<", "&lt;").replace("```", "'''")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - Python and TOML, not HTML; spec text goes through filters
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["py"] = _py
    env.filters["join_py"] = lambda values: ", ".join(_py(v) for v in values)
    env.filters["toml"] = json.dumps  # a JSON string is a valid TOML basic string
    env.filters["comment"] = names.comment
    env.filters["markdown"] = _markdown
    return env


@dataclass(frozen=True)
class SpecRef:
    file: str
    sha256: str


@dataclass(frozen=True)
class ModelsPage:
    """What a version's models.py is made of: known as soon as its models are, before the
    service model (the pipeline formats the file while the rest is built)."""

    title: str
    major: int
    spec_file: str
    spec_sha256: str
    models_source: str


def render_models(
    env: jinja2.Environment, root: str, package: str, v: ModelsPage
) -> tuple[str, str]:
    """A version's models.py: its path relative to generated/, and its text."""
    ctx = {"v": v, "specs": [SpecRef(v.spec_file, v.spec_sha256)]}
    return f"{root}/{package}/v{v.major}/models.py", env.get_template("models.py.j2").render(ctx)


def render_package(pkg: ServicePackage, env: jinja2.Environment) -> dict[str, str]:
    """Every file of one distribution, keyed by path relative to generated/."""
    root = pkg.folder
    specs = [SpecRef(v.spec_file, v.spec_sha256) for v in pkg.versions]
    files: dict[str, str] = {}
    for v in pkg.versions:
        ctx = {"v": v, "specs": [SpecRef(v.spec_file, v.spec_sha256)]}
        base = f"{root}/{pkg.package}/v{v.major}"
        files[f"{base}/__init__.py"] = env.get_template("version_init.py.j2").render(ctx)
        files[f"{base}/client.py"] = env.get_template("client.py.j2").render(ctx)
        page = ModelsPage(v.title, v.major, v.spec_file, v.spec_sha256, v.models_source)
        path, text = render_models(env, root, pkg.package, page)
        files[path] = text
        if v.has_raw:
            files[f"{base}/_http.py"] = env.get_template("http.py.j2").render(ctx)
    ctx = {"pkg": pkg, "specs": specs}
    files[f"{root}/{pkg.package}/__init__.py"] = env.get_template("package_init.py.j2").render(ctx)
    files[f"{root}/{pkg.package}/py.typed"] = ""
    files[f"{root}/pyproject.toml"] = env.get_template("pyproject.toml.j2").render(ctx)
    files[f"{root}/README.md"] = env.get_template("README.md.j2").render(ctx)
    return files
