#!/usr/bin/python3
"""Renders docs/benchmarks.md from scripts/bench/benchmarks.md.in and the
results of a run (scripts/bench/results/), so that the document's figures are
always those of the checked-in results:

    scripts/bench/render_doc.py [--results DIR] [--out docs/benchmarks.md]

Placeholders: @@SUMMARY@@ (the targets table of results.md), @@RESULTS@@ (the
rest of results.md), @@MACHINE@@ (results.json's machine, build_info.txt),
@@PROFILE@@ (the head of profile_get.txt and profile_set.txt), @@DURABILITY@@
(durability.md, from durability.py), @@TLS@@ (tls.md then tls_*.md, from tls.py), @@AB@@
(ab_*.md, from ab.py --out).
"""
import argparse
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(path):
    with open(path) as f:
        return f.read()


def split_results(md):
    """(summary, rest): the first table of results.md (with the line above it), then the rest."""
    lines = md.rstrip("\n").split("\n")
    end = next(i for i, line in enumerate(lines) if i > 2 and not line.startswith("|"))
    return "\n".join(lines[:end]), "\n".join(lines[end:]).strip("\n")


def profile_head(path, top):
    """The header and the `top` hottest functions of both of a profile's lists."""
    out, taken = [], 0
    for line in read(path).rstrip("\n").split("\n"):
        if line.startswith("#"):
            out.append(line)
            taken = 0
        elif line.strip() and taken < top:
            out.append(line)
            taken += 1
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--results", default=os.path.join(ROOT, "scripts/bench/results"))
    p.add_argument("--template", default=os.path.join(ROOT, "scripts/bench/benchmarks.md.in"))
    p.add_argument("--out", default=os.path.join(ROOT, "docs/benchmarks.md"))
    p.add_argument("--top", type=int, default=15, help="functions per profile list")
    a = p.parse_args()

    summary, rest = split_results(read(os.path.join(a.results, "results.md")))
    m = json.load(open(os.path.join(a.results, "results.json")))["machine"]
    machine = (f"{m['cpus']} CPUs ({m['cpu_model']}), {m['mem_gib']} GiB, Linux {m['kernel']}, "
               f"{m['etcd']}; load average when the run started: {m['loadavg']}. Build: "
               + read(os.path.join(a.results, "build_info.txt")).strip().replace("\n", "; ") + ".")
    profiles = []
    for name, what in (("get", "Get, 1 node"), ("set", "Set, 3 nodes, the node written to")):
        path = os.path.join(a.results, f"profile_{name}.txt")
        if os.path.exists(path):
            profiles.append(f"{what} ([full list](../scripts/bench/results/profile_{name}.txt)):\n\n"
                            "```\n" + profile_head(path, a.top) + "\n```")
    durability = os.path.join(a.results, "durability.md")
    durability = read(durability).strip() if os.path.exists(durability) else \
        "(no durability run in these results: `scripts/bench/run.sh --durability`)"
    tlss = sorted((f for f in os.listdir(a.results) if f == "tls.md" or
                   (f.startswith("tls_") and f.endswith(".md"))), key=lambda f: (f != "tls.md", f))
    tls = "\n\n".join(f"[`{f}`](../scripts/bench/results/{f}): " + read(os.path.join(a.results, f)).strip()
                       for f in tlss) or "(no TLS run in these results: `scripts/bench/run.sh --tls`)"
    abs_ = sorted(f for f in os.listdir(a.results) if f.startswith("ab_") and f.endswith(".md"))
    ab = "\n\n".join(f"[`{f}`](../scripts/bench/results/{f}): " + read(os.path.join(a.results, f)).strip()
                      for f in abs_) or "(no A/B run in these results)"
    doc = read(a.template)
    for key, value in (("@@SUMMARY@@", summary), ("@@RESULTS@@", rest), ("@@MACHINE@@", machine),
                       ("@@PROFILE@@", "\n\n".join(profiles) or "(no profile in this run)"),
                       ("@@DURABILITY@@", durability), ("@@TLS@@", tls), ("@@AB@@", ab)):
        doc = doc.replace(key, value)
    with open(a.out, "w") as f:
        f.write(doc)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
