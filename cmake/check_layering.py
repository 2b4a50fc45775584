#!/usr/bin/env python3
"""Refuses an #include that docs/architecture.md's map does not allow.

The "may use" column of the "Folders" table in docs/architecture.md is the rule: for each
row naming a folder of the coordinator (`coordinator/X/`) or `tls/`, the cell before any
" — " is a comma-separated list of what that folder's files may include besides their own
folder: other folders (core, store, ...), "everything above" (every folder in the rows
above), and the third-party families checked here (gRPC, libpqxx, cpp-httplib, CLI11,
OpenSSL). Libraries everyone may use (absl, nlohmann/json, spdlog, the wire types) are not
checked. A word the check does not know is an error too, and so is a folder of
coordinator/ without a row, so the map stays executable and complete.

Usage: check_layering.py --repo DIR [--stamp FILE]   (exit 1 and one line per refusal)
       check_layering.py --self-test                 (proves a forbidden include is refused)
"""
import argparse
import os
import re
import shutil
import sys
import tempfile

# Third-party families: how an include names them, and how the map names them.
FAMILIES = {
    "gRPC": ("grpcpp/", "grpc/", "grpc++/"),
    "libpqxx": ("pqxx/",),
    "cpp-httplib": ("httplib.h",),
    "CLI11": ("CLI/",),
    "OpenSSL": ("openssl/",),
}
# Words of the map that name nothing checked here (allowed everywhere).
UNCHECKED = {"nlohmann/json", "absl::Status", "absl", "spdlog", "proto", "—", ""}

# Named, temporary exceptions: (file, what it may include although the map says no, why).
# The lead removes them when the change they wait for has landed.
EXCEPTIONS = []

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
ROW = re.compile(r"^\|\s*`(coordinator/[a-z_]+/|tls/)`\s*\|.*\|\s*([^|]*?)\s*\|\s*$")


def read_map(architecture_md):
    """Returns {folder: set of allowed folders and families}, in the table's order."""
    rules = {}
    with open(architecture_md, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        match = ROW.match(line)
        if not match:
            continue
        folder = match.group(1).rstrip("/").split("/")[-1]
        cell = re.split(r"\s+—\s+|^—$", match.group(2))[0]
        allowed = set()
        for word in (w.strip() for w in cell.split(",")):
            word = re.sub(r"\s*\(.*\)$", "", word)  # "tls (private)" -> "tls"
            if word == "everything above":
                allowed |= set(rules)
            elif word in FAMILIES or word in UNCHECKED:
                allowed.add(word)
            elif re.fullmatch(r"[a-z_]+", word):
                allowed.add(word)
            else:
                raise SystemExit(f"{architecture_md}:{number}: the \"may use\" column of "
                                 f"{folder}/ names \"{word}\", which the layering check does "
                                 f"not know (folders, \"everything above\", "
                                 f"{', '.join(FAMILIES)})")
        rules[folder] = allowed
    unknown = {w for allowed in rules.values() for w in allowed
               if w not in rules and w not in FAMILIES and w not in UNCHECKED}
    if unknown:
        raise SystemExit(f"{architecture_md}: the \"may use\" column names folders with no row: "
                         f"{', '.join(sorted(unknown))}")
    return rules


def what_it_names(include, folders):
    """Returns the folder or family an include names, or None when it is not checked."""
    if include.startswith("coordinator/"):
        parts = include.split("/")
        return parts[1] if len(parts) > 2 and parts[1] in folders else None
    if include.startswith("tls/") and "tls" in folders:
        return "tls"
    if include.startswith("skald/v1/") and include.endswith(".grpc.pb.h"):
        return "gRPC"  # the generated service stubs are gRPC
    for family, prefixes in FAMILIES.items():
        if include.startswith(prefixes):
            return family
    return None


def check(repo):
    """Returns the refusals, one line each: file:line: what, and the rule."""
    rules = read_map(os.path.join(repo, "docs", "architecture.md"))
    exceptions = {(file, family) for file, family, _ in EXCEPTIONS}
    refusals = []
    # A folder of the coordinator without a row would be neither checked nor protected.
    coordinator = os.path.join(repo, "coordinator")
    for folder in sorted(os.listdir(coordinator)):
        if os.path.isdir(os.path.join(coordinator, folder)) and folder not in rules:
            refusals.append(f"coordinator/{folder}/: no row in docs/architecture.md's Folders "
                            f"table, so nothing says what it may use")
    for folder in sorted(rules):
        root = os.path.join(repo, "coordinator", folder) if folder != "tls" else \
            os.path.join(repo, "tls")
        for directory, _, files in os.walk(root):
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, repo)
                with open(path, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        match = INCLUDE.match(line)
                        if not match:
                            continue
                        written = match.group(1) + match.group(2) + \
                            (">" if match.group(1) == "<" else '"')
                        target = what_it_names(match.group(2), rules)
                        if target is None or target == folder or target in rules[folder]:
                            continue
                        if (relative, target) in exceptions:
                            continue
                        may_use = ", ".join(sorted(rules[folder] - UNCHECKED)) or "nothing checked"
                        refusals.append(
                            f"{relative}:{number}: #include {written} uses {target}, "
                            f"which {folder}/ may not use (docs/architecture.md: {folder}/ may "
                            f"use {may_use})")
    return refusals


def self_test():
    """Copies the map and the tree, adds a forbidden include, and expects it refused."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as temp:
        shutil.copytree(os.path.join(repo, "docs"), os.path.join(temp, "docs"))
        shutil.copytree(os.path.join(repo, "coordinator"), os.path.join(temp, "coordinator"))
        shutil.copytree(os.path.join(repo, "tls"), os.path.join(temp, "tls"))
        clean = check(temp)
        if clean:
            print("self-test: the tree itself is refused:\n" + "\n".join(clean))
            return 1
        bad = os.path.join(temp, "coordinator", "core", "layering_self_test.cc")
        with open(bad, "w", encoding="utf-8") as f:
            f.write('#include "absl/status/status.h"\n#include <pqxx/pqxx>\n'
                    '#include "coordinator/engine/engine.h"\n')
        refusals = check(temp)
        print("\n".join(refusals))
        expected = ["coordinator/core/layering_self_test.cc:2: #include <pqxx/pqxx> uses libpqxx",
                    "coordinator/core/layering_self_test.cc:3: #include \"coordinator/engine/"
                    "engine.h\" uses engine"]
        missing = [e for e in expected if not any(r.startswith(e) for r in refusals)]
        if missing or len(refusals) != 2:
            print("self-test FAILED: expected exactly these refusals:\n" + "\n".join(expected))
            return 1
        print("self-test passed: both forbidden includes refused")
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", help="the repository's root")
    parser.add_argument("--stamp", help="touched when the check passes (for the build)")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if not args.repo:
        parser.error("--repo or --self-test")
    refusals = check(args.repo)
    if refusals:
        print("layering check: includes the map forbids (docs/architecture.md, \"may use\"):")
        print("\n".join(refusals))
        return 1
    if args.stamp:
        with open(args.stamp, "w", encoding="utf-8") as f:
            f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
