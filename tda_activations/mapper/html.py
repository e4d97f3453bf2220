"""A self-contained, offline HTML page of a Mapper graph.

kmapper's ``visualize()`` page loads d3 v6 and fonts from the internet (kmapper
issue #245) and the d3 it ships (3.5.5) is not the version its script needs, so
the page here is our own: inline SVG and a little vanilla JavaScript, no external
URL at all (a Content-Security-Policy forbids any load).  Nodes are drawn as pie
charts of their class composition at the chosen level (as in the paper) and
placed with the same seeded spring layout as :func:`pie_chart_data`; hovering a
node shows its size, interval, lens mean, misclassification rate and composition.
A selector switches the colouring between the hierarchy levels and the lens.

:func:`to_html_layers` puts every layer of a :func:`layer_mapper` result on one page:
hovering shows a node's composition and sample thumbnails (inlined PNGs) or texts,
clicking a node highlights, in every layer, the nodes that share its samples.
"""

from __future__ import annotations

import html as _html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .._atomic import atomic_write_text
from ..types import ImageDataset, MapperGraph, unknown_name_error
from .composition import NodeComposition
from .export import _check_composition, _clean, graph_layout, group_colors

if TYPE_CHECKING:
    from .summary import LayerMapper

__all__ = ["MAX_THUMBNAILS", "html_layers_page", "html_page", "to_html", "to_html_layers"]


#: Default cap on the sample thumbnails shown per node (the first samples by id).
MAX_THUMBNAILS = 12


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
    sample_index: npt.ArrayLike | None = None,
    images: ImageDataset | npt.ArrayLike | None = None,
    tokens: Sequence[str | int] | None = None,
    max_thumbnails: int = MAX_THUMBNAILS,
    thumbnail_size: int = 32,
) -> str:
    """Return the HTML text of the page :func:`to_html` writes.

    Parameters
    ----------
    graph
        The Mapper graph.
    compositions
        Level -> :class:`NodeComposition`; the page can colour by any of these levels.
    color_by
        Initial colouring: a level name or ``"lens"`` (default: the first level).
    title
        Page title (default: "Mapper graph <label>").
    seed
        Seed of the spring layout.
    sample_index, images, tokens, max_thumbnails, thumbnail_size
        As for :func:`to_html`.

    Returns
    -------
    str
        A self-contained HTML document (no external loads).
    """
    _check_thumbnail_options(max_thumbnails, thumbnail_size)
    if sample_index is None:
        point_sample = np.arange(graph.n_points, dtype=np.int64)
    else:
        point_sample = np.asarray(sample_index)
        if point_sample.shape != (graph.n_points,) or (
            point_sample.size and not np.issubdtype(point_sample.dtype, np.integer)
        ):
            raise ValueError(
                f"sample_index must be {graph.n_points} integers (one per point of "
                f"the graph's cloud), got shape {point_sample.shape} dtype "
                f"{point_sample.dtype}"
            )
        if point_sample.size and point_sample.min() < 0:
            raise ValueError("sample_index has negative sample numbers")
    n_samples = int(point_sample.max()) + 1 if point_sample.size else 0
    media = _Media(images, tokens, n_samples=n_samples, size=thumbnail_size)
    node_samples = [np.unique(point_sample[n.members]) for n in graph.nodes] if media.any else []
    for samples in node_samples:
        media.add(samples[:max_thumbnails])
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
    nodes: list[dict[str, Any]] = [
        {
            "id": n.id,
            "size": n.size,
            "interval": n.interval,
            "lens": n.lens_mean,
            "x": float(pos[i, 0]),
            "y": float(pos[i, 1]),
        }
        for i, n in enumerate(graph.nodes)
    ]
    for node, samples in zip(nodes, node_samples):
        node["samples"] = samples.tolist()
    shown = sorted({s for samples in node_samples for s in samples[:max_thumbnails].tolist()})
    data = {
        "label": graph.label,
        "nodes": nodes,
        "maxThumbnails": max_thumbnails,
        **media.data(shown),
        "edges": [[order[a], order[b]] for a, b in graph.edges],
        "levels": levels,
        "colorBy": color_by,
        "params": graph.params,
        "nPoints": graph.n_points,
    }
    title = title or f"Mapper graph {graph.label}".strip()
    lens_range = [
        float(np.nanmin(graph.lens)) if graph.lens.size and np.isfinite(graph.lens).any() else 0.0,
        float(np.nanmax(graph.lens)) if graph.lens.size and np.isfinite(graph.lens).any() else 1.0,
    ]
    data["lensRange"] = lens_range
    # Largest node radius: a bit under half the median distance to the nearest other node.
    if len(graph.nodes) > 1:
        d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        data["maxRadius"] = float(np.clip(0.45 * np.median(d.min(axis=1)), 0.01, 0.12))
    else:
        data["maxRadius"] = 0.12
    return _TEMPLATE.replace("__TITLE__", _html.escape(title)).replace(
        "__DATA__", _script_json(data)
    )


def to_html(
    graph: MapperGraph,
    path: str | os.PathLike[str],
    *,
    compositions: Mapping[str, NodeComposition] | None = None,
    color_by: str | None = None,
    title: str | None = None,
    seed: int = 0,
    sample_index: npt.ArrayLike | None = None,
    images: ImageDataset | npt.ArrayLike | None = None,
    tokens: Sequence[str | int] | None = None,
    max_thumbnails: int = MAX_THUMBNAILS,
    thumbnail_size: int = 32,
) -> Path:
    """Write an interactive, offline HTML page of ``graph`` (atomically).

    With ``images`` (or ``tokens``), hovering a node also shows the thumbnails (or texts)
    of up to ``max_thumbnails`` of its samples, the ones with the smallest sample numbers,
    inlined as small PNGs (as on the :func:`to_html_layers` page).

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
    sample_index
        The sample (row of the dataset) of each point of the graph's cloud, i.e.
        ``acts.sample_index[layer]``; default: point ``i`` is sample ``i``.
    images
        The :class:`~tda_activations.types.ImageDataset` the activations were extracted
        from, or an array ``(n, c, h, w)`` / ``(n, h, w)``, for thumbnails.
    tokens
        Instead of images: one text (e.g. decoded token) or id per sample.
    max_thumbnails
        Cap on the thumbnails (or texts) shown per node (default :data:`MAX_THUMBNAILS`).
    thumbnail_size
        Largest side of a thumbnail in pixels, in ``[4, 256]``.

    Returns
    -------
    pathlib.Path
        The file written.  It references no external resource.

    Raises
    ------
    ValueError
        If ``color_by`` is unknown, ``sample_index`` does not fit the graph,
        ``images``/``tokens`` have fewer samples than the graph refers to, both are given,
        or a size option is out of range.
    TypeError
        If ``tokens`` is a single string.
    """
    return atomic_write_text(
        path,
        html_page(
            graph,
            compositions=compositions,
            color_by=color_by,
            title=title,
            seed=seed,
            sample_index=sample_index,
            images=images,
            tokens=tokens,
            max_thumbnails=max_thumbnails,
            thumbnail_size=thumbnail_size,
        ),
    )


_PAGE_HEAD = r"""<meta http-equiv="Content-Security-Policy"
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
"""


# Both pages share this style and these script helpers (__CSS__ and __JS__ in each template).
_COMMON_CSS = r"""  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; }
  header { padding: 8px 14px; border-bottom: 1px solid #ddd; display: flex; gap: 18px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  .swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; }
  .edge { stroke: #999; stroke-opacity: 0.7; }
  #tooltip { position: fixed; pointer-events: none; background: rgba(255,255,255,0.97); border: 1px solid #999;
             border-radius: 4px; padding: 6px 8px; font-size: 12px; display: none; max-width: 330px; box-shadow: 0 2px 6px rgba(0,0,0,0.2); z-index: 2; }
  #tooltip table { border-collapse: collapse; }
  #tooltip td { padding: 0 6px 0 0; }
  .thumbs { display: flex; flex-wrap: wrap; gap: 2px; margin-top: 4px; }
  .thumbs img { width: 40px; height: 40px; image-rendering: pixelated; border: 1px solid #ccc; }
  .thumbs span.tok { border: 1px solid #ccc; border-radius: 3px; padding: 0 3px; font-family: monospace; }
"""

_COMMON_JS = r"""  var SVG = "http://www.w3.org/2000/svg";
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
  // a pie chart of counts (one full circle for a single group) into the node's <g>
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
      var next = angle + 2 * Math.PI * c / total, large = next - angle > Math.PI ? 1 : 0;
      g.appendChild(el("path", {fill: colors[j], d: "M0,0L" + (r * Math.cos(angle)) + "," + (r * Math.sin(angle)) +
        "A" + r + "," + r + " 0 " + large + " 1 " + (r * Math.cos(next)) + "," + (r * Math.sin(next)) + "Z"}));
      angle = next;
    });
    g.appendChild(el("circle", {r: r, fill: "none", stroke: "#333", "stroke-width": r * 0.06}));
  }
  // the thumbnails (or texts) of a node's first samples, or "" when the page has none
  function sampleStrip(samples, media) {
    var shown = (samples || []).slice(0, media.maxThumbnails);
    if (!shown.length || !((media.thumbs && Object.keys(media.thumbs).length) || media.tokens)) { return ""; }
    var html = "<div class='thumbs'>" + shown.map(function (s) {
      if (media.tokens) { return "<span class='tok' data-sample='" + s + "'>" + esc(media.tokens[s]) + "</span>"; }
      var id = media.sampleIds ? media.sampleIds[s] : s;
      return "<img alt='sample " + id + "' title='sample " + id + "' data-sample='" + s + "' src='" + media.thumbs[s] + "'>";
    }).join("") + "</div>";
    if (samples.length > shown.length) { html += "first " + shown.length + " of " + samples.length + " samples"; }
    return html;
  }
  // show the tooltip near (x, y), kept inside the window
  function placeTip(tooltip, html, x, y) {
    tooltip.innerHTML = html;
    tooltip.style.display = "block";
    var w = tooltip.offsetWidth, h = tooltip.offsetHeight;
    tooltip.style.left = Math.max(0, Math.min(x + 14, window.innerWidth - w - 4)) + "px";
    tooltip.style.top = Math.max(0, Math.min(y + 10, window.innerHeight - h - 4)) + "px";
  }
"""


def _fill(template: str) -> str:
    """A page template with the shared head, style and script helpers put in."""
    return (
        template.replace("__HEAD__\n", _PAGE_HEAD)
        .replace("__CSS__\n", _COMMON_CSS)
        .replace("__JS__\n", _COMMON_JS)
    )


# Both pages start with the same policy and error counter (__HEAD__ in each template).
_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
__HEAD__
<style>
__CSS__
  #meta { font-size: 12px; color: #555; }
  #main { display: flex; }
  #canvas { flex: 1; height: calc(100vh - 48px); min-height: 420px; cursor: grab; }
  #side { width: 260px; padding: 8px 12px; border-left: 1px solid #ddd; font-size: 12px; overflow-y: auto; height: calc(100vh - 64px); }
  #legend div { display: flex; align-items: center; gap: 6px; margin: 2px 0; }
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
__JS__
  var data = JSON.parse(document.getElementById("mapper-data").textContent);
  var nodes = data.nodes, edges = data.edges, levels = data.levels;
  var svg = document.getElementById("canvas");
  var gNodes = document.getElementById("nodes"), gEdges = document.getElementById("edges");
  var tooltip = document.getElementById("tooltip");
  var select = document.getElementById("colorBy");
  var maxSize = nodes.reduce(function (m, n) { return Math.max(m, n.size); }, 1);
  var scale = data.maxRadius / 0.075;
  function radius(n) { return (0.015 + 0.06 * Math.sqrt(n.size / maxSize)) * scale; }
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
    placeTip(tooltip, rows + sampleStrip(n.samples, data), ev.clientX, ev.clientY);
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
_TEMPLATE = _fill(_TEMPLATE)


# ------------------------------------------------------------ every layer, one page


def _png_bytes(pixels: np.ndarray) -> bytes:
    """A PNG file of ``pixels``: uint8 ``(h, w)`` grey or ``(h, w, 3)`` RGB (deterministic)."""
    import struct
    import zlib

    grey = pixels.ndim == 2
    h, w = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(h, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    head = struct.pack(">IIBBBBB", w, h, 8, 0 if grey else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _thumbnail(image: np.ndarray, size: int) -> str:
    """A ``data:image/png;base64`` URI of one ``(c, h, w)`` image.

    At most ``size`` pixels a side (nearest-pixel subsampling), each image scaled to its
    own min-max range.
    """
    import base64

    img = np.asarray(image, dtype=np.float64)
    img = img[:3] if img.shape[0] >= 3 else img[:1]
    h, w = img.shape[1:]
    rows = np.unique(np.linspace(0, h - 1, min(h, size)).round().astype(np.int64))
    cols = np.unique(np.linspace(0, w - 1, min(w, size)).round().astype(np.int64))
    img = img[:, rows][:, :, cols]
    finite = np.isfinite(img)
    lo = float(img[finite].min()) if finite.any() else 0.0
    hi = float(img[finite].max()) if finite.any() else 0.0
    scaled = np.where(finite, (img - lo) / (hi - lo) if hi > lo else 0.5, 0.0)
    pix = np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)
    pix = pix[0] if pix.shape[0] == 1 else np.transpose(pix, (1, 2, 0))
    return "data:image/png;base64," + base64.b64encode(_png_bytes(pix)).decode("ascii")


def _layer_samples(
    result: LayerMapper, sample_index: Mapping[str, npt.ArrayLike] | None
) -> dict[str, np.ndarray]:
    """Layer -> the sample of each point of the layer's cloud (checked)."""
    out: dict[str, np.ndarray] = {}
    if sample_index is None:
        sizes = {result.graphs[layer].n_points for layer in result.layers}
        if len(sizes) > 1:
            raise ValueError(
                f"the layers' clouds have different numbers of points ({sorted(sizes)}); pass "
                "sample_index=acts.sample_index to say which sample each point came from"
            )
        return {
            layer: np.arange(result.graphs[layer].n_points, dtype=np.int64)
            for layer in result.layers
        }
    missing = [layer for layer in result.layers if layer not in sample_index]
    if missing:
        raise ValueError(
            f"sample_index has no entry for layer(s) {missing}; pass "
            "acts.sample_index of the activations the graphs were built from"
        )
    for layer in result.layers:
        idx = np.asarray(sample_index[layer])
        n = result.graphs[layer].n_points
        if idx.shape != (n,) or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(
                f"sample_index[{layer!r}] must be {n} integers (one per point of "
                f"the layer's cloud), got shape {idx.shape} dtype {idx.dtype}"
            )
        if idx.size and idx.min() < 0:
            raise ValueError(f"sample_index[{layer!r}] has negative sample numbers")
        out[layer] = idx.astype(np.int64)
    return out


def _check_thumbnail_options(max_thumbnails: int, thumbnail_size: int) -> None:
    if (
        isinstance(max_thumbnails, bool)
        or not isinstance(max_thumbnails, int)
        or max_thumbnails < 0
    ):
        raise ValueError(f"max_thumbnails must be an integer >= 0, got {max_thumbnails!r}")
    if (
        isinstance(thumbnail_size, bool)
        or not isinstance(thumbnail_size, int)
        or not 4 <= thumbnail_size <= 256
    ):
        raise ValueError(f"thumbnail_size must be an integer in [4, 256], got {thumbnail_size!r}")


class _Media:
    """The images or texts of the samples (checked), and the thumbnails a page inlines."""

    def __init__(
        self,
        images: ImageDataset | npt.ArrayLike | None,
        tokens: Sequence[str | int] | None,
        *,
        n_samples: int,
        size: int,
    ) -> None:
        if images is not None and tokens is not None:
            raise ValueError("give images or tokens, not both")
        self.size = size
        self.images: np.ndarray | None = None
        self.sample_ids: np.ndarray | None = None
        self.tokens: list[str] | None = None
        self.thumbs: dict[int, str] = {}
        if images is not None:
            if isinstance(images, ImageDataset):
                self.images, self.sample_ids = images.images, np.asarray(images.sample_ids)
            else:
                arr = np.asarray(images)
                if arr.ndim == 3:
                    arr = arr[:, None]
                if arr.ndim != 4 or not np.issubdtype(arr.dtype, np.number):
                    raise ValueError(
                        "images must be an ImageDataset or a numeric array of shape "
                        f"(n, channels, height, width); got shape {arr.shape}"
                    )
                self.images = arr
            if self.images.shape[0] < n_samples:
                raise ValueError(
                    f"images has {self.images.shape[0]} samples but the graphs refer to sample "
                    f"{n_samples - 1}; pass the dataset the activations were extracted from"
                )
        if tokens is not None:
            if isinstance(tokens, (str, bytes)):
                raise TypeError(
                    "tokens must be a sequence with one text or id per sample, not a single string"
                )
            self.tokens = [str(t) for t in tokens]
            if len(self.tokens) < n_samples:
                raise ValueError(
                    f"tokens has {len(self.tokens)} entries but the graphs refer to "
                    f"sample {n_samples - 1}; give one text or id per sample"
                )

    @property
    def any(self) -> bool:
        return self.images is not None or self.tokens is not None

    def add(self, samples: np.ndarray) -> None:
        """Make the thumbnails of these samples (images only)."""
        if self.images is None:
            return
        for s in samples.tolist():
            if s not in self.thumbs:
                self.thumbs[s] = _thumbnail(self.images[s], self.size)

    def data(self, token_samples: Sequence[int]) -> dict[str, Any]:
        """The page's ``thumbs``, ``sampleIds`` and ``tokens`` (of ``token_samples``)."""
        return {
            "thumbs": {str(k): v for k, v in sorted(self.thumbs.items())},
            "sampleIds": (
                None
                if self.sample_ids is None or not self.thumbs
                else {str(k): int(self.sample_ids[k]) for k in sorted(self.thumbs)}
            ),
            "tokens": (
                None if self.tokens is None else {str(s): self.tokens[s] for s in token_samples}
            ),
        }


def html_layers_page(
    result: LayerMapper,
    *,
    sample_index: Mapping[str, npt.ArrayLike] | None = None,
    images: ImageDataset | npt.ArrayLike | None = None,
    tokens: Sequence[str | int] | None = None,
    color_by: str | None = None,
    max_thumbnails: int = MAX_THUMBNAILS,
    thumbnail_size: int = 32,
    title: str | None = None,
    seed: int = 0,
) -> str:
    """Return the HTML text of the every-layer page :func:`to_html_layers` writes.

    Parameters
    ----------
    result
        The :func:`layer_mapper` result.
    sample_index
        Layer -> the sample each point came from (``acts.sample_index``); needed when the
        layers have different numbers of points.
    images
        The images of the samples (an ``ImageDataset`` or an array), for thumbnails.
    tokens
        One text or id per sample, shown instead of thumbnails.
    color_by
        Initial colouring: a hierarchy level or ``"lens"`` (default: the first level).
    max_thumbnails
        Thumbnails (or texts) shown per node at most.
    thumbnail_size
        Side of a thumbnail in pixels, 4 to 256.
    title
        Page title.
    seed
        Seed of the spring layouts.

    Returns
    -------
    str
        A self-contained HTML document (no external loads).
    """
    _check_thumbnail_options(max_thumbnails, thumbnail_size)
    levels = list(result.hierarchy.levels)
    choices = [*levels, "lens"]
    if color_by is None:
        color_by = choices[0]
    if color_by not in choices:
        raise unknown_name_error("colouring", color_by, choices)
    samples = _layer_samples(result, sample_index)
    n_samples = max((int(s.max()) + 1 for s in samples.values() if s.size), default=0)
    media = _Media(images, tokens, n_samples=n_samples, size=thumbnail_size)
    image_array = media.images

    layers_data = []
    for layer in result.layers:
        graph = result.graphs[layer]
        comps = dict(result.compositions.get(layer, {}))
        for comp in comps.values():
            _check_composition(graph, comp)
        pos = graph_layout(graph, seed=seed)
        order = {n.id: i for i, n in enumerate(graph.nodes)}
        nodes = []
        for i, n in enumerate(graph.nodes):
            node_samples = np.unique(samples[layer][n.members])
            shown = node_samples[:max_thumbnails]
            if image_array is not None:
                media.add(shown)
            nodes.append(
                {
                    "id": n.id,
                    "size": n.size,
                    "lens": n.lens_mean,
                    "x": float(pos[i, 0]),
                    "y": float(pos[i, 1]),
                    "samples": node_samples.tolist(),
                }
            )
        level_data = {
            level: {
                "counts": comps[level].counts.tolist(),
                "error": _clean(comps[level].misclassification_rate),
            }
            for level in levels
            if level in comps
        }
        finite = graph.lens[np.isfinite(graph.lens)] if graph.lens.size else graph.lens
        lens_range = [float(finite.min()), float(finite.max())] if finite.size else [0.0, 1.0]
        if len(graph.nodes) > 1:
            d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
            np.fill_diagonal(d, np.inf)
            max_radius = float(np.clip(0.45 * np.median(d.min(axis=1)), 0.01, 0.12))
        else:
            max_radius = 0.12
        layers_data.append(
            {
                "label": layer,
                "nodes": nodes,
                "edges": [[order[a], order[b]] for a, b in graph.edges],
                "levels": level_data,
                "lensRange": lens_range,
                "maxRadius": max_radius,
                "nPoints": graph.n_points,
                "empty": graph.params.get("empty_reason"),
            }
        )
    data = {
        "layers": layers_data,
        "levels": {
            level: {
                "groups": list(result.hierarchy.names(level)),
                "colors": list(group_colors(len(result.hierarchy.names(level)))),
            }
            for level in levels
        },
        "colorBy": color_by,
        "maxThumbnails": max_thumbnails,
        **media.data(range(n_samples)),
    }
    title = title or "Mapper graphs of every layer"
    return _LAYERS_TEMPLATE.replace("__TITLE__", _html.escape(title)).replace(
        "__DATA__", _script_json(data)
    )


def to_html_layers(
    result: LayerMapper,
    path: str | os.PathLike[str],
    *,
    sample_index: Mapping[str, npt.ArrayLike] | None = None,
    images: ImageDataset | npt.ArrayLike | None = None,
    tokens: Sequence[str | int] | None = None,
    color_by: str | None = None,
    max_thumbnails: int = MAX_THUMBNAILS,
    thumbnail_size: int = 32,
    title: str | None = None,
    seed: int = 0,
) -> Path:
    """Write one offline, explorable HTML page with the Mapper graphs of every layer.

    The layers are drawn side by side (the row scrolls).  Hovering a node shows its id,
    size, class composition (a bar and a table) and the thumbnails (or texts) of up to
    ``max_thumbnails`` of its samples, the ones with the smallest sample numbers.
    Clicking a node (or focusing it and pressing Enter) selects it: in every layer, each
    node ``T`` is highlighted with intensity ``|S ∩ T| / |S|``, the fraction of the selected
    node's samples ``S`` that ``T`` holds; clicking the background or pressing Escape
    clears the selection.  Everything (script, style, data, PNG thumbnails) is inlined
    and a Content-Security-Policy forbids any load; the same inputs give the same bytes.

    Parameters
    ----------
    result
        The output of :func:`layer_mapper`.
    path
        Where to write the ``.html`` file.
    sample_index
        Layer -> the sample (row of the dataset) of each point of the layer's cloud, i.e.
        ``acts.sample_index``.  Default: point ``i`` is sample ``i`` in every layer (all
        clouds must then have the same number of points).
    images
        The :class:`~tda_activations.types.ImageDataset` the activations were extracted
        from (row ``i`` is sample ``i``), or an array ``(n, c, h, w)`` / ``(n, h, w)``.
        Thumbnails are at most ``thumbnail_size`` pixels a side, each scaled to its own
        value range.
    tokens
        Instead of images: one text (e.g. decoded token) or id per sample.
    color_by
        Initial colouring: a hierarchy level or ``"lens"`` (default: ``"fine"``).
    max_thumbnails
        Cap on the thumbnails (or texts) shown per node (default :data:`MAX_THUMBNAILS`).
    thumbnail_size
        Largest side of a thumbnail in pixels, in ``[4, 256]``.
    title
        Page title.
    seed
        Seed of the spring layouts (as :func:`to_html`).

    Returns
    -------
    pathlib.Path
        The file written (atomically).

    Raises
    ------
    ValueError
        If the layers' clouds differ in size without ``sample_index``, ``sample_index`` does
        not fit the graphs, ``images``/``tokens`` have fewer samples than the graphs refer
        to, both are given, ``color_by`` is unknown, or a size option is out of range.
    TypeError
        If ``tokens`` is a single string.
    """
    return atomic_write_text(
        path,
        html_layers_page(
            result,
            sample_index=sample_index,
            images=images,
            tokens=tokens,
            color_by=color_by,
            max_thumbnails=max_thumbnails,
            thumbnail_size=thumbnail_size,
            title=title,
            seed=seed,
        ),
    )


_LAYERS_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
__HEAD__
<style>
__CSS__
  #hint, #selinfo { font-size: 12px; color: #555; }
  #legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; padding: 6px 14px; border-bottom: 1px solid #eee; }
  #legend span.item { display: inline-flex; align-items: center; gap: 4px; }
  #row { display: flex; overflow-x: auto; gap: 0; }
  .panel { flex: 0 0 auto; width: 420px; border-right: 1px solid #ddd; }
  .panel h2 { font-size: 13px; margin: 6px 8px 0; font-weight: 600; overflow-wrap: anywhere; }
  .panel .meta { font-size: 11px; color: #666; margin: 0 8px; }
  .panel svg { width: 420px; height: max(380px, calc(100vh - 150px)); display: block; }
  g.node { cursor: pointer; }
  g.node:focus { outline: none; }
  g.node:focus .ring { stroke: #000; }
  body.selecting g.node { opacity: 0.15; }
  body.selecting g.node.hl { opacity: 1; }
  .ring { fill: none; }
  g.node.selected .ring { stroke: #000; stroke-opacity: 1; }
  .bar { display: flex; height: 10px; width: 300px; margin: 4px 0; border: 1px solid #888; }
  .empty { padding: 10px; color: #a00; font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>__TITLE__</h1>
  <label>colour by <select id="colorBy"></select></label>
  <span id="selinfo"></span>
  <span id="hint">hover: composition and samples &middot; click (or Tab + Enter): where its samples fall in every layer &middot; Escape or click background: clear</span>
</header>
<div id="legend"></div>
<div id="row"></div>
<div id="tooltip"></div>
<div id="status" data-state="loading" data-layers="0" data-nodes="0" data-errors="0" hidden></div>
<script type="application/json" id="mapper-data">__DATA__</script>
<script>
(function () {
  "use strict";
__JS__
  var data = JSON.parse(document.getElementById("mapper-data").textContent);
  var levels = data.levels, layers = data.layers;
  var row = document.getElementById("row"), tooltip = document.getElementById("tooltip");
  var select = document.getElementById("colorBy"), selinfo = document.getElementById("selinfo");
  var selected = null;

  // one panel (an SVG) per layer; sample -> node indices per layer for the overlaps
  layers.forEach(function (L, li) {
    var panel = document.createElement("div");
    panel.className = "panel";
    panel.setAttribute("data-layer", L.label);
    panel.innerHTML = "<h2></h2><div class='meta'></div>";
    panel.querySelector("h2").textContent = L.label;
    panel.querySelector(".meta").textContent = L.nodes.length + " nodes, " + L.edges.length +
      " edges, " + L.nPoints + " points";
    var svg = el("svg", {viewBox: "-1.15 -1.15 2.3 2.3", preserveAspectRatio: "xMidYMid meet"});
    var gE = el("g", {}), gN = el("g", {});
    svg.appendChild(gE); svg.appendChild(gN);
    panel.appendChild(svg);
    if (L.nodes.length === 0) {
      panel.insertAdjacentHTML("beforeend", "<div class='empty'>no nodes" +
        (L.empty ? " (" + esc(L.empty) + ")" : "") + "</div>");
    }
    row.appendChild(panel);
    var maxSize = L.nodes.reduce(function (m, n) { return Math.max(m, n.size); }, 1);
    var scale = L.maxRadius / 0.075;
    L.radius = function (n) { return (0.015 + 0.06 * Math.sqrt(n.size / maxSize)) * scale; };
    L.edges.forEach(function (e) {
      var a = L.nodes[e[0]], b = L.nodes[e[1]];
      gE.appendChild(el("line", {"class": "edge", x1: a.x, y1: a.y, x2: b.x, y2: b.y, "stroke-width": 0.004 * scale}));
    });
    L.where = {};
    L.groups = L.nodes.map(function (n, i) {
      n.samples.forEach(function (s) { (L.where[s] = L.where[s] || []).push(i); });
      var g = el("g", {"class": "node", "data-node-id": n.id, "data-index": i, "data-overlap": "",
                       tabindex: 0, role: "button", "aria-label": L.label + " node " + n.id + ", " + n.size + " points",
                       transform: "translate(" + n.x + "," + n.y + ")"});
      g.addEventListener("mousemove", function (ev) { showTip(li, i, ev.clientX, ev.clientY); });
      g.addEventListener("mouseleave", function () { tooltip.style.display = "none"; });
      g.addEventListener("focus", function () {
        var r = g.getBoundingClientRect(); showTip(li, i, r.right, r.bottom);
      });
      g.addEventListener("blur", function () { tooltip.style.display = "none"; });
      g.addEventListener("click", function (ev) { ev.stopPropagation(); selectNode(li, i); });
      g.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); selectNode(li, i); }
      });
      gN.appendChild(g);
      return g;
    });
    svg.addEventListener("click", function () { clearSelection(); });
  });

  function draw(by) {
    var legend = document.getElementById("legend");
    legend.innerHTML = "";
    layers.forEach(function (L) {
      var lo = L.lensRange[0], hi = L.lensRange[1];
      L.groups.forEach(function (g, i) {
        while (g.firstChild) { g.removeChild(g.firstChild); }
        var n = L.nodes[i], r = L.radius(n);
        if (by === "lens" || !L.levels[by]) {
          var t = n.lens === null ? 0 : (hi > lo ? (n.lens - lo) / (hi - lo) : 0.5);
          g.appendChild(el("circle", {r: r, fill: viridis(t), stroke: "#333", "stroke-width": r * 0.06}));
        } else {
          pie(g, r, L.levels[by].counts[i], levels[by].colors);
        }
        g.appendChild(el("circle", {"class": "ring", r: r * 1.25, stroke: "none", "stroke-width": r * 0.25}));
      });
    });
    if (by === "lens") {
      legend.innerHTML = "<span class='item'><span class='swatch' style='background:" + viridis(0) +
        "'></span>low lens (per layer)</span><span class='item'><span class='swatch' style='background:" +
        viridis(1) + "'></span>high lens</span>";
    } else {
      levels[by].groups.forEach(function (name, j) {
        legend.insertAdjacentHTML("beforeend", "<span class='item'><span class='swatch' style='background:" +
          levels[by].colors[j] + "'></span>" + esc(name) + "</span>");
      });
    }
    if (selected) { highlight(); }
  }

  function composition(L, i, by) {
    var lvName = (by === "lens" || !L.levels[by]) ? Object.keys(L.levels)[0] : by;
    var lv = L.levels[lvName];
    if (!lv) { return ""; }
    var n = L.nodes[i], counts = lv.counts[i], names = levels[lvName].groups, colors = levels[lvName].colors;
    var order = counts.map(function (c, j) { return j; }).filter(function (j) { return counts[j] > 0; })
      .sort(function (a, b) { return counts[b] - counts[a] || a - b; });
    var out = "<div class='bar'>" + order.map(function (j) {
      return "<span style='background:" + colors[j] + ";width:" + (100 * counts[j] / n.size) + "%'></span>";
    }).join("") + "</div><table>";
    order.slice(0, 8).forEach(function (j) {
      out += "<tr><td><span class='swatch' style='background:" + colors[j] + "'></span></td><td>" +
        esc(names[j]) + "</td><td>" + counts[j] + "</td><td>" + (100 * counts[j] / n.size).toFixed(1) + "%</td></tr>";
    });
    if (order.length > 8) { out += "<tr><td></td><td>+" + (order.length - 8) + " more</td></tr>"; }
    out += "</table>";
    var err = lv.error[i];
    if (err !== null && err !== undefined) { out += "misclassified " + (100 * err).toFixed(1) + "%<br>"; }
    return out;
  }

  function showTip(li, i, x, y) {
    var L = layers[li], n = L.nodes[i];
    var html = "<b>" + esc(L.label) + "</b> &middot; node <b>" + esc(n.id) + "</b><br>size " + n.size +
      " points, " + n.samples.length + " samples &middot; lens mean " +
      (n.lens === null ? "n/a" : Number(n.lens).toFixed(3)) + composition(L, i, select.value);
    placeTip(tooltip, html + sampleStrip(n.samples, data), x, y);
  }

  function highlight() {
    var S = layers[selected[0]].nodes[selected[1]].samples;
    layers.forEach(function (L) {
      var shared = new Array(L.nodes.length).fill(0);
      S.forEach(function (s) { (L.where[s] || []).forEach(function (j) { shared[j] += 1; }); });
      L.groups.forEach(function (g, j) {
        var f = S.length ? shared[j] / S.length : 0;
        g.setAttribute("data-overlap", String(f));
        g.classList.toggle("hl", f > 0);
        g.style.opacity = f > 0 ? String(0.35 + 0.65 * f) : "";
        var ring = g.querySelector(".ring");
        ring.setAttribute("stroke", f > 0 ? "#d00" : "none");
        ring.setAttribute("stroke-opacity", String(f));
      });
    });
    layers[selected[0]].groups[selected[1]].classList.add("selected");
    selinfo.textContent = "selected: " + layers[selected[0]].label + " node " +
      layers[selected[0]].nodes[selected[1]].id + " (" + S.length + " samples)";
  }

  function selectNode(li, i) {
    clearSelection();
    selected = [li, i];
    document.body.classList.add("selecting");
    highlight();
  }

  function clearSelection() {
    selected = null;
    document.body.classList.remove("selecting");
    selinfo.textContent = "";
    layers.forEach(function (L) {
      L.groups.forEach(function (g) {
        g.setAttribute("data-overlap", "");
        g.classList.remove("hl", "selected");
        g.style.opacity = "";
        var ring = g.querySelector(".ring");
        if (ring) { ring.setAttribute("stroke", "none"); }
      });
    });
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { clearSelection(); tooltip.style.display = "none"; }
  });

  Object.keys(levels).concat(["lens"]).forEach(function (name) {
    var o = document.createElement("option");
    o.value = name; o.textContent = name === "lens" ? "lens" : name + " (" + levels[name].groups.length + ")";
    select.appendChild(o);
  });
  select.value = data.colorBy;
  select.addEventListener("change", function () { draw(select.value); });
  draw(select.value);

  var status = document.getElementById("status");
  status.dataset.layers = String(row.querySelectorAll(".panel").length);
  status.dataset.nodes = String(row.querySelectorAll("g.node").length);
  status.dataset.errors = String(window.__mapperErrors.length);
  status.dataset.state = "ready";
})();
</script>
</body>
</html>
"""
_LAYERS_TEMPLATE = _fill(_LAYERS_TEMPLATE)
