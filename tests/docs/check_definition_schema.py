#!/usr/bin/env python3
"""Checks docs/definition.schema.json against the definitions the repository shows people.

Every example definition (examples/**/*.json with a "steps" member, and the ```json blocks of
docs/definitions.md and README.md that are definitions) must satisfy the schema and pass
`skald definition validate`. A set of broken variants of the documented example must be
rejected by both, so that the schema and the parser cannot silently disagree on them.

Usage: check_definition_schema.py --repo DIR --skald BINARY
Needs python3-jsonschema (Debian 12: 4.10, which knows draft 2020-12).
"""

import argparse
import copy
import json
import pathlib
import re
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    sys.exit("python3-jsonschema is missing: run scripts/install-deps.sh")


def markdown_definitions(path):
    """Yields (label, document) for each ```json block of `path` that is a definition."""
    text = path.read_text()
    for number, block in enumerate(re.findall(r"```json\n(.*?)```", text, re.S), start=1):
        try:
            document = json.loads(block)
        except json.JSONDecodeError:
            continue  # A fragment, not a document.
        if isinstance(document, dict) and "steps" in document:
            yield f"{path.name} json block {number}", document


def example_definitions(repo):
    for path in sorted((repo / "examples").rglob("*.json")):
        document = json.loads(path.read_text())
        if isinstance(document, dict) and "steps" in document:
            yield str(path.relative_to(repo)), document
    for name in ("docs/definitions.md", "README.md"):
        yield from markdown_definitions(repo / name)


def broken_variants(example):
    """Yields (what is wrong, document) for documents both checks must reject."""

    def variant(change):
        document = copy.deepcopy(example)
        change(document)
        return document

    def set_step(index, key, value):
        return lambda d: d["steps"][index].__setitem__(key, value)

    yield "unknown top-level field", variant(lambda d: d.__setitem__("timeuot", "1m"))
    yield "missing name", variant(lambda d: d.pop("name"))
    yield "version 0", variant(lambda d: d.__setitem__("version", 0))
    yield "no steps", variant(lambda d: d.__setitem__("steps", []))
    yield "unknown step field", variant(set_step(0, "compensate", "undo"))
    yield "missing action", variant(lambda d: d["steps"][0].pop("action"))
    yield "name starting with a dash", variant(set_step(0, "name", "-create"))
    yield "participant without a port", variant(set_step(0, "participant", "localhost"))
    yield "duration without a unit", variant(lambda d: d.__setitem__("timeout", "10"))
    yield "zero step_timeout", variant(set_step(0, "step_timeout", "0s"))
    yield "pivot not a boolean", variant(set_step(0, "pivot", "yes"))
    yield "unknown retry field", variant(set_step(0, "retry", {"max_retries": 3}))
    yield "jitter over 1", variant(set_step(0, "retry", {"jitter": 2}))
    yield "unknown defaults field", variant(
        lambda d: d.__setitem__("defaults", {"timeout": "1s"}))
    yield "two comparisons in when", variant(
        set_step(0, "when", {"value": "${input}/amount", "gt": 0, "lt": 9}))
    yield "no comparison in when", variant(set_step(0, "when", {"value": "${input}/amount"}))
    yield "when value not a reference", variant(
        set_step(0, "when", {"value": "amount", "gt": 0}))
    yield "gt with a string", variant(set_step(0, "when", {"value": "${input}/a", "gt": "1"}))
    yield "notify not http(s)", variant(lambda d: d.__setitem__("notify", "ftp://h/x"))
    yield "notify with credentials", variant(
        lambda d: d.__setitem__("notify", "https://user:pw@h/x"))
    yield "notify with a space", variant(lambda d: d.__setitem__("notify", "https://h/a b"))


def skald_validate(skald, document):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(document, file)
        file.flush()
        result = subprocess.run([skald, "definition", "validate", file.name],
                                capture_output=True, text=True, timeout=30)
    return result.returncode, (result.stdout + result.stderr).strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True, type=pathlib.Path)
    parser.add_argument("--skald", required=True)
    parser.add_argument("--schema", type=pathlib.Path,
                        help="default: REPO/docs/definition.schema.json")
    args = parser.parse_args()

    schema_path = args.schema or args.repo / "docs/definition.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = []

    examples = list(example_definitions(args.repo))
    if not examples:
        failures.append("found no example definitions at all")
    for label, document in examples:
        problems = [f"{label}: schema rejects it at {error.json_path}: {error.message}"
                    for error in validator.iter_errors(document)]
        code, output = skald_validate(args.skald, document)
        if code != 0:
            problems.append(f"{label}: skald definition validate exit {code}: {output}")
        print(f"{'FAIL' if problems else 'ok  '} {label}")
        failures += problems

    documented = [d for label, d in examples if label.startswith("definitions.md")]
    if not documented:
        failures.append("docs/definitions.md has no complete example definition")
    else:
        for what, document in broken_variants(documented[0]):
            problems = []
            if validator.is_valid(document):
                problems.append(f"{what}: the schema accepts it")
            code, output = skald_validate(args.skald, document)
            if code != 1:
                problems.append(f"{what}: skald definition validate exit {code}, expected 1: "
                                f"{output}")
            print(f"{'FAIL' if problems else 'ok  '} rejected: {what}")
            failures += problems

    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
