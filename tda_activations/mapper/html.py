"""A self-contained, offline HTML page of a Mapper graph.

kmapper's ``visualize()`` page loads d3 v6 and fonts from the internet (kmapper
issue #245) and the d3 it ships (3.5.5) is not the version its script needs, so
the page here is our own: inline SVG and a little vanilla JavaScript, no external
URL at all (a Content-Security-Policy forbids any load).  Nodes are drawn as pie
charts of their class composition at the chosen level (as in the paper) and
placed with the same seeded spring layout as :func:`pie_chart_data`; hovering a
node shows its size, interval, lens mean, misclassification rate and composition.
A selector switches the colouring between the hierarchy levels and the lens.
"""

from __future__ import annotations

import html as _html
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from ..types import MapperGraph, unknown_name_error
from .composition import NodeComposition
from .export import _check_composition, _clean, graph_layout, group_colors

__all__ = ["html_page", "to_html"]


def _script_json(obj: Any) -> str:
    """JSON safe to embed in a <script> element (no '<', '>' or '&' characters)."""
    text = json.dumps(_clean(obj), allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html_page(
    graph: MapperGraph,
    *,
    compositions: Mapping[str, NodeComposition] | None = None,
    color_by: str | None = None,
    title: str | None = None,
    seed: int = 0,
) -> str:
    """The HTML text of the page (see :func:`to_html`)."""
    compositions = dict(compositions or {})
    for comp in compositions.values():
        _check_composition(graph, comp)
    choices = [*compositions, "lens"]
    if color_by is None:
        color_by = choices[0]
    if color_by not in choices:
        raise unknown_name_error("colouring", color_by, choices)
    pos = graph_layout(graph, seed=seed)
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    levels = {}
    for level, comp in compositions.items():
        levels[level] = {
            "groups": list(comp.group_names),
            "colors": list(group_colors(len(comp.group_names))),
            "counts": comp.counts.tolist(),
            "error": _clean(comp.misclassification_rate),
        }
    data = {
        "label": graph.label,
        "nodes": [
            {"id": n.id, "size": n.size, "interval": n.interval, "lens": n.lens_mean,
             "x": float(pos[i, 0]), "y": float(pos[i, 1])}
            for i, n in enumerate(graph.nodes)
        ],
        "edges": [[order[a], order[b]] for a, b in graph.edges],
        "levels": levels,
        "colorBy": color_by,
        "params": graph.params,
        "nPoints": graph.n_points,
    }
    title = title or f"Mapper graph {graph.label}".strip()
    lens_range = [float(np.nanmin(graph.lens)) if graph.lens.size and np.isfinite(graph.lens).any()
                  else 0.0,
                  float(np.nanmax(graph.lens)) if graph.lens.size and np.isfinite(graph.lens).any()
                  else 1.0]
    data["lensRange"] = lens_range
    # Largest node radius: a bit under half the median distance to the nearest other node.
    if len(graph.nodes) > 1:
        d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        data["maxRadius"] = float(np.clip(0.45 * np.median(d.min(axis=1)), 0.01, 0.12))
    else:
        data["maxRadius"] = 0.12
    return (
        _TEMPLATE.replace("__TITLE__", _html.escape(title))
        .replace("__DATA__", _script_json(data))
    )


def to_html(
    graph: MapperGraph,
    path: str | os.PathLike[str],
    *,
    compositions: Mapping[str, NodeComposition] | None = None,
    color_by: str | None = None,
    title: str | None = None,
    seed: int = 0,
) -> Path:
    """Write an interactive, offline HTML page of ``graph`` (atomically).

    Parameters
    ----------
    graph
        The Mapper graph.
    path
        Where to write the ``.html`` file.
    compositions
        Level -> :class:`NodeComposition` (e.g. :func:`hierarchy_compositions`); the page
        can colour by any of these levels.  Without them only ``color_by="lens"`` works.
    color_by
        Initial colouring: a level name (``"fine"``, ``"coarse"``) or ``"lens"``; default
        the first level of ``compositions`` (``"lens"`` without them).
    title
        Page title (default: "Mapper graph <label>").
    seed
        Seed of the spring layout (the same as :func:`pie_chart_data`'s).

    Returns
    -------
    pathlib.Path
        The file written.  It references no external resource.
    """
    return atomic_write_text(path, html_page(graph, compositions=compositions,
                                             color_by=color_by, title=title, seed=seed))


_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="tda_activations.mapper">
<title>__TITLE__</title>
<script>
  // Count every error (script errors, rejected promises, blocked loads, console.error)
  // into the page itself, so a test or a reader can see the page is healthy.
  window.__mapperErrors = [];
  window.addEventListener("error", function (e) { window.__mapperErrors.push(String(e.message || e)); });
  window.addEventListener("unhandledrejection", function (e) { window.__mapperErrors.push(String(e.reason)); });
  document.addEventListener("securitypolicyviolation", function (e) {
    window.__mapperErrors.push("blocked load of " + e.blockedURI);
  });
  (function () {
    var orig = console.error;
    console.error = function () { window.__mapperErrors.push(Array.prototype.join.call(arguments, " ")); orig.apply(console, arguments); };
  })();
</script>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; }
  header { padding: 8px 14px; border-bottom: 1px solid #ddd; display: flex; gap: 18px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  #meta { font-size: 12px; color: #555; }
  #main { display: flex; }
  #canvas { flex: 1; height: calc(100vh - 48px); min-height: 420px; cursor: grab; }
  #side { width: 260px; padding: 8px 12px; border-left: 1px solid #ddd; font-size: 12px; overflow-y: auto; height: calc(100vh - 64px); }
  #legend div { display: flex; align-items: center; gap: 6px; margin: 2px 0; }
  .swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; }
  #tooltip { position: fixed; pointer-events: none; background: rgba(255,255,255,0.96); border: 1px solid #999;
             border-radius: 4px; padding: 6px 8px; font-size: 12px; display: none; max-width: 280px; box-shadow: 0 2px 6px rgba(0,0,0,0.2); }
  #tooltip table { border-collapse: collapse; }
  #tooltip td { padding: 0 6px 0 0; }
  .edge { stroke: #999; stroke-opacity: 0.7; }
  .node:hover { opacity: 0.8; }
  #empty { padding: 20px; color: #a00; }
</style>
</head>
<body>
<header>
  <h1>__TITLE__</h1>
  <label>colour by <select id="colorBy"></select></label>
  <span id="meta"></span>
</header>
<div id="main">
  <svg id="canvas" xmlns="http://www.w3.org/2000/svg" viewBox="-1.15 -1.15 2.3 2.3" preserveAspectRatio="xMidYMid meet">
    <g id="viewport"><g id="edges"></g><g id="nodes"></g></g>
  </svg>
  <div id="side"><b>Legend</b><div id="legend"></div></div>
</div>
<div id="tooltip"></div>
<div id="status" data-state="loading" data-nodes="0" data-edges="0" data-errors="0" hidden></div>
<script type="application/json" id="mapper-data">__DATA__</script>
<script>
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("mapper-data").textContent);
  var nodes = data.nodes, edges = data.edges, levels = data.levels;
  var svg = document.getElementById("canvas");
  var gNodes = document.getElementById("nodes"), gEdges = document.getElementById("edges");
  var tooltip = document.getElementById("tooltip");
  var select = document.getElementById("colorBy");
  var maxSize = nodes.reduce(function (m, n) { return Math.max(m, n.size); }, 1);
  var scale = data.maxRadius / 0.075;
  function radius(n) { return (0.015 + 0.06 * Math.sqrt(n.size / maxSize)) * scale; }

  function el(name, attrs) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    return e;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function viridis(t) {
    var stops = [[68,1,84],[59,82,139],[33,145,140],[94,201,98],[253,231,37]];
    t = Math.max(0, Math.min(1, isFinite(t) ? t : 0)) * (stops.length - 1);
    var i = Math.min(stops.length - 2, Math.floor(t)), f = t - i, a = stops[i], b = stops[i + 1];
    return "rgb(" + [0,1,2].map(function (j) { return Math.round(a[j] + f * (b[j] - a[j])); }).join(",") + ")";
  }
  function lensT(v) {
    var lo = data.lensRange[0], hi = data.lensRange[1];
    return hi > lo ? (v - lo) / (hi - lo) : 0.5;
  }

  // edges
  edges.forEach(function (e) {
    var a = nodes[e[0]], b = nodes[e[1]];
    gEdges.appendChild(el("line", {"class": "edge", x1: a.x, y1: a.y, x2: b.x, y2: b.y,
                                   "stroke-width": 0.004 * scale}));
  });

  // nodes: one <g> per node, redrawn when the colouring changes
  var groups = nodes.map(function (n, i) {
    var g = el("g", {"class": "node", "data-node-id": n.id, "data-index": i,
                     transform: "translate(" + n.x + "," + n.y + ")"});
    g.addEventListener("mousemove", function (ev) { showTip(i, ev); });
    g.addEventListener("mouseleave", function () { tooltip.style.display = "none"; });
    gNodes.appendChild(g);
    return g;
  });

  function pie(g, r, counts, colors) {
    var total = counts.reduce(function (s, c) { return s + c; }, 0);
    var nonzero = counts.filter(function (c) { return c > 0; }).length;
    if (total === 0 || nonzero <= 1) {
      var k = counts.findIndex(function (c) { return c > 0; });
      g.appendChild(el("circle", {r: r, fill: k >= 0 ? colors[k] : "#ccc", stroke: "#333", "stroke-width": r * 0.06}));
      return;
    }
    var angle = -Math.PI / 2;
    counts.forEach(function (c, j) {
      if (c <= 0) { return; }
      var next = angle + 2 * Math.PI * c / total;
      var large = next - angle > Math.PI ? 1 : 0;
      var d = "M0,0L" + (r * Math.cos(angle)) + "," + (r * Math.sin(angle)) +
              "A" + r + "," + r + " 0 " + large + " 1 " + (r * Math.cos(next)) + "," + (r * Math.sin(next)) + "Z";
      g.appendChild(el("path", {d: d, fill: colors[j]}));
      angle = next;
    });
    g.appendChild(el("circle", {r: r, fill: "none", stroke: "#333", "stroke-width": r * 0.06}));
  }

  function draw(by) {
    var legend = document.getElementById("legend");
    legend.innerHTML = "";
    groups.forEach(function (g, i) {
      while (g.firstChild) { g.removeChild(g.firstChild); }
      var n = nodes[i], r = radius(n);
      if (by === "lens") {
        g.appendChild(el("circle", {r: r, fill: viridis(lensT(n.lens)), stroke: "#333", "stroke-width": r * 0.06}));
      } else {
        pie(g, r, levels[by].counts[i], levels[by].colors);
      }
    });
    if (by === "lens") {
      [0, 0.25, 0.5, 0.75, 1].forEach(function (t) {
        var v = data.lensRange[0] + t * (data.lensRange[1] - data.lensRange[0]);
        legend.insertAdjacentHTML("beforeend", '<div><span class="swatch" style="background:' + viridis(t) +
          '"></span>lens ' + v.toFixed(3) + "</div>");
      });
    } else {
      levels[by].groups.forEach(function (name, j) {
        legend.insertAdjacentHTML("beforeend", '<div><span class="swatch" style="background:' +
          levels[by].colors[j] + '"></span>' + esc(name) + "</div>");
      });
    }
  }

  function showTip(i, ev) {
    var n = nodes[i], by = select.value;
    var rows = "<b>" + esc(n.id) + "</b><br>size " + n.size + " &middot; interval " + n.interval +
               "<br>lens mean " + (n.lens === null ? "n/a" : Number(n.lens).toFixed(3));
    var lv = levels[by === "lens" ? Object.keys(levels)[0] : by];
    if (lv) {
      var err = lv.error[i];
      if (err !== null && err !== undefined) { rows += "<br>misclassified " + (100 * err).toFixed(1) + "%"; }
      var counts = lv.counts[i], order = counts.map(function (c, j) { return j; })
        .filter(function (j) { return counts[j] > 0; })
        .sort(function (a, b) { return counts[b] - counts[a]; });
      rows += "<table>";
      order.slice(0, 12).forEach(function (j) {
        rows += '<tr><td><span class="swatch" style="background:' + lv.colors[j] + '"></span></td><td>' +
                esc(lv.groups[j]) + "</td><td>" + counts[j] + "</td><td>" +
                (100 * counts[j] / n.size).toFixed(1) + "%</td></tr>";
      });
      if (order.length > 12) { rows += "<tr><td></td><td>+" + (order.length - 12) + " more</td></tr>"; }
      rows += "</table>";
    }
    tooltip.innerHTML = rows;
    tooltip.style.display = "block";
    tooltip.style.left = (ev.clientX + 14) + "px";
    tooltip.style.top = (ev.clientY + 10) + "px";
  }

  // colour selector
  Object.keys(levels).concat(["lens"]).forEach(function (name) {
    var o = document.createElement("option");
    o.value = name; o.textContent = name === "lens" ? "lens" : name + " (" + levels[name].groups.length + ")";
    select.appendChild(o);
  });
  select.value = data.colorBy;
  select.addEventListener("change", function () { draw(select.value); });

  // pan (drag) and zoom (wheel) by changing the viewBox
  var vb = [-1.15, -1.15, 2.3, 2.3], drag = null;
  function setVb() { svg.setAttribute("viewBox", vb.join(" ")); }
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var f = ev.deltaY > 0 ? 1.1 : 1 / 1.1, rect = svg.getBoundingClientRect();
    var px = vb[0] + vb[2] * (ev.clientX - rect.left) / rect.width;
    var py = vb[1] + vb[3] * (ev.clientY - rect.top) / rect.height;
    vb = [px - (px - vb[0]) * f, py - (py - vb[1]) * f, vb[2] * f, vb[3] * f];
    setVb();
  }, {passive: false});
  svg.addEventListener("mousedown", function (ev) { drag = [ev.clientX, ev.clientY, vb[0], vb[1]]; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) { return; }
    var rect = svg.getBoundingClientRect();
    vb[0] = drag[2] - (ev.clientX - drag[0]) * vb[2] / rect.width;
    vb[1] = drag[3] - (ev.clientY - drag[1]) * vb[3] / rect.height;
    setVb();
  });

  var p = data.params || {};
  document.getElementById("meta").textContent = nodes.length + " nodes, " + edges.length + " edges, " +
    data.nPoints + " points" + (p.eps !== undefined && p.eps !== null ? ", eps " + Number(p.eps).toPrecision(3) : "") +
    (p.n_intervals ? ", " + p.n_intervals + " intervals, overlap " + p.overlap : "");
  if (nodes.length === 0) {
    document.getElementById("side").insertAdjacentHTML("afterbegin",
      '<div id="empty">The graph has no nodes' + (p.empty_reason ? " (" + esc(p.empty_reason) + ")" : "") + ".</div>");
  }
  draw(select.value);

  var status = document.getElementById("status");
  status.dataset.nodes = String(gNodes.querySelectorAll("g.node").length);
  status.dataset.edges = String(gEdges.querySelectorAll("line").length);
  status.dataset.errors = String(window.__mapperErrors.length);
  status.dataset.state = "ready";
})();
</script>
</body>
</html>
"""
