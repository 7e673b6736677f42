#!/usr/bin/env python3
"""The README's C++ code, compiled and run, so that it can't drift from the library.

Every ```cpp block of README.md is extracted. A block with a main() is a program: it is built
as is and run under glue-mock-server, which points it at a mock Glue API through the GLUE_*
variables (client_config::from_env() reads them); it must exit 0 having sent the mock at least
one request. A block without one is a fragment: it is compiled inside a function, with the names
it uses but doesn't declare (client, ws, cfg, ...) given by scene.hpp. Both are built as a
user's project would build them: glue-cpp installed into a scratch prefix, found with
find_package(glue CONFIG) (project/CMakeLists.txt). Compiler messages name README.md's lines.

  check_readme.py --readme README.md --build-dir BUILD --work-dir DIR --mock-server PATH
                  [--cxx COMPILER] [--launcher LAUNCHER]
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`\s]*)\s*$")
MAIN = re.compile(r"^\s*int\s+main\s*\(", re.MULTILINE)
INCLUDE = re.compile(r"^\s*#\s*include\b")
RUN_TIMEOUT_S = 60


class Block:
    def __init__(self, line, text):
        self.line = line  # README.md's line number of the block's first line of code
        self.text = text

    @property
    def is_program(self):
        return MAIN.search(self.text) is not None


def cpp_blocks(readme):
    """The ```cpp blocks of `readme`, in order, each without its fences' indentation."""
    blocks, current, indent, start = [], None, "", 0
    for number, line in enumerate(readme.read_text(encoding="utf-8").splitlines(), start=1):
        m = FENCE.match(line)
        if current is None:
            if m and m.group("info") == "cpp":
                current, indent, start = [], m.group("indent"), number + 1
            continue
        if m and m.group("info") == "" and m.group("indent") == indent:
            blocks.append(Block(start, "\n".join(current) + "\n"))
            current = None
        else:
            current.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
    if current is not None:
        sys.exit(f"{readme}:{start - 1}: a ```cpp block is never closed")
    return blocks


def program_source(block, readme):
    return f'#line {block.line} "{readme}"\n{block.text}'


def fragment_source(block, readme):
    """The fragment inside a function: a coroutine if it awaits, else a request handler (a
    fragment may `return reply(...)`). Its #include lines go first, at file scope (blank lines
    keep their places, so the body's lines keep their numbers)."""
    includes, body = [], []
    for i, line in enumerate(block.text.splitlines()):
        if INCLUDE.match(line):
            includes.append((block.line + i, line))
            line = ""
        body.append((block.line + i, line))
    coroutine = re.search(r"\bco_(await|return|yield)\b", block.text) is not None
    out = ["#include <glue/glue.hpp>"]
    out += [f'#line {n} "{readme}"\n{line}' for n, line in includes]
    out.append('#include "scene.hpp"')
    if coroutine:
        out.append(f"boost::asio::awaitable<void> readme_line_{block.line}() {{")
    else:
        out.append(f"readme_scene::response readme_line_{block.line}() {{")
    out.append("    using namespace readme_scene;")
    if body:
        out.append(f'#line {body[0][0]} "{readme}"')
        out += [line for _, line in body]
    out.append("    co_return;" if coroutine else "    return {};")
    out.append("}")
    return "\n".join(out) + "\n"


def run(what, cmd, **kwargs):
    print(f"readme: {what}: {' '.join(str(c) for c in cmd)}", flush=True)
    r = subprocess.run(cmd, **kwargs)
    if r.returncode != 0:
        sys.exit(f"readme: {what} failed (exit {r.returncode})")
    return r


def run_against_mock(mock_server, program, name):
    """Runs `program` under glue-mock-server; returns the mock's counters. The command and the
    server share a process group, so a timeout stops both."""
    cmd = [str(mock_server), "--counters", "--", str(program)]
    print(f"readme: {name}: {' '.join(cmd)}", flush=True)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        sys.exit(f"readme: {name} did not finish within {RUN_TIMEOUT_S} s")
    counters, rest = None, []
    for line in err.splitlines():
        if line.startswith('{"graphql_requests"'):
            counters = json.loads(line)
        else:
            rest.append(line)
    sys.stdout.write(out)
    sys.stdout.write("".join(f"{line}\n" for line in rest))
    if p.returncode != 0:
        sys.exit(f"readme: {name} exited with {p.returncode}")
    if counters is None:
        sys.exit(f"readme: {name}: glue-mock-server printed no counters")
    if counters["token_requests"] + counters["graphql_requests"] == 0:
        sys.exit(f"readme: {name} sent the mock server no request")
    return counters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--readme", type=Path, required=True)
    ap.add_argument("--build-dir", type=Path, required=True, help="glue-cpp's build tree")
    ap.add_argument("--work-dir", type=Path, required=True, help="scratch space (emptied)")
    ap.add_argument("--mock-server", required=True, help="the glue-mock-server program")
    ap.add_argument("--cxx", default="", help="the C++ compiler glue-cpp was built with")
    ap.add_argument("--launcher", default="", help="a compiler launcher (ccache)")
    args = ap.parse_args()

    readme = args.readme.resolve()
    blocks = cpp_blocks(readme)
    if not blocks:
        sys.exit(f"readme: {readme} has no ```cpp block")
    work = args.work_dir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    sources = work / "src"
    sources.mkdir(parents=True)
    programs = []
    for b in blocks:
        kind = "program" if b.is_program else "fragment"
        name = f"{kind}_line_{b.line}"
        text = program_source(b, readme) if b.is_program else fragment_source(b, readme)
        (sources / f"{name}.cpp").write_text(text, encoding="utf-8")
        print(f"readme: README.md:{b.line}: a {kind}", flush=True)
        if b.is_program:
            programs.append(name)

    run("install", ["cmake", "--install", args.build_dir, "--prefix", work / "prefix"],
        stdout=subprocess.DEVNULL)
    configure = ["cmake", "-S", HERE / "project", "-B", work / "build", "-G", "Ninja",
                 f"-DCMAKE_PREFIX_PATH={work / 'prefix'}", f"-DREADME_SOURCES={sources}",
                 f"-DREADME_SCENE_DIR={HERE}"]
    if args.cxx:
        configure.append(f"-DCMAKE_CXX_COMPILER={args.cxx}")
    if args.launcher:
        configure.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={args.launcher}")
    run("configure", configure, stdout=subprocess.DEVNULL)
    run("build", ["cmake", "--build", work / "build"])
    for name in programs:
        run_against_mock(args.mock_server, work / "build" / name, name)
    print(f"readme: {len(blocks)} blocks compiled, {len(programs)} programs ran", flush=True)


if __name__ == "__main__":
    main()
