"""Generate ``api_methods.json`` (method → parameters) from aiogram's butcher schema.

Run: ``python -m bot.emulator.gen_methods /path/to/shared/telegram/schema.json``.
The emulator ships the generated file so that it works without ``../shared``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("api_methods.json")


def build(schema: dict[str, Any]) -> dict[str, Any]:
    """Extract ``{"version", "methods": {name: {param: {"type", "required"}}}}`` from a schema."""
    methods: dict[str, dict[str, dict[str, Any]]] = {}
    for section in schema["items"]:
        for child in section["children"]:
            if child.get("category") != "methods":
                continue
            methods[child["name"]] = {
                ann["name"]: {"type": ann["type"], "required": bool(ann.get("required"))}
                for ann in child.get("annotations", [])
            }
    return {"version": schema.get("api", {}).get("version", "?"), "methods": methods}


def render(data: dict[str, Any]) -> str:
    """Serialise compactly, one method a line, so diffs between Bot API versions stay readable."""
    lines = [f'{{"version":{json.dumps(data["version"])},"methods":{{']
    items = sorted(data["methods"].items())
    for index, (name, params) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        body = json.dumps(params, separators=(",", ":"), ensure_ascii=False)
        lines.append(f"{json.dumps(name)}:{body}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def generate(schema_path: Path) -> str:
    """Read a schema file and return the rendered ``api_methods.json`` text."""
    return render(build(json.loads(schema_path.read_text(encoding="utf-8"))))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: write ``api_methods.json`` next to this module."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("schema", type=Path, help="aiogram butcher schema.json (Bot API spec)")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = generate(args.schema)
    args.output.write_text(text, encoding="utf-8")
    count = len(json.loads(text)["methods"])
    print(f"wrote {count} methods to {args.output}")


if __name__ == "__main__":
    main()
