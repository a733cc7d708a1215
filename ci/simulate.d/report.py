#!/usr/bin/env python3
"""ci/simulate's reports, from the JSON rows of dlbsim and ci/smpi.

  report.py validate SIM.jsonl SMPI.jsonl OUT.jsonl
      joins the simulator's rows with SMPI's on (strategy, workload, ranks),
      prints makespan / bound side by side and writes one row per point to
      OUT (reference "smpi", topology, ranks, workload, strategy, sim_ratio,
      reference_ratio, error = sim / reference - 1).
  report.py has-smpi SMPI.jsonl WORKLOAD RANKS,RANKS,...
      exit status 0 if SMPI's rows hold dlb and dlb_marks at every one of
      those points.
  report.py validate-real SIM.jsonl REAL.jsonl OUT.jsonl RANKS PER_NODE MPI
      the same against the mean makespan / bound of real runs of
      benches/multinode.rs (Open MPI osc/pt2pt) or benches/balance.rs (one
      node: PER_NODE = RANKS), appended to OUT (reference "real").
  report.py has-real REAL.jsonl RANKS PER_NODE MPI JOBS
      exit status 0 if REAL holds such rows (of JOBS jobs; validate-real
      takes the job count from SIM's rows).
  report.py balance BALANCE.jsonl
      per (workload, ranks) of dlbsim's rows with draws: each strategy's
      mean makespan / bound over the draws, and dlb's paired difference
      from the best baseline (the one with the lowest mean), with its 95%
      interval (mean +- Student's t times the standard error of the per-draw
      differences, ci/paired.py),
      and the share of the ranks' time that dlb spent looking for jobs
      while some were left (waited_with_work_s).
  report.py ahead DRAWS.jsonl
      per (model, workload, ranks) of dlbsim's rows with draws: each
      strategy's mean efficiency (bound / makespan) over the draws, and, for
      dlb (as by default), dlb_marks and dlb_direct, the paired difference from the best baseline (the
      one with the highest mean) with its 95% interval and the draws on
      which it was ahead: whether dlb is ahead of a baseline on the average
      of its job costs, not on one draw (one draw of 100 uniform jobs per
      rank moves a global counter's efficiency by about 0.001, as much as
      it differs from dlb's).
  report.py goals SCALING.jsonl
      issue 14's scaling goals on uniform jobs, each said met, NOT met or
      not judged (no rows for it; a report: the exit status is 0 either
      way), per cross-node model: dlb's efficiency at 16384 ranks (at least
      0.90 on hw_rdma, 0.80 on sw_rma), dlb ahead of every baseline at every
      ranks >= 64 (on the rows' one draw of the costs), and its termination
      at 16384 ranks at most twice that at 1024.
  report.py plot SCALING.jsonl OUT.svg
      draws efficiency (bound / makespan) against ranks, one line per
      strategy, one panel per cross-node model and workload.
"""
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from paired import interval  # noqa: E402


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
            "topology": f"{r['ranks'] // r['per_node']}x{r['per_node']}",
            "model": r["model"],
            "ranks": r["ranks"],
            "workload": r["workload"],
            "strategy": r["strategy"],
            "sim_ratio": sim_ratio,
            "reference_ratio": ref_ratio,
            "error": err,
        })
    if any(p["strategy"] == "lock_steal" and p["ranks"] >= 256 for p in out):
        print("(lock_steal from 256 ranks on is a lock convoy: with every job's cost scaled by 0.98 to 1.02,\n"
              " SMPI put it at 22.6 to 31.1 times the bound at 256 ranks and the simulator at 27.3 to 34.7;\n"
              " one run's error says little there, BENCHMARKS.md)")
    write_points(out, out_path, "w", f"no point of {sim_path} is in {smpi_path}")


def write_points(out, out_path, mode, none_found):
    """Writes the validation points `out` to `out_path` (mode "w" or "a")
    and prints the worst; exits with `none_found` if there is none."""
    if not out:
        sys.exit(f"report.py: {none_found}")
    with open(out_path, mode) as f:
        for o in out:
            f.write(json.dumps(o) + "\n")
    worst = max(out, key=lambda o: abs(o["error"]))
    print(f"worst: {worst['strategy']} {worst['workload']} {worst['ranks']}: {worst['error']:+.1%}")


# The benchmarks' names for strategies and workloads, as the simulator's.
REAL_STRATEGY = {"dlb_rma": "dlb", "dlb_static": "static",
                 "master_worker": "master_worker", "global_counter": "global_counter"}
# benches/multinode.rs names its workloads apart from their generators.
MULTINODE_WORKLOAD = {"ramp": "ramp", "block": "heavy_block", "random": "seed_1_8"}


def real_ratios(real_path, ranks, per_node, mpi, jobs):
    """Mean makespan / bound per (strategy, bench:workload) of the real rows
    of benches/multinode.rs (stack osc/pt2pt) or benches/balance.rs (one
    node) of `jobs` jobs at `ranks` ranks in nodes of `per_node`, with `mpi`."""
    acc = {}
    for r in rows(real_path):
        if r.get("mpi") != mpi or r.get("ranks") != ranks or r.get("jobs") != jobs:
            continue
        if r.get("bench") == "multinode":
            if (r.get("metric") != "makespan_over_bound" or r.get("stack") != "openmpi-pt2pt"
                    or r.get("ranks_per_node") != per_node):
                continue
            workload = MULTINODE_WORKLOAD.get(r["workload"])
            ratio = r["value"]
        elif r.get("bench") == "balance" and per_node == ranks:
            if r.get("draw", 0) != 0:
                continue  # the simulator runs draw 0 of the random workloads
            workload, ratio = r["workload"], r["makespan_s"] / r["lower_bound_s"]
        else:
            continue
        strategy = REAL_STRATEGY.get(r.get("strategy"))
        if workload and strategy:
            acc.setdefault((strategy, "bench:" + workload), []).append(ratio)
    return {k: sum(v) / len(v) for k, v in acc.items()}


def validate_real(sim_path, real_path, out_path, ranks, per_node, mpi):
    """Appends to `out_path` the simulator's rows of `sim_path` side by side
    with the real runs' mean ratios; prints them."""
    ranks, per_node = int(ranks), int(per_node)
    sims = [r for r in rows(sim_path) if r["ranks"] == ranks and r["per_node"] == per_node]
    jobs = sims[0]["jobs"] if sims else None
    real = real_ratios(real_path, ranks, per_node, mpi, jobs)
    topology = "one node" if per_node == ranks else f"{ranks // per_node}x{per_node}"
    out = []
    print(f"{'strategy':<15} {'workload':<18} {'ranks':>5}  {'sim':>7} {'real':>7} {'error':>7}   ({topology}, {mpi})")
    for r in sims:
        key = (r["strategy"], r["workload"])
        if key not in real:
            continue
        sim_ratio = r["makespan_s"] / r["bound_s"]
        err = sim_ratio / real[key] - 1
        print(f"{key[0]:<15} {key[1]:<18} {ranks:>5}  {sim_ratio:>7.3f} {real[key]:>7.3f} {err:>+7.1%}")
        out.append({
            "bench": "validation",
            "reference": "real",
            "topology": topology,
            "mpi": mpi,
            "model": r["model"],
            "ranks": ranks,
            "workload": r["workload"],
            "strategy": r["strategy"],
            "sim_ratio": sim_ratio,
            "reference_ratio": real[key],
            "error": err,
        })
    write_points(out, out_path, "a", f"no point of {sim_path} has real rows in {real_path}")


def has_real(real_path, ranks, per_node, mpi, jobs):
    """Exit status 0 if `real_path` has real rows for that shape."""
    try:
        found = real_ratios(real_path, int(ranks), int(per_node), mpi, int(jobs))
    except (OSError, ValueError):  # no file, or a line that is not JSON
        found = {}
    sys.exit(0 if found else 1)


COLORS = {"dlb": "#d62728", "dlb_direct": "#ff7f0e", "dlb_marks": "#8c564b", "static": "#7f7f7f",
          "global_counter": "#1f77b4", "master_worker": "#2ca02c", "lock_steal": "#9467bd"}


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


def balance(path):
    # (workload, ranks) -> strategy -> draw -> [makespan / bound, one per seed]
    ratio = {}
    waited = {}  # (workload, ranks) -> [share of dlb's rank time]
    for r in rows(path):
        point = (r["workload"], r["ranks"])
        by_draw = ratio.setdefault(point, {}).setdefault(r["strategy"], {})
        by_draw.setdefault(r["draw"], []).append(r["makespan_s"] / r["bound_s"])
        if r["strategy"] == "dlb":
            waited.setdefault(point, []).append(
                r["waited_with_work_s"] / (r["makespan_s"] * r["ranks"])
            )
    baselines = ["static", "master_worker", "global_counter"]
    print(
        f"  {'workload':<18}{'ranks':>6}{'draws':>7}{'dlb':>8}"
        + "".join(f"{b:>16}" for b in baselines)
        + "   dlb - best (95% interval)   best           waited"
    )
    within = total = 0
    for (workload, ranks), by in sorted(ratio.items()):
        if "dlb" not in by or not all(b in by for b in baselines):
            continue
        # Draws that every strategy ran; dlb's seeds averaged per draw.
        paired = per_draw(by, ["dlb"] + baselines)
        if paired is None:
            continue
        draws, run, mean = paired
        best = min(baselines, key=lambda b: mean[b])
        m, half = interval([run["dlb"][d] - run[best][d] for d in draws])
        share = sum(waited[(workload, ranks)]) / len(waited[(workload, ranks)])
        total += 1
        within += m <= 0.02
        shown = "(one run)" if half is None else f"({m - half:+.3f} to {m + half:+.3f})"
        print(
            f"  {workload:<18}{ranks:>6}{len(draws):>7}{mean['dlb']:>8.3f}"
            + "".join(f"{mean[b]:>16.3f}" for b in baselines)
            + f"   {m:+.3f} {shown:<20} {best:<15}{100 * share:5.2f}%"
        )
    print(f"  dlb within 0.02 of the best baseline on average in {within} of {total} points")


def ahead(path):
    # (model, workload, ranks) -> strategy -> draw -> [efficiency, one per seed]
    eff = {}
    for r in rows(path):
        point = (r["model"], r["workload"], r["ranks"])
        by_draw = eff.setdefault(point, {}).setdefault(r["strategy"], {})
        by_draw.setdefault(r["draw"], []).append(r["bound_s"] / r["makespan_s"])
    baselines = ["static", "master_worker", "global_counter"]
    variants = ["dlb", "dlb_marks", "dlb_direct"]
    print(
        f"  {'model':<9}{'workload':<16}{'ranks':>6}{'draws':>7}"
        + "".join(f"{s:>15}" for s in variants + baselines)
    )
    lines = []
    for (model, workload, ranks), by in sorted(eff.items()):
        mine = [v for v in variants if v in by]
        if not mine or not all(b in by for b in baselines):
            continue
        paired = per_draw(by, mine + baselines)
        if paired is None:
            continue
        draws, run, mean = paired
        print(
            f"  {model:<9}{workload:<16}{ranks:>6}{len(draws):>7}"
            + "".join(f"{mean[s]:>15.4f}" if s in mean else f"{'':>15}" for s in variants + baselines)
        )
        best = max(baselines, key=lambda b: mean[b])
        for v in mine:
            diffs = [run[v][d] - run[best][d] for d in draws]
            m, half = interval(diffs)
            shown = "(one draw)" if half is None else f"({m - half:+.4f} to {m + half:+.4f})"
            wins = sum(x > 0 for x in diffs)
            lines.append(
                f"  {model} {workload} {ranks}: {v} - {best} {m:+.4f} {shown},"
                f" ahead on {wins} of {len(draws)} draws"
            )
    print("\n".join(lines))


GOAL_EFFICIENCY = {"hw_rdma": 0.90, "sw_rma": 0.80}
GOAL_RANKS = 16384


def goals(path):
    # model -> ranks -> strategy -> row, uniform jobs only (the goals' workload)
    points = {}
    for r in rows(path):
        if r["workload"] == "uniform":
            points.setdefault(r["model"], {}).setdefault(r["ranks"], {})[r["strategy"]] = r
    baselines = ["static", "global_counter", "master_worker", "lock_steal"]
    said = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    for model, by_ranks in sorted(points.items()):
        ranks = sorted(p for p in by_ranks if "dlb" in by_ranks[p])
        eff = {p: by_ranks[p]["dlb"]["efficiency"] for p in ranks}
        what = f"  goal {model} uniform:"
        goal = GOAL_EFFICIENCY.get(model)
        if goal is not None and GOAL_RANKS in eff:
            print(f"{what} dlb's efficiency at {GOAL_RANKS} ranks {eff[GOAL_RANKS]:.4f} >= {goal}:"
                  f" {said(eff[GOAL_RANKS] >= goal)}")
        elif goal is not None:
            print(f"{what} dlb's efficiency at {GOAL_RANKS} ranks: not judged (no dlb run there)")
        big = [p for p in ranks if p >= 64]
        behind = [f"{b} at {p} ({row['efficiency']:.4f} against {eff[p]:.4f})"
                  for p in big for b, row in sorted(by_ranks[p].items())
                  if b in baselines and row["efficiency"] >= eff[p]]
        if big:
            print(f"{what} dlb ahead of every baseline at every ranks >= 64 ({', '.join(map(str, big))}),"
                  f" on this one draw of the costs: {said(not behind)}; behind: {', '.join(behind) or 'none'}")
        else:
            print(f"{what} dlb ahead of every baseline at ranks >= 64: not judged (no such ranks)")
        if GOAL_RANKS in eff and 1024 in eff:
            t, t1024 = (by_ranks[p]["dlb"]["termination_s"] for p in (GOAL_RANKS, 1024))
            print(f"{what} termination at {GOAL_RANKS} ranks {1e6 * t:.0f} us <= 2 x"
                  f" {1e6 * t1024:.0f} us at 1024: {said(t <= 2 * t1024)}")
        else:
            print(f"{what} termination at {GOAL_RANKS} against 1024 ranks: not judged (no dlb run at both)")
    print("  (one draw moves the global counter by about 0.001: the draws below compare on average)")


def per_draw(by, strategies):
    """The draws that every one of strategies ran, each strategy's value per
    such draw (its seeds averaged) and its mean over them; None without such
    draws. by: strategy -> draw -> [value, one per seed]."""
    draws = sorted(set.intersection(*(set(by[s]) for s in strategies)))
    if not draws:
        return None
    run = {s: {d: sum(by[s][d]) / len(by[s][d]) for d in draws} for s in strategies}
    mean = {s: sum(run[s].values()) / len(draws) for s in run}
    return draws, run, mean


def has_smpi(path, workload, ranks):
    # Both of dlb's rows: before dlb_marks, SMPI's "dlb" rows were of marks.
    have = {}
    for r in rows(path):
        have.setdefault(r.get("strategy"), set()).add((r["workload"], r["ranks"]))
    points = [(workload, int(p)) for p in ranks.split(",")]
    sys.exit(0 if all(p in have.get(s, ()) for s in ("dlb", "dlb_marks") for p in points) else 1)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "has-smpi":
        has_smpi(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "validate":
        validate(*sys.argv[2:])
    elif len(sys.argv) == 8 and sys.argv[1] == "validate-real":
        validate_real(*sys.argv[2:])
    elif len(sys.argv) == 7 and sys.argv[1] == "has-real":
        has_real(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "ahead":
        ahead(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "goals":
        goals(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "balance":
        balance(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "plot":
        plot(*sys.argv[2:])
    else:
        sys.exit(__doc__)
