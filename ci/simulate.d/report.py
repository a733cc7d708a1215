#!/usr/bin/env python3
"""ci/simulate's reports, from the JSON rows of dlbsim and ci/smpi.

  report.py validate SIM.jsonl SMPI.jsonl OUT.jsonl
      joins the simulator's rows with SMPI's on (strategy, workload, ranks),
      prints makespan / bound side by side and writes one row per point to
      OUT (reference "smpi", topology, ranks, workload, strategy, sim_ratio,
      reference_ratio, error = sim / reference - 1).
  report.py has-smpi SMPI.jsonl WORKLOAD RANKS,RANKS,...
      exit status 0 if SMPI's rows hold dlb at every one of those points.
  report.py plot SCALING.jsonl OUT.svg
      draws efficiency (bound / makespan) against ranks, one line per
      strategy, one panel per cross-node model and workload.
"""
import json
import math
import sys


def rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def validate(sim_path, smpi_path, out_path):
    smpi = {}
    for r in rows(smpi_path):
        smpi[(r["strategy"], r["workload"], r["ranks"])] = r
    out = []
    print(f"{'strategy':<15} {'workload':<8} {'ranks':>5}  {'sim':>7} {'smpi':>7} {'error':>7}")
    for r in rows(sim_path):
        key = (r["strategy"], r["workload"], r["ranks"])
        ref = smpi.get(key)
        if ref is None:
            continue
        sim_ratio = r["makespan_s"] / r["bound_s"]
        ref_ratio = ref["ratio"]
        err = sim_ratio / ref_ratio - 1
        print(f"{key[0]:<15} {key[1]:<8} {key[2]:>5}  {sim_ratio:>7.3f} {ref_ratio:>7.3f} {err:>+7.1%}")
        out.append({
            "bench": "validation",
            "reference": "smpi",
            "topology": f"{r['ranks']}x{r['per_node']}",
            "model": r["model"],
            "ranks": r["ranks"],
            "workload": r["workload"],
            "strategy": r["strategy"],
            "sim_ratio": sim_ratio,
            "reference_ratio": ref_ratio,
            "error": err,
        })
    if not out:
        sys.exit(f"report.py: no point of {sim_path} is in {smpi_path}")
    with open(out_path, "w") as f:
        for o in out:
            f.write(json.dumps(o) + "\n")
    worst = max(out, key=lambda o: abs(o["error"]))
    print(f"worst: {worst['strategy']} {worst['workload']} {worst['ranks']}: {worst['error']:+.1%}")


COLORS = {"dlb": "#d62728", "static": "#7f7f7f", "global_counter": "#1f77b4",
          "master_worker": "#2ca02c", "lock_steal": "#9467bd"}


def plot(path, svg_path):
    data = {}
    for r in rows(path):
        data.setdefault((r["model"], r["workload"]), {}).setdefault(r["strategy"], []).append(
            (r["ranks"], r["efficiency"]))
    panels = sorted(data)
    w, h, pad = 420, 300, 50
    width = w * len(panels)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 40}" '
           f'font-family="sans-serif" font-size="11">']
    all_ranks = [p for d in data.values() for pts in d.values() for p, _ in pts]
    lo, hi = math.log2(min(all_ranks)), math.log2(max(all_ranks))
    span = max(hi - lo, 1)
    for i, (model, workload) in enumerate(panels):
        x0 = i * w + pad
        pw, ph = w - pad - 20, h - pad - 20
        def x(p):
            return x0 + (math.log2(p) - lo) / span * pw
        def y(e):
            return 20 + (1 - max(0.0, min(1.0, e))) * ph
        out.append(f'<text x="{x0}" y="14">{model}, {workload}: efficiency (bound / makespan)</text>')
        out.append(f'<rect x="{x0}" y="20" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        for e in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0):
            out.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{y(e):.1f}" y2="{y(e):.1f}" stroke="#eee"/>')
            if e != 0.9:
                out.append(f'<text x="{x0 - 30}" y="{y(e) + 4:.1f}">{e:.2f}</text>')
        for p in sorted(set(all_ranks)):
            out.append(f'<text x="{x(p) - 10:.1f}" y="{20 + ph + 15}">{p}</text>')
        out.append(f'<text x="{x0 + pw / 2 - 15}" y="{20 + ph + 30}">ranks</text>')
        for j, (strategy, pts) in enumerate(sorted(data[(model, workload)].items())):
            pts.sort()
            color = COLORS.get(strategy, "#000")
            path_d = " ".join(f"{'M' if k == 0 else 'L'}{x(p):.1f},{y(e):.1f}" for k, (p, e) in enumerate(pts))
            out.append(f'<path d="{path_d}" fill="none" stroke="{color}" stroke-width="2"/>')
            for p, e in pts:
                out.append(f'<circle cx="{x(p):.1f}" cy="{y(e):.1f}" r="3" fill="{color}"/>')
            ly = 20 + ph - 8 - 13 * j
            out.append(f'<line x1="{x0 + 8}" x2="{x0 + 24}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" stroke-width="3"/>')
            out.append(f'<text x="{x0 + 28}" y="{ly}">{strategy}</text>')
    out.append("</svg>")
    with open(svg_path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"report.py: wrote {svg_path} ({len(panels)} panels)")


def has_smpi(path, workload, ranks):
    have = {(r["workload"], r["ranks"]) for r in rows(path) if r.get("strategy") == "dlb"}
    sys.exit(0 if all((workload, int(p)) in have for p in ranks.split(",")) else 1)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "has-smpi":
        has_smpi(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "validate":
        validate(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "plot":
        plot(*sys.argv[2:])
    else:
        sys.exit(__doc__)
