#!/usr/bin/env python3
"""Every document the repository's files cite is in the repository.

A path ending in .md in any tracked text file (code, comments, CMake, scripts, documentation)
must name a file that exists, relative to the citing file's folder or to the repository's root;
and nothing may cite the "shared" folder beside the repository, which a clone doesn't have.
Exits 1 listing each dangling citation.

  cited_documents.py SOURCE_DIR
"""

import re
import subprocess
import sys
from pathlib import Path

# A path that ends in .md, not inside a URL or a longer path (no /, word or dot right before).
CITED = re.compile(r"(?<![\w/.:-])((?:\.\./|[\w.-]+/)*[\w.-]+\.md)\b")
OUTSIDE = re.compile(r"\.\./shared\b")


def tracked_files(root):
    """The files git tracks; outside a git clone, every file but build trees'."""
    r = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True)
    if r.returncode == 0:
        return [root / name for name in r.stdout.decode().split("\0") if name]
    skip = {".git", "build"}
    return [p for p in root.rglob("*")
            if p.is_file() and not skip.intersection(p.relative_to(root).parts)]


def main():
    root = Path(sys.argv[1]).resolve()
    dangling = []
    for path in tracked_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary, or deleted in the work tree
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{path.relative_to(root)}:{number}"
            if OUTSIDE.search(line):
                dangling.append(f"{where}: cites the shared folder, outside the repository")
            for m in CITED.finditer(line):
                cited = m.group(1)
                if not ((path.parent / cited).exists() or (root / cited).exists()):
                    dangling.append(f"{where}: cites {cited}, which is not in the repository")
    for d in dangling:
        print(d)
    if dangling:
        sys.exit(1)
    print("cited_documents: every cited document is in the repository")


if __name__ == "__main__":
    main()
