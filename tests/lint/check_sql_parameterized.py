#!/usr/bin/env python3
"""Fails when SQL sent to PostgreSQL is built from strings instead of being parameterized.

Scans the C++ sources for libpqxx calls that take SQL text (exec, exec0, exec1, exec_n,
exec_params*, exec_prepared* -- whose first argument is a prepared statement's name --
and connection.prepare) and classifies the query argument:

  ok       string literals (adjacent, raw or not), a `kName` constant whose definition in
           the scanned sources is made of literals only, a prepared statement's name
           (`Name(stmt::kX)`, `PreparedName(stmt::kX)`, `std::string(stmt::kX)`), or a `?:` choosing between such;
  built    concatenation (+), streaming (<<), std::format, fmt::format, absl::StrCat,
           absl::StrFormat, absl::Substitute, sprintf, std::to_string: reported;
  unknown  anything else (a variable, a function's result): reported, because nobody can
           tell from here where its text came from.

Reported calls fail the check unless tests/lint/sql_allowlist.txt lists them with a reason;
an allowlist entry that matches nothing fails too, so the list cannot rot. APIs that take
raw SQL without a call shape we can read (pqxx::pipeline, stream_from, stream_to) are
reported wherever they appear. In files defining AllStatements() (the prepared statement
table), every statement's SQL must be literals and SKALD_* macros of literals.

  check_sql_parameterized.py --repo DIR            check the repository
  check_sql_parameterized.py --self-test DIR       prove the check can fail: every line of
                                                   DIR/bad_sql.cc marked `// BAD` must be
                                                   reported, nothing else, and nothing in
                                                   DIR/good_sql.cc
"""

import argparse
import pathlib
import re
import sys

SCANNED_DIRS = ("coordinator", "participant-sdk", "examples")
EXTENSIONS = (".cc", ".h", ".cpp", ".hpp")

# Member functions of pqxx transactions and connections whose first argument is SQL text or
# the name of a prepared statement.
SQL_CALL = re.compile(
    r"(?:\.|->)\s*(exec(?:0|1|_n)?|exec_params(?:0|1|_n)?|exec_prepared(?:0|1|_n)?|prepare)\s*\(")
RAW_SQL_API = re.compile(r"\bpqxx::(pipeline|stream_from|stream_to|tablewriter|tablereader)\b")
BUILDERS = re.compile(
    r"(?<![<>])<<(?![<>])|(?<![+])\+(?![+=])|\bformat\s*\(|\bStrCat\s*\(|\bStrFormat\s*\(|"
    r"\bSubstitute\s*\(|\bs?n?printf\s*\(|\bto_string\s*\(|\bStrAppend\s*\(|\bappend\s*\(")
STRING_LITERAL = re.compile(
    r'(?:u8|u|U|L)?R"(?P<delim>[^(\s]*)\((?:.|\n)*?\)(?P=delim)"'  # raw string
    r'|(?:u8|u|U|L)?"(?:[^"\\\n]|\\.)*"')                           # ordinary string
CONSTANT = re.compile(r"^(?:::)?(?:\w+::)*k[A-Z]\w*$")
# Wrappers that change the type of a name or literal, not its text.
WRAPPERS = re.compile(r"^(?:std::string|std::string_view|Name|PreparedName|pqxx::zview)\s*\((.*)\)$", re.S)
SQL_MACRO = re.compile(r"\bSKALD_\w+\s*\(\s*" + r'"(?:[^"\\\n]|\\.)*"' + r"\s*\)")


def strip_comments(text):
    """Returns text with comments blanked (newlines kept, so line numbers stay right)."""
    out, i, n = [], 0, len(text)
    while i < n:
        raw = re.match(r'(?:u8|u|U|L)?R"([^(\s]*)\(', text[i:i + 40])
        if raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find(")" + raw.group(1) + '"', i + raw.end())
            end = n if end < 0 else end + len(raw.group(1)) + 2
            out.append(text[i:end])
            i = end
        elif text[i] in "\"'":
            j = i + 1
            while j < n and text[j] != text[i] and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def split_arguments(text, open_paren):
    """Returns the top-level arguments of the call whose '(' is at open_paren."""
    args, depth, start, i = [], 0, open_paren + 1, open_paren
    while i < len(text):
        c = text[i]
        literal = STRING_LITERAL.match(text, i) if c in '"uULR' else None
        if literal and (c == '"' or literal.group(0).endswith('"')) and (
                i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            i = literal.end()
            continue
        if c == "'":
            i = text.find("'", i + 2 if text[i + 1] == "\\" else i + 1) + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(text[start:i])
                return args
        elif c == "," and depth == 1:
            args.append(text[start:i])
            start = i + 1
        i += 1
    return args


def only_literals(expression):
    rest = STRING_LITERAL.sub(" ", SQL_MACRO.sub(" ", expression))
    return expression.strip() != "" and rest.strip() == ""


def normalize(expression):
    return " ".join(expression.split())


def classify(expression, constants):
    """Returns "ok", "built" or "unknown" for a query argument."""
    e = expression.strip()
    while True:
        wrapped = WRAPPERS.match(e)
        if not wrapped or len(split_arguments(e, e.index("("))) != 1:
            break
        e = wrapped.group(1).strip()
    if only_literals(e):
        return "ok"
    if CONSTANT.match(e):
        name = e.split("::")[-1]
        return "ok" if constants.get(name) == "literal" else "unknown"
    ternary = re.match(r"^[\w.!()\s]+\?(.*):(.*)$", e, re.S)
    if ternary and "?" not in ternary.group(1):
        verdicts = {classify(ternary.group(1), constants), classify(ternary.group(2), constants)}
        if verdicts == {"ok"}:
            return "ok"
    masked = STRING_LITERAL.sub('""', e)
    return "built" if BUILDERS.search(masked) else "unknown"


def find_constants(texts):
    """Returns {kName: "literal" | "other"} for every `kName = ...;` in the scanned files."""
    constants = {}
    definition = re.compile(
        r"\b(k[A-Z]\w*)(?:\s*\[\s*\])?\s*=\s*((?:" + STRING_LITERAL.pattern + r"|[^;\"])*);")
    for text in texts:
        for match in definition.finditer(text):
            verdict = "literal" if only_literals(match.group(2)) else "other"
            if constants.get(match.group(1)) != "other":
                constants[match.group(1)] = verdict
    return constants


def check_statement_table(path, text):
    """Findings for statements in an AllStatements() table whose SQL is not all literals."""
    findings = []
    body = text.find("AllStatements()")
    if body < 0 or text.find("{", body) < 0:
        return findings
    for match in re.finditer(r"\{\s*(stmt::k\w+)\s*,", text[body:]):
        start = body + match.start()
        args = split_arguments(text, start)
        if len(args) == 2 and not only_literals(args[1]):
            line = text.count("\n", 0, start) + 1
            findings.append((path, line, "statement " + match.group(1), normalize(args[1]),
                             "built"))
    return findings


def scan(files, display_root):
    texts = {f: strip_comments(f.read_text(encoding="utf-8")) for f in files}
    constants = find_constants(texts.values())
    findings = []
    for f, text in texts.items():
        shown = f.relative_to(display_root).as_posix()
        for match in SQL_CALL.finditer(text):
            args = split_arguments(text, match.end() - 1)
            if not args:
                continue
            method = match.group(1)
            # prepare(name, sql) and exec*_n(rows, sql, ...): the SQL is the second argument.
            second = method == "prepare" or method.endswith("_n")
            query = args[1] if second and len(args) > 1 else args[0]
            verdict = classify(query, constants)
            if verdict != "ok":
                line = text.count("\n", 0, match.start()) + 1
                findings.append((shown, line, method, normalize(query), verdict))
        for match in RAW_SQL_API.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            findings.append((shown, line, "pqxx::" + match.group(1), "pqxx::" + match.group(1),
                             "unknown"))
        findings.extend(check_statement_table(shown, text))
    return findings


def load_allowlist(path):
    """Returns [(file, argument, reason)] from `file | argument | reason` lines."""
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 3 or not all(parts):
            sys.exit(f"{path}:{number}: expected `file | argument | reason`, got: {line}")
        entries.append(tuple(parts))
    return entries


def source_files(root, dirs):
    return sorted(p for d in dirs for p in (root / d).rglob("*")
                  if p.suffix in EXTENSIONS and p.is_file())


def describe(finding):
    path, line, method, query, verdict = finding
    why = ("built by concatenation or formatting" if verdict == "built" else
           "not a literal, a literal constant or a prepared statement's name")
    return f"{path}:{line}: {method}(): query `{query}` is {why}"


def check_repo(repo, allowlist_path):
    findings = scan(source_files(repo, SCANNED_DIRS), repo)
    allowlist = load_allowlist(allowlist_path)
    used = set()
    failures = []
    for finding in findings:
        path, _, _, query, _ = finding
        match = [e for e in allowlist if e[0] == path and e[1] == query]
        if match:
            used.add(match[0])
        else:
            failures.append(describe(finding))
    for entry in allowlist:
        if entry not in used:
            failures.append(f"{allowlist_path.name}: stale entry (matches no call): "
                            f"{entry[0]} | {entry[1]}")
    for failure in failures:
        print(failure)
    if failures:
        print(f"FAIL: {len(failures)} SQL call(s) not parameterized (pass values as $n "
              f"parameters; if it is safe, add it to {allowlist_path} with a reason)")
        return 1
    print(f"ok: every SQL call in {', '.join(SCANNED_DIRS)} is parameterized "
          f"({len(findings)} allowlisted)")
    return 0


def self_test(directory):
    bad = directory / "bad_sql.cc"
    good = directory / "good_sql.cc"
    expected = {number for number, line in
                enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if "// BAD" in line}
    found = {f[1] for f in scan([bad], directory)}
    problems = []
    if not expected:
        problems.append(f"{bad} marks no line // BAD")
    for number in sorted(expected - found):
        problems.append(f"{bad.name}:{number}: marked // BAD but not reported")
    for number in sorted(found - expected):
        problems.append(f"{bad.name}:{number}: reported but not marked // BAD")
    for finding in scan([good], directory):
        problems.append("false positive: " + describe(finding))
    for problem in problems:
        print(problem)
    if problems:
        print("FAIL: the SQL check's self-test failed")
        return 1
    print(f"ok: the SQL check reports all {len(expected)} string-built queries of "
          f"{bad.name} and nothing in {good.name}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=pathlib.Path)
    parser.add_argument("--allowlist", type=pathlib.Path,
                        default=pathlib.Path(__file__).with_name("sql_allowlist.txt"))
    parser.add_argument("--self-test", type=pathlib.Path)
    args = parser.parse_args()
    if args.self_test:
        return self_test(args.self_test)
    if not args.repo:
        parser.error("--repo or --self-test is required")
    return check_repo(args.repo.resolve(), args.allowlist)


if __name__ == "__main__":
    sys.exit(main())
