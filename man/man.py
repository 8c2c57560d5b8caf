#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""The man pages of the functions, made from the comments of barrier.h.

    man.py pages HEADER OUTDIR VERSION
        Writes OUTDIR/<page>.3 for every group of functions (PAGES below),
        named after its first function. A function that no group names
        gets a page of its own.

    man.py list HEADER
        Prints the groups, one a line: the page, then the other functions
        on it, for which meson installs symlinks to the page.

    man.py check HEADER MANDOC MAN MAN3DIR
        Checks MAN3DIR as installed: every function of HEADER has a page,
        directly or through a symlink; the NAME section of every page
        names only functions of HEADER (libbarrier(3) names the library),
        each with a file of its name; every `name(3)` a page refers to
        exists; `mandoc -Tlint -W warning` reports nothing; and, where MAN
        is not empty, `man -M <MAN3DIR's parent> 3 <name>` renders every
        name.

    man.py check-build HEADER MANDOC MAN PAGE...
        The same for the pages given, laid out with their symlinks in a
        temporary directory.

Aliases are symlinks rather than `.so` pages: mandoc's lint calls `.so`
fragile, and Debian's packaging turns `.so` pages into symlinks anyway.

The text comes from one place: the doc comments of barrier-capi, which
cbindgen copies into barrier.h. In each comment, the paragraphs from the
first one that begins with "Returns" on are the RETURN VALUE; the others
are the DESCRIPTION. `code` becomes italic where it names a parameter of
the function, bold otherwise.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# page (the name of its first function), the functions on it, and what
# its NAME line says they do.
PAGES = [
    (["barrier_create", "barrier_init", "barrier_destroy", "barrier_destroyp"],
     "create and destroy a barrier"),
    (["barrier_set_role"], "take the parent's or the child's side of a barrier"),
    (["barrier_place", "barrier_abort"], "place a barrier, or abort"),
    (["barrier_sync", "barrier_sync_next", "barrier_wait_next", "barrier_wait_abortion",
      "barrier_place_and_sync"], "wait for the other side of a barrier"),
    (["barrier_sync_timeout", "barrier_sync_next_timeout", "barrier_wait_next_timeout",
      "barrier_wait_abortion_timeout"], "wait for the other side of a barrier, for a bounded time"),
    (["barrier_is_aborted", "barrier_i_aborted", "barrier_they_aborted", "barrier_we_aborted"],
     "tell whether a side of a barrier aborted"),
    (["barrier_get_pollfds"], "watch a barrier from an event loop"),
    (["barrier_create_pair"], "create both ends of a barrier in one process"),
    (["barrier_export_env", "barrier_import_env"], "hand an end of a barrier across execve()"),
    (["barrier_group_new", "barrier_group_join", "barrier_group_free", "barrier_group_freep",
      "barrier_group_size", "barrier_group_rank"], "create, join and free a barrier group"),
    (["barrier_group_sync", "barrier_group_place", "barrier_group_place_and_sync",
      "barrier_group_abort", "barrier_group_wait_abortion", "barrier_group_i_aborted",
      "barrier_group_they_aborted", "barrier_group_is_aborted", "barrier_group_aborted_by"],
     "place, wait for and abort the barriers of a group, and tell who aborted"),
    (["barrier_group_get_pollfds"], "watch a barrier group from an event loop"),
    (["barrier_group_export_env", "barrier_group_import_env"],
     "hand a membership of a barrier group across execve()"),
]


class Function:
    def __init__(self, name, prototype, comment):
        self.name = name
        self.prototype = prototype
        self.comment = comment
        inside = prototype[prototype.index("(") + 1:prototype.rindex(")")]
        self.args = [] if inside.strip() in ("", "void") else [a.strip() for a in inside.split(",")]
        self.params = [re.search(r"(\w+)$", a).group(1) for a in self.args]


def read_header(path):
    """The functions of the header, in order, with their doc comments."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    functions = []
    for m in re.finditer(r"/\*\*((?:(?!\*/).)*)\*/\s*([^;/#{}]*?\b(\w+)\s*\([^;]*\));", text, flags=re.S):
        comment = "\n".join(re.sub(r"^\s*\* ?", "", line) for line in m.group(1).strip("\n").split("\n"))
        prototype = " ".join(m.group(2).split())
        if prototype.startswith(("typedef", "static")):
            continue
        functions.append(Function(m.group(3), prototype, comment.strip()))
    return functions


def escape(text):
    return text.replace("\\", "\\e")


def inline(text, params):
    """One line of comment text as troff."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        part = escape(part)
        part = re.sub(r"(?<![\w\\])-(?=[A-Z0-9])", r"\\-", part)
        if i % 2:
            font = "I" if part in params else "B"
            part = f"\\f{font}\\%{part}\\fP"
        out.append(part)
    line = "".join(out)
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line


def paragraphs(comment):
    return [p for p in re.split(r"\n\s*\n", comment) if p.strip()]


def split_comment(comment):
    """(description paragraphs, return value paragraphs)."""
    paras = paragraphs(comment)
    for i, p in enumerate(paras):
        if p.startswith("Returns"):
            return paras[:i], paras[i:]
    return paras, []


def synopsis(fn):
    """The prototype as alternating bold and italic, for .BI."""
    head = fn.prototype[:fn.prototype.index("(") + 1]
    if not fn.args:
        return f'.B "{head}void);"'
    words = []
    lead = head
    for arg, param in zip(fn.args, fn.params):
        words.append(f'"{lead}{arg[:-len(param)]}"')
        words.append(param)
        lead = ", "
    words.append('");"')
    return ".BI " + " ".join(words)


def page_text(names, summary, functions, page_of, version, date):
    fns = [functions[n] for n in names]
    title = names[0].upper()
    lines = [
        f'.\\" Generated by man/man.py from include/barrier.h; do not edit.',
        f'.TH {title} 3 {date} "libbarrier {version}" "libbarrier Manual"',
        ".SH NAME",
        ", ".join(escape(n) for n in names) + " \\- " + escape(summary),
        ".SH LIBRARY",
        "libbarrier (\\fI\\-lbarrier\\fP, \\fIpkg\\-config libbarrier\\fP)",
        ".SH SYNOPSIS",
        ".nf",
        ".B #include <barrier.h>",
        ".PP",
    ]
    lines += [synopsis(fn) for fn in fns]
    lines += [".fi", ".SH DESCRIPTION"]
    returns = []
    for fn in fns:
        description, ret = split_comment(fn.comment)
        if len(fns) > 1:
            lines.append(f".SS {escape(fn.name)}()")
        for i, para in enumerate(description):
            if i:
                lines.append(".PP")
            lines += [inline(line, fn.params) for line in para.split("\n")]
        if ret:
            returns.append((fn, ret))
    if returns:
        lines.append(".SH RETURN VALUE")
        for fn, ret in returns:
            if len(fns) > 1:
                lines += [".TP", f".BR {escape(fn.name)} ()"]
            for i, para in enumerate(ret):
                if i:
                    lines.append(".IP" if len(fns) > 1 else ".PP")
                lines += [inline(line, fn.params) for line in para.split("\n")]
    # The pages of the other functions the comments name, then the overview.
    see = []
    for fn in fns:
        for ref in re.findall(r"`(barrier_\w+)\(\)`", fn.comment):
            page = page_of.get(ref)
            if page and page != names[0] and page not in see:
                see.append(page)
    see.append("libbarrier")
    lines.append(".SH SEE ALSO")
    lines.append(",\n".join(f".BR {escape(p)} (3)" for p in see))
    return "\n".join(lines) + "\n"


def groups(functions):
    """Every page as (names, summary); the names all exist in the header."""
    pages = []
    grouped = set()
    for names, summary in PAGES:
        missing = [n for n in names if n not in functions]
        if missing:
            raise SystemExit(f"man.py: PAGES names functions the header does not declare: {missing}")
        pages.append((names, summary))
        grouped.update(names)
    for name, fn in functions.items():
        if name not in grouped:
            first = re.split(r"(?<=[.:;])\s", " ".join(fn.comment.split()), maxsplit=1)[0]
            first = first.rstrip(".:;").replace("`", "")
            pages.append(([name], first[:1].lower() + first[1:]))
    return pages


def load(header):
    return {fn.name: fn for fn in read_header(header)}


def write_pages(header, outdir, version):
    functions = load(header)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = int(epoch) if epoch else int(os.stat(header).st_mtime)
    date = time.strftime("%Y-%m-%d", time.gmtime(stamp))
    os.makedirs(outdir, exist_ok=True)
    pages = groups(functions)
    page_of = {name: names[0] for names, _ in pages for name in names}
    for names, summary in pages:
        with open(os.path.join(outdir, names[0] + ".3"), "w", encoding="utf-8") as f:
            f.write(page_text(names, summary, functions, page_of, version, date))
    return 0


def list_pages(header):
    for names, _ in groups(load(header)):
        print(" ".join(names))
    return 0


def fail(msg):
    print(f"FAIL: {msg}")
    return 1


def name_section(text):
    m = re.search(r"^\.SH NAME\n(.*?)\\-", text, flags=re.S | re.M)
    if not m:
        return None
    return [n for n in re.split(r"[,\s]+", re.sub(r"\\f[BIRP]|\\%", "", m.group(1))) if n]


def check(header, mandoc, man, man3):
    """Checks the directory man3 as it is installed (aliases as symlinks)."""
    functions = set(load(header))
    if not functions:
        return fail(f"no functions read from {header}")
    status = 0
    files = sorted(os.listdir(man3))
    pages = {}  # regular files: name -> text
    for file in files:
        path = os.path.join(man3, file)
        if os.path.islink(path):
            target = os.readlink(path)
            if "/" in target or not os.path.isfile(os.path.join(man3, target)):
                status = fail(f"{file} links to {target}, not to a page beside it")
        else:
            with open(path, encoding="utf-8") as f:
                pages[file] = f.read()
            if pages[file].startswith(".so"):
                status = fail(f"{file}: a .so page; aliases are symlinks")

    def body(file):
        path = os.path.join(man3, file)
        if not os.path.exists(path):
            return None
        return pages.get(os.path.basename(os.path.realpath(path)))

    for file, text in pages.items():
        names = name_section(text)
        if names is None:
            status = fail(f"{file}: no NAME section")
            continue
        for n in names:
            if n not in functions and n != "libbarrier":
                status = fail(f"{file}: NAME names {n}, which barrier.h does not declare")
            elif not os.path.exists(os.path.join(man3, n + ".3")):
                status = fail(f"{file}: NAME names {n}, but there is no {n}.3 that leads here")
        for ref in sorted(set(re.findall(r"(\w+)\s*\(3\)", re.sub(r"\\f[BIRP]|\\%|\"", "", text)))):
            if ref + ".3" not in files:
                status = fail(f"{file}: refers to {ref}(3), which has no page")
    for fn in sorted(functions):
        text = body(fn + ".3")
        if text is None:
            status = fail(f"{fn} has no page")
        elif fn not in (name_section(text) or []):
            status = fail(f"{fn}.3 leads to a page whose NAME does not name {fn}")
    if not mandoc:
        return fail("mandoc not found; scripts/setup.sh installs it")
    lint = subprocess.run([mandoc, "-Tlint", "-W", "warning"] + sorted(pages),
                          cwd=man3, capture_output=True, text=True)
    report = (lint.stdout + lint.stderr).strip()
    if lint.returncode != 0 or report:
        status = fail(f"mandoc -Tlint -W warning:\n{report}")
    else:
        print(f"mandoc -Tlint -W warning: {len(pages)} pages, nothing to report")
    if man:
        root = os.path.dirname(os.path.abspath(man3))
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        rendered = 0
        for name in sorted(functions) + ["libbarrier"]:
            r = subprocess.run([man, "-M", root, "3", name], capture_output=True, text=True, env=env)
            if r.returncode != 0 or "SYNOPSIS" not in r.stdout:
                status = fail(f"man -M {root} 3 {name} exited {r.returncode}: {r.stderr.strip()}")
            else:
                rendered += 1
        print(f"man -M {root} 3 NAME renders {rendered} of {len(functions) + 1} names")
    if status == 0:
        print(f"{len(functions)} functions, each with a page; {len(pages)} pages, "
              f"{len(files) - len(pages)} links")
    return status


def check_build(header, mandoc, man, pages):
    """Lays out the pages given as meson installs them, then checks them."""
    with tempfile.TemporaryDirectory() as tmp:
        man3 = os.path.join(tmp, "man3")
        os.makedirs(man3)
        for page in pages:
            shutil.copy(page, man3)
        for names, _ in groups(load(header)):
            for alias in names[1:]:
                os.symlink(names[0] + ".3", os.path.join(man3, alias + ".3"))
        return check(header, mandoc, man, man3)


def main(argv):
    if len(argv) == 5 and argv[1] == "pages":
        return write_pages(*argv[2:])
    if len(argv) == 3 and argv[1] == "list":
        return list_pages(argv[2])
    if len(argv) == 6 and argv[1] == "check":
        return check(*argv[2:])
    if len(argv) >= 6 and argv[1] == "check-build":
        return check_build(argv[2], argv[3], argv[4], argv[5:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
