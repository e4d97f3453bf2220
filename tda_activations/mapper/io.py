"""Write a :class:`LayerMapper` result to a directory (trend table, graphs, pages)."""

from __future__ import annotations

import html as _html
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy.typing as npt

from .._atomic import atomic_dir
from ..types import ImageDataset
from .export import to_json
from .html import html_layers_page, html_page
from .summary import LayerMapper

__all__ = ["layer_file_stem", "save_layer_mapper"]

log = logging.getLogger(__name__)


def layer_file_stem(layer: str) -> str:
    """Return a file-name-safe stem for a layer name.

    Parameters
    ----------
    layer
        The layer name.

    Returns
    -------
    str
        Letters, digits, ``.``, ``_`` and ``-`` kept, anything else replaced by ``_``.

    Examples
    --------
    >>> layer_file_stem("layer3.1.conv2"), layer_file_stem("fc:1")
    ('layer3.1.conv2', 'fc_1')
    """
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", layer).strip(".") or "layer"
    return stem


def save_layer_mapper(
    result: LayerMapper,
    directory: str | os.PathLike[str],
    *,
    html: bool = True,
    seed: int = 0,
    sample_index: Mapping[str, npt.ArrayLike] | None = None,
    images: ImageDataset | npt.ArrayLike | None = None,
    tokens: Sequence[str | int] | None = None,
) -> Path:
    """Write every output of :func:`layer_mapper` into ``directory`` (atomically).

    Layout::

        trend.csv              the trend table (one row per layer)
        trend_stats.csv        Spearman correlation of each column with depth
        graphs/<layer>.json    graph + compositions at every level (:func:`to_json`)
        html/<layer>.html      interactive offline page per layer (with ``html=True``)
        layers.html            every layer on one page, with cross-layer selection
                               (:func:`to_html_layers`; with ``html=True``, and
                               ``sample_index`` where the clouds differ in size)
        index.html             the trend table with links to the pages
        manifest.json          layer -> file names, in forward order

    The directory is built under a temporary name and moved into place when
    complete; an existing directory at ``directory`` is replaced.

    Parameters
    ----------
    result
        The output of :func:`layer_mapper`.
    directory
        Where to write.
    html
        Write the HTML pages.
    seed
        Seed of the page layouts.
    sample_index, images, tokens
        Passed to :func:`to_html_layers` and, each layer's entry of ``sample_index``, to
        :func:`to_html` (``acts.sample_index``; the dataset the activations were extracted
        from, or one text per sample, for the thumbnails shown on hover).  Without
        ``sample_index``, point ``i`` of every layer is sample ``i``.

    Returns
    -------
    pathlib.Path
        ``directory``.

    Raises
    ------
    ValueError
        If ``sample_index`` or ``images`` do not fit the graphs (checked before writing).
    """
    directory = Path(directory)
    layers_page = None
    if html:
        sizes = {result.graphs[layer].n_points for layer in result.layers}
        if sample_index is None and len(sizes) > 1:
            log.warning(
                "layers.html not written: the layers' clouds differ in size; pass "
                "sample_index=acts.sample_index to save_layer_mapper for it"
            )
        else:
            layers_page = html_layers_page(
                result, sample_index=sample_index, images=images, tokens=tokens, seed=seed
            )
    stems: dict[str, str] = {}
    for layer in result.layers:
        stem = layer_file_stem(layer)
        while stem in stems.values():
            stem += "_"
        stems[layer] = stem
    with atomic_dir(directory) as tmp:
        table = result.to_pandas()
        (tmp / "trend.csv").write_text(table.to_csv())
        (tmp / "trend_stats.csv").write_text(result.trend().to_csv())
        (tmp / "graphs").mkdir()
        if html:
            (tmp / "html").mkdir()
        manifest: dict[str, Any] = {"layers": []}
        for layer in result.layers:
            graph, comps = result.graphs[layer], result.compositions[layer]
            stem = stems[layer]
            (tmp / "graphs" / f"{stem}.json").write_text(to_json(graph, compositions=comps))
            entry = {"layer": layer, "json": f"graphs/{stem}.json"}
            if html:
                (tmp / "html" / f"{stem}.html").write_text(
                    html_page(
                        graph,
                        compositions=comps,
                        title=f"Mapper graph of {layer}",
                        seed=seed,
                        images=images,
                        tokens=tokens,
                        sample_index=None if sample_index is None else sample_index[layer],
                    )
                )
                entry["html"] = f"html/{stem}.html"
            manifest["layers"].append(entry)
        if layers_page is not None:
            (tmp / "layers.html").write_text(layers_page)
            manifest["layers_html"] = "layers.html"
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        (tmp / "index.html").write_text(
            _index_page(result, stems, html=html, layers_page=layers_page is not None)
        )
    return directory


def _index_page(
    result: LayerMapper, stems: dict[str, str], *, html: bool, layers_page: bool
) -> str:
    table = result.to_pandas().reset_index()
    if html:
        table["layer"] = [
            f'<a href="html/{_html.escape(stems[layer])}.html">{_html.escape(layer)}</a>'
            for layer in table["layer"]
        ]
    body = table.to_html(index=False, escape=False, float_format=lambda v: f"{v:.3f}", na_rep="n/a")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\"><title>Mapper graphs by layer</title><style>"
        "body{font-family:system-ui,sans-serif;margin:16px}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "</style></head><body><h1>Mapper graphs by layer</h1>"
        "<p>Weighted node purity at every level of the class hierarchy, connected components, "
        "groups living in components of their own, and how well the class graph recovers "
        "the hierarchy, layer by layer (depth 0 = first layer).</p>"
        + (
            '<p><a href="layers.html">Every layer on one page</a>: hover a node for its '
            "samples, click it to see where they fall in the other layers.</p>"
            if layers_page
            else ""
        )
        + f"{body}</body></html>"
    )
