"""docs/api.md's reference part, rendered from the OpenAPI document of a running hub.

    .venv/bin/python scripts/api_docs.py          # rewrite the generated part of docs/api.md
    .venv/bin/python scripts/api_docs.py --check  # exit 1 if it is out of date

The hub is the shipped configuration (config/) with device telemetry (`http_ingest:`) on a
throwaway data dir, its embedded broker on a free port: the routes a new install serves. The
prose around the generated part is written by hand; tests/api/test_openapi.py fails when the
generated part differs from what the running hub describes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"
BEGIN = "<!-- BEGIN GENERATED: scripts/api_docs.py renders this from /api/v1/openapi.json; do not edit -->"
END = "<!-- END GENERATED -->"
METHODS = ("get", "post", "put", "patch", "delete")


def reference_config(dest: Path) -> Path:
    """Write the reference hub's configuration folder at dest and return it."""
    shutil.copytree(ROOT / "config", dest, ignore=shutil.ignore_patterns(".storage", "secrets.yaml"))
    text = (dest / "configuration.yaml").read_text()
    # Another hub (or test) may hold port 1883: the embedded broker takes a free one.
    text = text.replace("\nmqtt:\n", "\nmqtt:\n  embedded:\n    port: 0\n")
    (dest / "configuration.yaml").write_text(text + "\nhttp_ingest:\n")
    return dest


def _schema_text(schema: Any) -> str:
    """A short one-line rendering of a schema: a $ref's name, an array of ..., a type."""
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if schema.get("type") == "array":
        return f"array of {_schema_text(schema.get('items', {}))}".rstrip()
    for combined in ("allOf", "anyOf", "oneOf"):
        if combined in schema:
            joiner = " and " if combined == "allOf" else " or "
            return joiner.join(filter(None, (_schema_text(s) for s in schema[combined])))
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if "enum" in schema:
        return f"{kind} (" + ", ".join(f"`{v}`" for v in schema["enum"]) + ")"
    return str(kind)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _body_schema(part: dict[str, Any]) -> tuple[str, str]:
    for media, content in (part.get("content") or {}).items():
        return media, _schema_text(content.get("schema", {}))
    return "", ""


def _operation(path: str, method: str, op: dict[str, Any], shared: list[dict[str, Any]], secured: bool) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if op.get("summary"):
        lines += [f"{op['summary']}.", ""]
    if op.get("description"):
        lines += [op["description"], ""]
    security = op.get("security")
    if security == []:
        lines += ["Authentication: none (the operation authenticates by itself).", ""]
    elif security:
        schemes = ", ".join(name for entry in security for name in entry)
        lines += [f"Authentication: {schemes}.", ""]
    elif secured:
        lines += ["Authentication: bearer.", ""]
    parameters = [*shared, *op.get("parameters", [])]
    if parameters:
        lines += ["| parameter | in | required | type | description |", "|---|---|---|---|---|"]
        for p in parameters:
            lines.append(f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
                         f"{_cell(_schema_text(p.get('schema', {})))} | {_cell(p.get('description', ''))} |")
        lines.append("")
    body = op.get("requestBody")
    if body:
        media, schema = _body_schema(body)
        lines += [f"Request body ({media}{', required' if body.get('required') else ''}): {schema}", ""]
    lines += ["| status | description | body |", "|---|---|---|"]
    for status, response in op.get("responses", {}).items():
        media, schema = _body_schema(response)
        shown = f"{schema} ({media})" if media and media != "application/json" else schema
        lines.append(f"| {status} | {_cell(response.get('description', ''))} | {_cell(shown)} |")
    lines.append("")
    return lines


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [schema["description"], ""]
    parts = schema.get("allOf", [schema])
    rows = []
    for part in parts:
        if "$ref" in part:
            lines += [f"Everything in {_schema_text(part)}, and:", ""]
            continue
        required = set(part.get("required", []))
        for field, spec in part.get("properties", {}).items():
            rows.append(f"| `{field}` | {_cell(_schema_text(spec))} | {'yes' if field in required else 'no'} | "
                        f"{_cell(spec.get('description', ''))} |")
    if rows:
        lines += ["| field | type | required | description |", "|---|---|---|---|", *rows, ""]
    elif not schema.get("description"):
        lines += [f"{_schema_text(schema) or 'any JSON'}.", ""]
    if "example" in schema:
        lines += ["```json", json.dumps(schema["example"], indent=2), "```", ""]
    return lines


def render(document: dict[str, Any]) -> str:
    """Return the generated reference of an OpenAPI document as Markdown."""
    secured = bool(document.get("security"))
    lines = [BEGIN, "", "## Operations", ""]
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                lines += _operation(path, method, item[method], shared, secured)
    lines += ["## Schemas", ""]
    for name, schema in sorted(document["components"]["schemas"].items()):
        lines += _schema(name, schema)
    lines.append(END)
    return "\n".join(lines) + "\n"


def splice(text: str, generated: str) -> str:
    """Return text with its generated part replaced (appended when it has none)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + generated.rstrip("\n") + tail
    return text.rstrip("\n") + "\n\n" + generated


def generated_part(text: str) -> str:
    """The generated part of docs/api.md as render() returns it ("" if it has none)."""
    if BEGIN not in text or END not in text:
        return ""
    return BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END + "\n"


async def reference_document() -> dict[str, Any]:
    """Start the reference hub, return its OpenAPI document, stop it."""
    from hub import bootstrap  # noqa: PLC0415 - the renderer itself needs no hub
    from hub.api.openapi import document  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        config = reference_config(Path(folder) / "config")
        runtime = await bootstrap.start(config, Path(folder) / "data", port=0)
        try:
            assert runtime.runner is not None
            return document(runtime.runner.app)
        finally:
            await bootstrap.stop(runtime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is out of date")
    args = parser.parse_args()
    generated = render(asyncio.run(reference_document()))
    text = DOC.read_text() if DOC.exists() else "# The device API (/api/v1)\n"
    if args.check:
        if generated_part(text) != generated:
            print("docs/api.md is out of date: run .venv/bin/python scripts/api_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(splice(text, generated))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
