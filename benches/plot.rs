//! Turns `target/bench/*.jsonl` into SVG plots beside them (no MPI):
//! `balance-<mpi>.svg`, makespan / lower bound against ranks per strategy
//! (worst workload: the figure a user should plan for); `latency-<mpi>-<stack>-<path>.svg`,
//! p50 and p99 (over timed batches) of every latency figure on a log scale.
//!
//! Run by `ci/bench` after the MPI benchmarks.

use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One benchmark row: a flat JSON object.
type Obj = serde_json::Map<String, serde_json::Value>;

/// The rows of `target/bench/<bench>.jsonl`; a line that is not a JSON
/// object is an error (the benchmarks wrote it).
fn read(dir: &Path, bench: &str) -> Result<Vec<Obj>, Box<dyn std::error::Error>> {
    let file = dir.join(format!("{bench}.jsonl"));
    let Ok(text) = fs::read_to_string(&file) else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(serde_json::Value::Object(o)) => rows.push(o),
            Ok(_) => return Err(format!("{}:{}: not an object", file.display(), i + 1).into()),
            Err(e) => return Err(format!("{}:{}: {e}", file.display(), i + 1).into()),
        }
    }
    Ok(rows)
}

/// A number field (NaN when missing or null).
fn num(o: &Obj, k: &str) -> f64 {
    o.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN)
}

/// A string field ("" when missing).
fn text<'a>(o: &'a Obj, k: &str) -> &'a str {
    o.get(k).and_then(|v| v.as_str()).unwrap_or("")
}

type Plot = Result<(), Box<dyn std::error::Error>>;

fn balance(dir: &Path, rows: &[Obj], mpi: &str) -> Plot {
    // (strategy, ranks, workload) -> (sum, draws): the mean over draws
    let mut means: BTreeMap<(&str, u32, &str), (f64, u32)> = BTreeMap::new();
    for r in rows.iter().filter(|r| text(r, "mpi") == mpi) {
        let key = (
            text(r, "strategy"),
            num(r, "ranks") as u32,
            text(r, "workload"),
        );
        let e = means.entry(key).or_insert((0.0, 0));
        *e = (e.0 + num(r, "value"), e.1 + 1);
    }
    // strategy -> ranks -> worst mean ratio over workloads
    let mut worst: BTreeMap<&str, BTreeMap<u32, f64>> = BTreeMap::new();
    for ((strategy, ranks, _), (sum, n)) in means {
        let e = worst
            .entry(strategy)
            .or_default()
            .entry(ranks)
            .or_insert(0.0);
        *e = e.max(sum / f64::from(n));
    }
    if worst.is_empty() {
        return Ok(());
    }
    let max_ranks = worst
        .values()
        .flat_map(|m| m.keys())
        .copied()
        .max()
        .unwrap_or(2);
    let top = worst
        .values()
        .flat_map(|m| m.values())
        .cloned()
        .fold(1.1, f64::max)
        * 1.1;
    let file = dir.join(format!("balance-{mpi}.svg"));
    let root = SVGBackend::new(&file, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{mpi}: makespan / lower bound, worst workload"),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d((1u32..max_ranks + 1).log_scale(), 0.9f64..top)?;
    chart
        .configure_mesh()
        .x_desc("ranks")
        .y_desc("makespan / bound")
        .draw()?;
    let colors = [RED, BLUE, GREEN, MAGENTA];
    for (i, (strategy, points)) in worst.iter().enumerate() {
        let color = colors[i % colors.len()];
        let pts: Vec<(u32, f64)> = points.iter().map(|(r, v)| (*r, *v)).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(*strategy)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
    }
    chart
        .draw_series(LineSeries::new(
            [(1, 1.05), (max_ranks + 1, 1.05)],
            BLACK.mix(0.4),
        ))?
        .label("target 1.05");
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    println!("plot: wrote {}", file.display());
    Ok(())
}

fn latency(dir: &Path, rows: &[Obj], mpi: &str, path: &str, stack: &str) -> Plot {
    let mut names: Vec<String> = Vec::new();
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for r in rows
        .iter()
        .filter(|r| text(r, "mpi") == mpi && text(r, "path") == path && text(r, "stack") == stack)
    {
        let (median, tail) = (num(r, "p50_us"), num(r, "p99_us"));
        if median.is_finite() && tail.is_finite() {
            names.push(text(r, "metric").to_owned());
            p50.push(median);
            p99.push(tail);
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    let lo = p50
        .iter()
        .chain(&p99)
        .cloned()
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min)
        / 2.0;
    let hi = p50.iter().chain(&p99).cloned().fold(0.0, f64::max) * 2.0;
    let file = dir.join(format!("latency-{mpi}-{stack}-{path}.svg"));
    let root = SVGBackend::new(&file, (900, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = names.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{mpi} ({stack}), {path} path: latency on 2 ranks, p50 and p99 over batches"),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d(
            -0.5f64..n as f64 - 0.5,
            (lo.max(1e-3)..hi.max(1.0)).log_scale(),
        )?;
    let labels = names.clone();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&move |x| labels.get(x.round() as usize).cloned().unwrap_or_default())
        .y_desc("microseconds")
        .draw()?;
    for (series, values, color) in [("p50", &p50, BLUE), ("p99", &p99, RED)] {
        let pts: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64, v.max(lo)))
            .collect();
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 5, color.filled())))?
            .label(series)
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    println!("plot: wrote {}", file.display());
    Ok(())
}

fn main() -> Plot {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench");
    let balance_rows = read(&dir, "balance")?;
    let latency_rows = read(&dir, "latency")?;
    let mut stacks: Vec<&str> = latency_rows.iter().map(|r| text(r, "stack")).collect();
    stacks.sort_unstable();
    stacks.dedup();
    for mpi in ["openmpi", "mpich"] {
        balance(&dir, &balance_rows, mpi)?;
        for path in ["shm", "mpi"] {
            for stack in &stacks {
                latency(&dir, &latency_rows, mpi, path, stack)?;
            }
        }
    }
    Ok(())
}
