#!/usr/bin/env python3
"""Writes JSON seeds of pathological shapes (issue 13) into the folder given as argument.

They are too big to commit (about 512 KiB each), and their point is their size: the
parser once took a minute on a 1 MiB `{"a":[{},{},...]}` (nlohmann's callback parser scans
the parent container each time an object ends). scripts/fuzz-and-sanitize.sh runs each
once through the fuzzer with -timeout=5 (not in the mutated corpus: inputs that big slow
fuzzing to a few runs a second), so such a regression is a timeout finding. The small
committed seeds of the same shapes (fuzz/corpus/*/shape-*.json) let mutations reach the
same code paths.
"""
import json
import os
import sys

SIZE = 512 * 1024


def repeat(head, item, tail):
    count = (SIZE - len(head) - len(tail)) // (len(item) + 1)
    return head + ",".join([item] * count) + tail


def seeds():
    definition = '{"name":"p","version":1,"steps":[{"name":"s","service":"x","action":"a"}],'
    yield "many-empty-objects.json", repeat('{"a":[', "{}", "]}")
    yield "many-empty-arrays.json", repeat('{"a":[', "[]", "]}")
    yield "definition-output-many-objects.json", repeat(definition + '"output":[', "{}", "]}")
    yield "long-string.json", definition + '"output":"' + "x" * SIZE + '"}'
    yield "long-escaped-string.json", '{"a":"' + "\\u00e9" * (SIZE // 6) + '"}'
    yield "many-repeated-keys.json", repeat(definition + '"output":{', '"k":{}', "}}")
    keys = ",".join('"k%d":{}' % i for i in range(SIZE // 12))
    yield "many-distinct-keys.json", definition + '"output":{' + keys + "}}"
    # Deep but allowed (64 levels with the object and array around them, the default limit), repeated side by side.
    deep = "[" * 62 + "]" * 62
    yield "deep-allowed-many.json", repeat('{"a":[', deep, "]}")
    yield "too-deep.json", "[" * SIZE


def main():
    folder = sys.argv[1]
    for name, text in seeds():
        with open(os.path.join(folder, name), "w") as out:
            out.write(text)


if __name__ == "__main__":
    main()
