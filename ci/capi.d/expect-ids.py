#!/usr/bin/env python3
"""expect-ids.py LANG FILE: the C or Fortran example's output (FILE) holds
every job ID of its three runs exactly once: 20 plain, colors 10/13/1/9, 20
round robin, numbered from 0 in C and from 1 in Fortran (DLB's numbering).
Used by ci/capi-check and ci/install-check; exits non-zero with what is wrong."""
import collections
import sys

lang, path = sys.argv[1], sys.argv[2]
base = 1 if lang == "fortran" else 0
want = [f"plain {i + base}" for i in range(20)] + [f"rr {i + base}" for i in range(20)]
want += [f"color {c + base} {i + base}" for c, n in enumerate([10, 13, 1, 9]) for i in range(n)]
with open(path) as f:
    got = collections.Counter(l.strip() for l in f if l.startswith(("plain", "color", "rr")))
bad = {k: v for k, v in got.items() if v != 1 or k not in want}
missing = [k for k in want if k not in got]
if bad or missing:
    sys.exit(f"{lang}: wrong IDs {sorted(bad.items())[:5]}, missing {missing[:5]}")
