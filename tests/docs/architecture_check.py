#!/usr/bin/python3
"""docs/architecture.md names every source file: each file under src/FOLDER/ must appear, in
backticks, in the table under the heading "### `src/FOLDER`" (a pair may be written `name.h/.cc`).
Prints the files missing from the document and the documented files that no longer exist; exits
non-zero if there are any.

Usage: architecture_check.py REPO
"""
import os
import re
import sys

repo = sys.argv[1]
doc = open(os.path.join(repo, "docs", "architecture.md"), encoding="utf-8").read()

# The sections: "### `src/<folder>`" up to the next heading.
sections = {}
for m in re.finditer(r"^### `src/([^`]+)`[^\n]*\n(.*?)(?=^#|\Z)", doc, re.M | re.S):
    names = set()
    for token in re.findall(r"`([^`]+)`", m.group(2)):
        token = token.strip()
        if "/" in token and not token.startswith("/"):
            # name.h/.cc, name.h/.cc/.in: the first name, then its stem with each suffix
            first, *rest = token.split("/")
            stem = first.rsplit(".", 1)[0]
            names.add(first)
            names.update(stem + r for r in rest if r.startswith("."))
        else:
            names.add(token)
    sections[m.group(1).rstrip("/")] = names

missing, stale = [], []
src = os.path.join(repo, "src")
for folder in sorted(os.listdir(src)):
    path = os.path.join(src, folder)
    if not os.path.isdir(path):
        continue
    files = sorted(f for f in os.listdir(path) if os.path.isfile(os.path.join(path, f))
                   and f != "CMakeLists.txt")
    documented = sections.get(folder)
    if documented is None:
        missing.append("src/%s/ (no section)" % folder)
        continue
    for f in files:
        if f not in documented:
            missing.append("src/%s/%s" % (folder, f))
    for name in sorted(documented):
        if re.fullmatch(r"[\w.+-]+\.(h|cc|c|in|map)", name) and name not in files:
            stale.append("src/%s/%s" % (folder, name))

for f in missing:
    print("not in docs/architecture.md: " + f)
for f in stale:
    print("in docs/architecture.md but not in the tree: " + f)
print("architecture.md: %d missing, %d stale" % (len(missing), len(stale)))
sys.exit(1 if missing or stale else 0)
