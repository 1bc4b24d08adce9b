#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fail when a public C header has a macro or inline function that the header
test (api_all.c) does not use: every `static inline` function, every
#define (except include guards, NSHM_INSIDE_* and names with a double
underscore, which are internal), and every function a typed-ring macro
generates (`name##_suffix`), for each public NSHM_*_DEFINE* macro.

usage: check_coverage.py [--list] INCLUDEDIR TEST.c
(--list: also print every name checked, by header)
"""
import pathlib
import re
import sys

args = [a for a in sys.argv[1:] if a != "--list"]
listing = "--list" in sys.argv[1:]
inc = pathlib.Path(args[0]) / "nshm"
test = pathlib.Path(args[1]).read_text()
used = set(re.findall(r"\b\w+\b", test))

funcs, macros, generators, defines = set(), set(), {}, {}
for h in sorted(list(inc.glob("*.h")) + list(inc.glob("bits/*.h"))):
    text = h.read_text()
    # join continued lines so a macro is one logical line
    logical = re.sub(r"\\\n", " ", text)
    for m in re.finditer(r"^static\s+(?:inline|NSHM_ALWAYS_INLINE)\b([^;{]*)\{",
                         logical, re.M):
        # the name is what stands before the parameter list
        d = re.search(r"(\w+)\s*\((?:[^()]|\([^()]*\))*\)\s*$", m.group(1))
        if d:
            funcs.add((d.group(1), h.name))
    for m in re.finditer(r"^#\s*define\s+(\w+)(\([^)]*\))?(.*)$", logical,
                         re.M):
        name, params, body = m.group(1), m.group(2), m.group(3)
        defines[name] = (params, body)
        if (name.endswith("_H") or name.startswith("NSHM_INSIDE_")
                or "__" in name):
            continue
        macros.add((name, h.name))
    for m in re.finditer(r"^#\s*define\s+(\w+)\(([^)]*)\)(.*)$", logical,
                         re.M):
        name, body = m.group(1), m.group(3)
        suffixes = set(re.findall(r"\bname\s*##\s*_(\w+)", body))
        if suffixes:
            generators[name] = suffixes

missing = []
for name, h in sorted(funcs):
    if name.startswith("nshm__"):
        continue  # internal helpers, compiled through the public ones
    if name not in used:
        missing.append(f"{h}: inline function {name}()")
for name, h in sorted(macros):
    if name not in used:
        missing.append(f"{h}: macro {name}")


def generator_of(macro, seen=()):
    """The generator a public DEFINE macro expands to (following macros)."""
    if macro in generators:
        return macro
    params, body = defines.get(macro, (None, ""))
    for callee in re.findall(r"\b(NSHM_\w+)\s*\(", body or ""):
        if callee in defines and callee not in seen:
            g = generator_of(callee, seen + (macro,))
            if g:
                return g
    return None


# Each generator's functions must all be called through some instance.
instances = {}
for m in re.finditer(r"^(NSHM_\w+_DEFINE\w*)\(\s*(\w+)", test, re.M):
    g = generator_of(m.group(1))
    if g:
        instances.setdefault(g, []).append(m.group(2))
for g, sufs in sorted(generators.items()):
    insts = instances.get(g, [])
    if not insts:
        missing.append(f"no instance of a macro that expands to {g}")
        continue
    for s in sorted(sufs):
        if not any(f"{i}_{s}" in used for i in insts):
            missing.append(f"{g}: generated function <name>_{s}() "
                           f"(instances: {', '.join(insts)})")

if listing:
    by = {}
    for name, h in sorted(funcs):
        if not name.startswith("nshm__"):
            by.setdefault(h, []).append(name + "()")
    for name, h in sorted(macros):
        by.setdefault(h, []).append(name)
    for h in sorted(by):
        print(f"{h}: {' '.join(by[h])}")
    for g, sufs in sorted(generators.items()):
        print(f"{g} (via {', '.join(instances.get(g, []))}): "
              + " ".join(f"<name>_{x}" for x in sorted(sufs)))

if missing:
    print("check_coverage: public names the header test does not use "
          "(add them to tests/headers/api_all.c):")
    for m in missing:
        print("  " + m)
    sys.exit(1)
npub = sum(1 for name, _ in funcs if not name.startswith("nshm__"))
print(f"check_coverage: {npub} public inline functions, {len(macros)} macros, "
      f"{sum(len(s) for s in generators.values())} generated functions: "
      "all used")
