"""The run report: one offline ``index.html`` over the finished results of a run.

Built from ``manifest.json`` and the task folders only, so it can be rebuilt at any
time (``build_report(run_dir)``) and shows what finished even when some tasks
failed (those are listed with their reasons).  Images are the PNG files written
by the figure tasks, referenced by relative paths (each linked to its PDF); every
link points to a file that exists; no script, font or style is loaded from
anywhere else.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._atomic import atomic_write_text
from ._stage_registry import display_rank
from .plan import SUMMARY_ABOVE_MODELS
from .stages import LAYERS_PAGE

__all__ = ["build_report"]

log = logging.getLogger(__name__)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:14px 24px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cfd8dc}
main{padding:8px 24px 40px;max-width:1400px}
nav{margin:10px 0;font-size:14px}nav a{margin-right:14px}
h2{border-bottom:2px solid #90a4ae;padding-bottom:3px;margin-top:34px}
h3{margin:22px 0 6px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 14px;background:#fff}
td,th{border:1px solid #cfd8dc;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#eceff1}td.l,th.l{text-align:left}
.tablebox{max-width:100%;overflow-x:auto;margin:6px 0 14px}.tablebox table{margin:0}
th,td.l{white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0;background:#fff;border:1px solid #cfd8dc;padding:6px;max-width:680px}
figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:12px;color:#455a64;margin-top:4px}
.bad{color:#b71c1c}.ok{color:#1b5e20}.muted{color:#78909c;font-size:12px}
code{background:#eceff1;padding:0 3px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


class _Page:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.parts: list[str] = []
        self.sections: list[tuple[str, str]] = []

    def rel(self, path: str | Path) -> str | None:
        p = Path(path)
        full = p if p.is_absolute() else self.run_dir / p
        if not full.exists():
            return None
        return Path(os.path.relpath(full, self.run_dir)).as_posix()

    def link(self, path: str | Path, text: str) -> str:
        rel = self.rel(path)
        if rel is None:
            return _e(text)
        return f'<a href="{_e(rel)}">{_e(text)}</a>'

    def section(self, anchor: str, title: str) -> None:
        self.sections.append((anchor, title))
        self.parts.append(f'<h2 id="{_e(anchor)}">{_e(title)}</h2>')

    def add(self, text: str) -> None:
        self.parts.append(text)

    def figure(self, folder: str, caption: str) -> str:
        png = self.rel(Path(folder) / "figure.png")
        if png is None:
            return ""
        pdf = self.rel(Path(folder) / "figure.pdf")
        # print size (96 CSS px per inch, from the sidecar): every figure's text shows
        # at the same size, a small matrix is not blown up to the box's width
        width = ""
        side = self.run_dir / folder / "figure.json"
        try:
            inches = float(json.loads(side.read_text())["figure"]["size_inches"][0])
            width = f' style="width:{round(inches * 96)}px"'
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            pass
        img = f'<img src="{_e(png)}" alt="{_e(caption)}" loading="eager"{width}>'
        pdf_link = f' <a href="{_e(pdf)}">PDF</a>' if pdf else ""
        return f'<figure><a href="{_e(png)}">{img}</a><figcaption>{_e(caption)}{pdf_link}</figcaption></figure>'


def _table(
    rows: Sequence[Mapping[str, Any]],
    columns: list[str],
    *,
    left: Iterable[str] = (),
    raw: Iterable[str] = (),
) -> str:
    left, raw = set(left), set(raw)
    head = "".join(f'<th class="{"l" if c in left else ""}">{_e(c)}</th>' for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            if isinstance(v, float):
                text = "n/a" if math.isnan(v) else f"{v:.4g}"
            else:
                text = "" if v is None else str(v)
            cells.append(
                f'<td class="{"l" if c in left else ""}">{text if c in raw else _e(text)}</td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    # a box that scrolls sideways: a wide table never runs off the page
    return f"<div class='tablebox'><table><tr>{head}</tr>{''.join(body)}</table></div>"


def _csv_table(
    path: Path,
    *,
    max_rows: int = 60,
    links: Mapping[str, str] | None = None,
    page: _Page | None = None,
) -> str:
    import pandas as pd

    df = pd.read_csv(path)
    df = df.rename(columns={c: "" for c in df.columns if str(c).startswith("Unnamed")}).head(
        max_rows
    )
    rows = df.to_dict(orient="records")
    first = df.columns[0] if len(df.columns) else ""
    if links and page is not None:
        for row in rows:
            target = links.get(str(row[first]))
            if target:
                row[first] = page.link(target, str(row[first]))
            else:
                row[first] = _e(row[first])
        return _table(rows, list(df.columns), left=[first], raw=[first])
    return _table(rows, list(df.columns), left=[first])


def _done(tasks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [t for t in tasks if t["kind"] == kind and t["status"] in ("done", "cached")]


def _figures_of(tasks: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for t in _done(tasks, "figures"):
        src = t["info"].get("figure_of")
        if src:
            out.setdefault(src, []).append(t)
    return out


_SEED_VIEWS = ("within_mean", "within_spread", "cross_mean")


def _label_of(task: Mapping[str, Any]) -> str:
    """The human label of the measure a task computed (its figure label), else its spec."""
    from .._figure_labels import figure_label

    label = task.get("info", {}).get("measure_label")
    if label:
        return str(label)
    measure = (task.get("meta") or {}).get("measure")
    try:
        return figure_label(measure) if measure else str(task["info"].get("spec", ""))
    except (TypeError, ValueError):
        return str(measure)


def _seed_views(
    page: _Page, combined: Mapping[str, Any] | None, figures: list[dict[str, Any]]
) -> str:
    """The within-model matrices summarised across models: figures and the correspondence table."""
    if combined is None:
        return "<p class='muted'>No cross-model matrix: the summary across models needs it.</p>"
    parts = [
        (
            "<p class='muted'>Over the models that share the first model's layers: the mean "
            "and the standard deviation of their within-model matrices, and the matrix between "
            "the layers of two different models averaged over every such pair (the same depth "
            "on its diagonal).</p><div class='grid'>"
        )
    ]
    for view in _SEED_VIEWS:
        for f in (f for f in figures if f["info"].get("view") == view):
            parts.append(page.figure(f["path"], f["info"].get("title", "")))
    parts.append("</div>")
    corr = page.run_dir / combined["path"] / "correspondence.csv"
    if corr.exists():
        parts.append(
            "<p>Same-depth correspondence: how often the closest layer of another model "
            "is the one at the same depth (" + page.link(corr, "CSV") + ").</p>"
        )
        parts.append(_csv_table(corr))
    return "".join(parts)


def build_report(run_dir: str | os.PathLike[str]) -> Path:
    """Write ``<run_dir>/index.html`` from the manifest and the finished task folders.

    Parameters
    ----------
    run_dir
        A run directory written by :func:`~tda_activations.batch.run_batch`.

    Returns
    -------
    pathlib.Path
        The report.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` has no ``manifest.json``.
    """
    run_dir = Path(run_dir)
    mfile = run_dir / "manifest.json"
    if not mfile.exists():
        raise FileNotFoundError(f"{run_dir} has no manifest.json: it is not a run directory")
    manifest = json.loads(mfile.read_text())
    tasks: list[dict[str, Any]] = manifest["tasks"]
    figs = _figures_of(tasks)
    cfg = manifest.get("config", {})
    page = _Page(run_dir)

    # ------------------------------------------------------------ overview
    counts = manifest.get("counts", {})
    page.section("overview", "Run")
    state = manifest.get("state", "?")
    cls = "ok" if state == "complete" else "bad"
    page.add(
        f'<p>State: <b class="{cls}">{_e(state)}</b> &middot; '
        + ", ".join(f"{_e(v)} {_e(k)}" for k, v in counts.items() if v)
        + f" &middot; wall time {manifest.get('timings', {}).get('wall_seconds', 0):.1f} s"
        + f" &middot; executor {_e(manifest.get('executor', {}).get('executor', '?'))}"
        + f" ({_e(manifest.get('executor', {}).get('workers', '?'))} workers)</p>"
    )
    data = cfg.get("data", {})
    page.add(
        f"<p>Data: <code>{_e(data.get('dataset'))}</code> ({_e(data.get('split'))} split"
        + (f", first {_e(data.get('limit'))} samples" if data.get("limit") else "")
        + f"); reduction <code>{_e(cfg.get('extract', {}).get('reduction'))}</code>; "
        + page.link("manifest.json", "manifest.json")
        + " (config, versions, fingerprints, timings)"
        + (
            " &middot; " + page.link("config.toml", "config.toml")
            if (run_dir / "config.toml").exists()
            else ""
        )
        + "</p>"
    )

    # --------------------------------------------------------------- models
    page.section("models", "Models")
    rows = []
    for t in (t for t in tasks if t["kind"] == "extract"):
        meta = t.get("meta") or {}
        status = t["status"]
        rows.append(
            {
                "model": t["name"],
                "status": status if status not in ("failed",) else f"failed: {t.get('error')}",
                "class": meta.get("model_class", ""),
                "source": meta.get("source", ""),
                "parameters": meta.get("n_params", ""),
                "accuracy": meta.get("accuracy") if meta.get("accuracy") is not None else "",
                "layers": len(meta.get("layers", [])) or "",
                "fingerprint": meta.get("model_fingerprint", ""),
                "activations": page.link(Path(t["path"]) / "store" / "manifest.json", "store")
                if status in ("done", "cached")
                else "",
            }
        )
    page.add(
        _table(
            rows,
            [
                "model",
                "status",
                "class",
                "source",
                "parameters",
                "accuracy",
                "layers",
                "fingerprint",
                "activations",
            ],
            left=["model", "status", "class", "source"],
            raw=["activations"],
        )
    )

    # ------------------------------------------------------------- problems
    bad = [t for t in tasks if t["status"] in ("failed", "skipped")]
    if bad:
        page.section("problems", f"Failed and skipped tasks ({len(bad)})")
        page.add(
            _table(
                [
                    {
                        "stage": t["kind"],
                        "task": t["name"],
                        "status": t["status"],
                        "why": t.get("error") or t.get("reason") or "",
                    }
                    for t in bad
                ],
                ["stage", "task", "status", "why"],
                left=["stage", "task", "status", "why"],
            )
        )

    # ----------------------------------------------------- within-model matrices
    n_models = sum(1 for t in tasks if t["kind"] == "extract")
    summarise = n_models > SUMMARY_ABOVE_MODELS
    alls = _done(tasks, "distances-all") + _done(tasks, "similarity-all")
    for analysis, title in (
        ("distances", "Layer distances (persistence diagrams)"),
        ("similarity", "Representational similarity between layers"),
    ):
        within = [t for t in _done(tasks, analysis) if "model" in t["info"]]
        if not within:
            continue
        page.section(analysis, title)
        specs = sorted({t["info"]["spec"] for t in within})
        for spec in specs:
            of_spec = [t for t in within if t["info"]["spec"] == spec]
            page.add(f"<h3>{_e(_label_of(of_spec[0]))}</h3>")
            if summarise:
                combined = next(
                    (
                        t
                        for t in alls
                        if t["info"]["analysis"] == analysis and t["info"]["spec"] == spec
                    ),
                    None,
                )
                page.add(
                    _seed_views(page, combined, figs.get(combined["key"], []) if combined else [])
                )
                page.add(
                    _table(
                        [
                            {
                                "model": t["info"]["model"],
                                "matrix": page.link(Path(t["path"]) / "matrix.csv", "CSV"),
                            }
                            for t in of_spec
                        ],
                        ["model", "matrix"],
                        left=["model", "matrix"],
                        raw=["matrix"],
                    )
                )
                continue
            page.add("<div class='grid'>")
            for t in of_spec:
                for f in figs.get(t["key"], []):
                    page.add(
                        page.figure(f["path"], f"{f['info'].get('title', t['name'])}").replace(
                            "</figcaption>",
                            " &middot; "
                            + page.link(Path(t["path"]) / "matrix.csv", "CSV")
                            + "</figcaption>",
                        )
                    )
            page.add("</div>")

    # ------------------------------------------------------ cross-architecture
    if alls:
        page.section("cross", "Cross-model comparison")
        page.add(
            "<p>Every layer of every model in one matrix (models as blocks), the model x model "
            "summary (for each layer of one model the closest layer of the other, averaged both "
            "ways) and an MDS embedding of the layers"
            + (
                ", one dot per layer coloured by its depth"
                if summarise
                else ", one trajectory per model, first to last layer"
            )
            + ".</p>"
        )
        for t in alls:
            analysis = t["info"]["analysis"]
            page.add(f"<h3>{_e(analysis)}: {_e(_label_of(t))}</h3><div class='grid'>")
            for f in figs.get(t["key"], []):
                if f["info"].get("view", "") not in _SEED_VIEWS:
                    page.add(page.figure(f["path"], f["info"].get("title", "")))
            page.add("</div>")
            models_csv = run_dir / t["path"] / "models.csv"
            if models_csv.exists() and not summarise:
                page.add(_csv_table(models_csv))
            page.add(
                "<p class='muted'>"
                + page.link(Path(t["path"]) / "matrix.csv", "all layers (CSV)")
                + " &middot; "
                + page.link(Path(t["path"]) / "models.csv", "models (CSV)")
                + "</p>"
            )

    # ---------------------------------------------------------------- mapper
    trends = _done(tasks, "mapper-trend")
    if trends:
        page.section("mapper", "Mapper: how the class hierarchy is organised with depth")
        trend_figs = [t for t in _done(tasks, "figures") if t["name"] == "mapper/trend"]
        if trend_figs:
            page.add(
                "<div class='grid'>"
                + page.figure(trend_figs[0]["path"], trend_figs[0]["info"].get("title", ""))
                + "</div>"
            )
        if summarise:
            page.add(
                "<p class='muted'>Each model's explorable page shows the Mapper graphs of all its "
                "layers side by side (select a node to follow its samples through the layers).</p>"
            )
            rows = []
            for t in trends:
                rows.append(
                    {
                        "model": _e(t["info"]["model"]),
                        "all layers": page.link(Path(t["path"]) / LAYERS_PAGE, "explore"),
                        "tables": page.link(Path(t["path"]) / "trend.csv", "trend.csv")
                        + " &middot; "
                        + page.link(Path(t["path"]) / "trend_stats.csv", "Spearman with depth"),
                    }
                )
            page.add(
                _table(
                    rows,
                    ["model", "all layers", "tables"],
                    left=["model", "all layers", "tables"],
                    raw=["model", "all layers", "tables"],
                )
            )
        mapper_tasks = _done(tasks, "mapper")
        for t in trends if not summarise else ():
            model = t["info"]["model"]
            links = {}
            for m in (m for m in mapper_tasks if m["info"].get("model") == model):
                mf = run_dir / m["path"] / "mapper" / "manifest.json"
                if mf.exists():
                    entry = json.loads(mf.read_text())["layers"][0]
                    if "html" in entry:
                        links[m["info"]["layer"]] = str(Path(m["path"]) / "mapper" / entry["html"])
            page.add(
                f"<h3>{_e(model)}</h3><p class='muted'>"
                + (
                    page.link(Path(t["path"]) / LAYERS_PAGE, "All layers on one explorable page")
                    + " (select a node to follow its samples through the layers); "
                    if (run_dir / t["path"] / LAYERS_PAGE).exists()
                    else ""
                )
                + "click a layer for its interactive Mapper graph (pie charts of class "
                "composition). "
                + page.link(Path(t["path"]) / "trend.csv", "trend.csv")
                + " &middot; "
                + page.link(Path(t["path"]) / "trend_stats.csv", "Spearman correlation with depth")
                + "</p>"
            )
            page.add(_csv_table(run_dir / t["path"] / "trend.csv", links=links, page=page))

    # ---------------------------------------------------------------- probes
    probes = _done(tasks, "probes")
    if probes:
        page.section("probes", "Probes")
        arch = [p for p in probes if p["info"].get("probe") == "architecture"]
        if arch:
            page.add("<h3>Architecture metrics</h3>")
            rows = []
            for p in arch:
                s = run_dir / p["path"] / "summary.json"
                if s.exists():
                    rows.append({"model": p["info"]["model"], **json.loads(s.read_text())})
            cols = [
                "model",
                "params",
                "macs",
                "receptive_field",
                "output_dim",
                "compression",
                "log10_regions_bound",
                "n_nodes",
            ]
            page.add(_table(rows, cols, left=["model"]))
        others = sorted({p["info"]["probe"] for p in probes} - {"architecture"})
        for probe in others:
            page.add(f"<h3>{_e(probe)}</h3>")
            for p in (p for p in probes if p["info"]["probe"] == probe):
                page.add(
                    f"<p><b>{_e(p['info']['model'])}</b> &middot; "
                    + page.link(Path(p["path"]) / "table.csv", "table.csv")
                    + "</p>"
                )
                page.add(_csv_table(run_dir / p["path"] / "table.csv", max_rows=40))

    # ------------------------------------------------------------ experiments
    exps = _done(tasks, "experiments")
    if exps:
        page.section("experiments", "Experiments")
        sens_figs = [
            f for f in _done(tasks, "figures") if f["info"].get("experiment") == "sensitivity"
        ]
        if sens_figs:
            page.add(
                "<h3>Sensitivity</h3><p class='muted'>Dissimilarity between a layer's cloud and "
                "its projection onto fewer principal directions (a sensitive measure grows as "
                "information is removed).</p><div class='grid'>"
            )
            for f in sens_figs:
                page.add(page.figure(f["path"], f["info"].get("title", "")))
            page.add("</div>")
            rows = []
            for t in (t for t in exps if t["info"].get("experiment") == "sensitivity"):
                per_layer = run_dir / t["path"] / "result" / "per_layer.csv"
                rows.append(
                    {
                        "model": t["info"]["model"],
                        "layer": t["info"]["layer"],
                        "tables": page.link(per_layer, "per layer")
                        + " &middot; "
                        + page.link(Path(t["path"]) / "result" / "curves.csv", "curves"),
                    }
                )
            page.add(
                _table(
                    rows,
                    ["model", "layer", "tables"],
                    left=["model", "layer", "tables"],
                    raw=["tables"],
                )
            )
        for t in (t for t in exps if t["info"].get("experiment") == "specificity"):
            page.add(
                "<h3>Specificity: layer correspondence across models</h3>"
                "<p class='muted'>How often the layer of another model closest to a given layer "
                "is the one at the same (relative) depth.</p>"
            )
            summary = run_dir / t["path"] / "result" / "summary.csv"
            if summary.exists():
                page.add(_csv_table(summary))
            page.add(
                "<p class='muted'>"
                + page.link(Path(t["path"]) / "result" / "matches.csv", "matches.csv")
                + "</p>"
            )
        for t in (t for t in exps if t["info"].get("experiment") == "monotonicity"):
            page.add("<h3>Monotonicity: does dissimilarity grow with the distance in depth?</h3>")
            table = run_dir / t["path"] / "table.csv"
            if table.exists():
                page.add(_csv_table(table))

    # ---------------------------------------------------------------- timing
    page.section("timing", "Tasks and timings")
    per: dict[str, dict[str, float]] = {}
    for t in tasks:
        d = per.setdefault(
            t["kind"],
            {"tasks": 0, "computed now": 0, "cached": 0, "failed": 0, "skipped": 0, "seconds": 0.0},
        )
        d["tasks"] += 1
        d[{"done": "computed now"}.get(t["status"], t["status"])] = (
            d.get({"done": "computed now"}.get(t["status"], t["status"]), 0) + 1
        )
        d["seconds"] += float(t.get("seconds") or 0.0)
    page.add(
        _table(
            [{"stage": k, **per[k]} for k in sorted(per, key=display_rank)],
            ["stage", "tasks", "computed now", "cached", "failed", "skipped", "seconds"],
            left=["stage"],
        )
    )
    page.add("<p class='muted'>seconds: sum of the task times (when each was computed).</p>")

    title = cfg.get("run", {}).get("name", "run")
    desc = cfg.get("run", {}).get("description", "")
    nav = "".join(f'<a href="#{_e(a)}">{_e(t)}</a>' for a, t in page.sections)
    doc = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}: tda_activations run report</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>{_e(desc)} &middot; run {_e(manifest.get('run_id', ''))} &middot; "
        f"tda_activations {_e(manifest.get('versions', {}).get('tda_activations (imported)', ''))}</p></header>"
        f"<main><nav>{nav}</nav>{''.join(page.parts)}</main></body></html>"
    )
    out = run_dir / "index.html"
    atomic_write_text(out, doc)
    log.info("report written to %s", out)
    return out
