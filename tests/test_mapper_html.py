"""The Mapper HTML page opened in real headless Chromium (skipped with a message where missing).

The browser reports, over the DevTools protocol, every exception, console error and
network request: the test fails on any JavaScript error and on any request that is
not the local file itself.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from _browser import load_page, require_chromium

from tda_activations import mapper as M
from tda_activations.types import ClassHierarchy

pytestmark = pytest.mark.browser

HIER = ClassHierarchy(
    class_names=("a1", "a2", "b1", "b2"),
    parents={"coarse": (0, 0, 1, 1)},
    level_names={"coarse": ("A", "B")},
)

STATE = """(() => {
  const s = document.getElementById('status').dataset;
  return {state: s.state, nodes: Number(s.nodes), edges: Number(s.edges), errors: Number(s.errors),
          ids: Array.from(document.querySelectorAll('g.node')).map(g => g.getAttribute('data-node-id')),
          slices: document.querySelectorAll('g.node path, g.node circle').length,
          legend: document.getElementById('legend').textContent};
})()"""


@pytest.fixture(scope="module")
def graph_and_compositions():
    rng = np.random.default_rng(0)
    centres = np.array([[10.0, 0, 0, 0], [10.0, 0, 0, 0], [0, 0, 30.0, 0], [0, 0, 0, 30.0]])
    x = np.vstack([c + rng.normal(size=(100, 4)) for c in centres])
    labels = np.repeat(np.arange(4), 100)
    g = M.mapper_graph(x, label="layer<&>\"test\"")  # a label that needs escaping
    return g, M.hierarchy_compositions(g, labels, HIER)


def test_page_is_self_contained(graph_and_compositions, tmp_path):
    g, comps = graph_and_compositions
    text = M.to_html(g, tmp_path / "g.html", compositions=comps).read_text()
    # No external resource: no src/href/url()/@import pointing anywhere but inline data.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "url(" not in text and "@import" not in text
    assert "Content-Security-Policy" in text
    # The only URL-like string is the SVG namespace, which is never fetched.
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}


def test_page_opens_without_errors_and_shows_every_node(graph_and_compositions, tmp_path):
    require_chromium()
    g, comps = graph_and_compositions
    path = M.to_html(g, tmp_path / "g.html", compositions=comps, color_by="fine")
    report = load_page(path, evaluate=STATE)
    assert report.ok, report.problems()
    assert report.requests == [path.resolve().as_uri()]
    v = report.value
    assert v["state"] == "ready" and v["errors"] == 0
    assert v["nodes"] == len(g.nodes) and v["edges"] == len(g.edges)
    assert v["ids"] == [n.id for n in g.nodes]
    assert v["slices"] >= len(g.nodes)
    assert all(name in v["legend"] for name in HIER.class_names)


def test_colour_switch_and_tooltip(graph_and_compositions, tmp_path):
    require_chromium()
    g, comps = graph_and_compositions
    path = M.to_html(g, tmp_path / "g.html", compositions=comps, color_by="coarse")
    script = """(() => {
      const sel = document.getElementById('colorBy');
      const initial = document.getElementById('legend').textContent;
      sel.value = 'lens'; sel.dispatchEvent(new Event('change'));
      const lens = document.getElementById('legend').textContent;
      sel.value = 'fine'; sel.dispatchEvent(new Event('change'));
      const node = document.querySelector('g.node');
      node.dispatchEvent(new MouseEvent('mousemove', {clientX: 10, clientY: 10, bubbles: true}));
      const tip = document.getElementById('tooltip');
      return {initial, lens, tip: tip.textContent, shown: tip.style.display,
              errors: window.__mapperErrors.length};
    })()"""
    report = load_page(path, evaluate=script)
    assert report.ok, report.problems()
    v = report.value
    assert "A" in v["initial"] and "B" in v["initial"] and "a1" not in v["initial"]
    assert "lens" in v["lens"]
    first = g.nodes[0]
    assert v["shown"] == "block" and first.id in v["tip"] and f"size {first.size}" in v["tip"]
    majority = comps["fine"].group_names[comps["fine"].majority[0]]
    assert majority in v["tip"]
    assert v["errors"] == 0


def test_empty_graph_page(tmp_path):
    require_chromium()
    x = np.random.default_rng(1).normal(size=(50, 3))
    with pytest.warns(M.MapperWarning):
        g = M.mapper_graph(x, eps=1e-9)
    path = M.to_html(g, tmp_path / "empty.html")  # no compositions: lens colouring only
    with pytest.raises(ValueError, match="unknown colouring"):
        M.to_html(g, tmp_path / "x.html", color_by="fine")
    report = load_page(path, evaluate=STATE)
    assert report.ok, report.problems()
    assert report.value["state"] == "ready" and report.value["nodes"] == 0


def test_the_browser_check_can_fail(tmp_path):
    """The helper must see a JS error and an external request (else the tests above prove
    nothing)."""
    require_chromium()
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><head><script src='http://127.0.0.1:9/d3.js'></script></head>"
        "<body><script>notDefined();</script><script>console.error('boom')</script></body></html>"
    )
    report = load_page(bad, evaluate="1 + 1")
    assert not report.ok
    assert report.external_requests == ["http://127.0.0.1:9/d3.js"]
    assert any("notDefined" in e for e in report.exceptions)
    assert report.console_errors == ["boom"]
    assert report.value == 2
