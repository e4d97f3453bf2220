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
    g = M.mapper_graph(x, label='layer<&>"test"')  # a label that needs escaping
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


# ------------------------------------------------------------- every layer, one page


@pytest.fixture(scope="module")
def layers_result():
    """Two layers: ``l1`` has one point per sample, ``l2`` two points per sample (as a
    token layer would), so overlaps must be counted in samples, not points."""
    from tda_activations.types import ActivationSet

    rng = np.random.default_rng(0)
    centres = np.array([[10.0, 0, 0, 0], [10.0, 0, 0, 0], [0, 0, 30.0, 0], [0, 0, 0, 30.0]])
    x = np.vstack([c + rng.normal(size=(80, 4)) for c in centres])
    labels = np.repeat(np.arange(4), 80)
    x2 = np.vstack([x[:, :3] * 2, x[:, :3] * 2 + 0.3]) + rng.normal(size=(640, 3))
    idx2 = np.concatenate([np.arange(320), np.arange(320)])
    acts = ActivationSet(
        clouds={"l1": x, "l2<&>": x2},
        sample_index={"l1": np.arange(320), "l2<&>": idx2},
        labels=labels,
        hierarchy=HIER,
        reduction="none",
    )
    res = M.layer_mapper(acts, progress=False)
    images = rng.random((320, 3, 12, 10)).astype(np.float32)
    return res, acts, images


def _node_samples(res, acts, layer):
    index = np.asarray(acts.sample_index[layer])
    return [np.unique(index[n.members]) for n in res.graphs[layer].nodes]


def test_layers_page_is_self_contained_and_deterministic(layers_result, tmp_path):
    res, acts, images = layers_result
    a = M.to_html_layers(res, tmp_path / "a.html", sample_index=acts.sample_index, images=images)
    b = M.to_html_layers(res, tmp_path / "b.html", sample_index=acts.sample_index, images=images)
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "url(" not in text and "@import" not in text
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}
    assert "l2<&>" not in text  # the layer name is escaped inside the script data
    # One thumbnail per sample that is among the first MAX_THUMBNAILS of some node.
    expected = set()
    for layer in res.layers:
        for s in _node_samples(res, acts, layer):
            expected |= set(s[: M.MAX_THUMBNAILS].tolist())
    assert text.count("data:image/png;base64,") == len(expected)
    assert 0 < len(expected) < 320


def test_layers_page_thumbnails_are_the_images(layers_result):
    """The inlined PNGs decode (with Pillow) to the images, min-max scaled and subsampled."""
    import base64
    import io
    import json

    from PIL import Image

    res, acts, images = layers_result
    text = M.html_layers_page(res, sample_index=acts.sample_index, images=images, thumbnail_size=5)
    blob = re.search(r'id="mapper-data">(.*?)</script>', text, re.DOTALL).group(1)
    thumbs = json.loads(blob)["thumbs"]
    for key in list(thumbs)[:5]:
        png = base64.b64decode(thumbs[key].split(",", 1)[1])
        got = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        img = images[int(key)].astype(np.float64)
        rows = np.unique(np.linspace(0, 11, 5).round().astype(int))
        cols = np.unique(np.linspace(0, 9, 5).round().astype(int))
        sub = img[:, rows][:, :, cols]
        want = np.round((sub - sub.min()) / (sub.max() - sub.min()) * 255).astype(np.uint8)
        np.testing.assert_array_equal(got, want.transpose(1, 2, 0))
    grey = M.html_layers_page(res, sample_index=acts.sample_index, images=images[:, 0])
    assert grey.count("data:image/png;base64,") == text.count("data:image/png;base64,")


def test_layers_page_bad_input(layers_result, tmp_path):
    res, acts, images = layers_result
    with pytest.raises(ValueError, match="different numbers of points.*sample_index"):
        M.html_layers_page(res)
    with pytest.raises(ValueError, match="no entry for layer"):
        M.html_layers_page(res, sample_index={"l1": acts.sample_index["l1"]})
    with pytest.raises(ValueError, match="one per point"):
        M.html_layers_page(res, sample_index={"l1": np.arange(3), "l2<&>": np.arange(640)})
    with pytest.raises(ValueError, match="images has 10 samples"):
        M.html_layers_page(res, sample_index=acts.sample_index, images=images[:10])
    with pytest.raises(ValueError, match="numeric array"):
        M.html_layers_page(res, sample_index=acts.sample_index, images=np.zeros(320))
    with pytest.raises(ValueError, match="tokens has 2 entries"):
        M.html_layers_page(res, sample_index=acts.sample_index, tokens=["a", "b"])
    with pytest.raises(TypeError, match="single string"):
        M.html_layers_page(res, sample_index=acts.sample_index, tokens="abc")
    with pytest.raises(ValueError, match="not both"):
        M.html_layers_page(res, sample_index=acts.sample_index, images=images, tokens=["a"] * 320)
    with pytest.raises(ValueError, match="max_thumbnails"):
        M.html_layers_page(res, sample_index=acts.sample_index, max_thumbnails=-1)
    with pytest.raises(ValueError, match="unknown colouring"):
        M.html_layers_page(res, sample_index=acts.sample_index, color_by="nope")
    assert not (tmp_path / "x.html").exists()


_LAYERS_SCRIPT = """(async () => {
  const panels = Array.from(document.querySelectorAll('.panel'));
  const overlaps = () => panels.map(p => Array.from(p.querySelectorAll('g.node'))
      .map(g => g.getAttribute('data-overlap')));
  const first = panels[0].querySelectorAll('g.node')[__NODE__];
  first.dispatchEvent(new MouseEvent('mousemove', {clientX: 50, clientY: 50, bubbles: true}));
  const tip = document.getElementById('tooltip');
  const imgs = Array.from(tip.querySelectorAll('.thumbs img'));
  await Promise.all(imgs.map(i => i.decode()));  // rejects if a thumbnail does not decode
  const hover = {shown: tip.style.display, text: tip.textContent,
                 thumbs: imgs.map(i => Number(i.getAttribute('data-sample'))),
                 loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
                 bar: tip.querySelectorAll('.bar span').length};
  first.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  const selected = overlaps();
  const dimmed = document.body.classList.contains('selecting');
  document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
  const afterEscape = overlaps();
  first.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
  const byKey = overlaps();
  panels[1].querySelector('svg').dispatchEvent(new MouseEvent('click', {bubbles: true}));
  const afterBackground = overlaps();
  const s = document.getElementById('status').dataset;
  return {state: s.state, layers: Number(s.layers), nodes: Number(s.nodes), hover, selected,
          dimmed, afterEscape, byKey, afterBackground, errors: window.__mapperErrors.length,
          stillDimmed: document.body.classList.contains('selecting')};
})()"""


def test_layers_page_hover_select_and_clear(layers_result, tmp_path):
    require_chromium()
    res, acts, images = layers_result
    samples = {layer: _node_samples(res, acts, layer) for layer in res.layers}
    # Select the largest node of the first layer (more samples than the thumbnail cap).
    k = int(np.argmax([s.size for s in samples["l1"]]))
    sel = set(samples["l1"][k].tolist())
    assert len(sel) > M.MAX_THUMBNAILS
    path = M.to_html_layers(
        res, tmp_path / "layers.html", sample_index=acts.sample_index, images=images
    )
    shot = tmp_path / "layers.png"
    report = load_page(path, evaluate=_LAYERS_SCRIPT.replace("__NODE__", str(k)), screenshot=shot)
    assert report.ok, report.problems()
    assert [u for u in report.requests if not u.startswith("data:")] == [path.resolve().as_uri()]
    v = report.value
    assert v["state"] == "ready" and v["errors"] == 0 and v["layers"] == 2
    assert v["nodes"] == sum(len(res.graphs[layer].nodes) for layer in res.layers)
    h = v["hover"]
    assert h["shown"] == "block" and res.graphs["l1"].nodes[k].id in h["text"]
    assert h["thumbs"] == sorted(sel)[: M.MAX_THUMBNAILS] and h["loaded"] == M.MAX_THUMBNAILS
    fine = res.compositions["l1"]["fine"]
    assert h["bar"] == int(np.count_nonzero(fine.counts[k]))
    assert fine.group_names[fine.majority[k]] in h["text"]
    # The highlight of every node of every layer is the overlap computed here.
    for got_layer, layer in zip(v["selected"], res.layers):
        want = [len(sel & set(s.tolist())) / len(sel) for s in samples[layer]]
        np.testing.assert_allclose([float(g) for g in got_layer], want, rtol=0, atol=1e-12)
    assert any(0 < float(g) < 1 for g in v["selected"][1])  # partial overlaps exist
    assert v["dimmed"] and not v["stillDimmed"]
    assert v["byKey"] == v["selected"]
    for cleared in (v["afterEscape"], v["afterBackground"]):
        assert all(g == "" for layer in cleared for g in layer)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_layers_page_with_tokens(layers_result, tmp_path):
    require_chromium()
    res, acts, _ = layers_result
    tokens = [f"tok<{i}>" for i in range(320)]
    path = M.to_html_layers(
        res, tmp_path / "tok.html", sample_index=acts.sample_index, tokens=tokens, max_thumbnails=3
    )
    script = """(() => {
      document.querySelector('.panel g.node').dispatchEvent(
          new MouseEvent('mousemove', {clientX: 5, clientY: 5, bubbles: true}));
      return Array.from(document.querySelectorAll('#tooltip .tok')).map(t => t.textContent);
    })()"""
    report = load_page(path, evaluate=script)
    assert report.ok, report.problems()
    first = _node_samples(res, acts, "l1")[0][:3]
    assert report.value == [tokens[s] for s in first]


def test_cli_mapper_run_writes_the_layers_page(layers_result, tmp_path):
    """``mapper run`` writes ``layers.html`` (linked from ``index.html``) from a store whose
    layers have different numbers of points, so the store's sample index must be used."""
    import json

    from typer.testing import CliRunner

    from tda_activations.cli.mapper import app
    from tda_activations.extract import save_store

    res, acts, _ = layers_result
    store = save_store(acts, tmp_path / "store")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["layers_html"] == "layers.html"
    assert 'href="layers.html"' in (out / "index.html").read_text()
    assert (out / "layers.html").read_text() == M.html_layers_page(
        res, sample_index=acts.sample_index
    )
    out2 = tmp_path / "out2"
    result = CliRunner().invoke(app, ["run", str(store), "--out", str(out2), "--no-html"])
    assert result.exit_code == 0, result.output
    assert not (out2 / "layers.html").exists()
    assert "layers.html" not in (out2 / "index.html").read_text()


def test_group_colors_are_matplotlibs_and_distinct():
    """Pages and figures share ``group_colors``: tab10/tab20 exactly as matplotlib has them,
    distinct colours beyond."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    assert M.group_colors(10) == tuple(to_hex(c) for c in colormaps["tab10"].colors)
    for n in (11, 15, 20):
        assert M.group_colors(n) == tuple(to_hex(c) for c in colormaps["tab20"].colors[:n])
    for n in (1, 10, 11, 20, 21, 40):
        assert len(set(M.group_colors(n))) == n


def test_layers_page_from_an_image_dataset(layers_result):
    """An ImageDataset gives the same thumbnails as its array, labelled with its sample ids."""
    import json

    from tda_activations.types import ImageDataset

    res, acts, images = layers_result
    ds = ImageDataset(
        images=images,
        labels=np.asarray(acts.labels),
        hierarchy=HIER,
        sample_ids=np.arange(320) + 1000,
    )

    def data(text):
        return json.loads(re.search(r'id="mapper-data">(.*?)</script>', text, re.DOTALL).group(1))

    from_ds = data(M.html_layers_page(res, sample_index=acts.sample_index, images=ds))
    from_array = data(M.html_layers_page(res, sample_index=acts.sample_index, images=images))
    assert from_ds["thumbs"] == from_array["thumbs"]
    assert from_array["sampleIds"] is None
    assert from_ds["sampleIds"] == {k: int(k) + 1000 for k in from_ds["thumbs"]}


def test_save_layer_mapper_without_sample_index(layers_result, tmp_path, caplog):
    """Without ``sample_index`` the every-layer page needs clouds of one size: otherwise it is
    left out with a warning (the per-layer pages are still written); a bad one is refused."""
    res, acts, images = layers_result
    with caplog.at_level("WARNING", logger="tda_activations.mapper.io"):
        out = M.save_layer_mapper(res, tmp_path / "m")
    assert "pass sample_index" in caplog.text
    assert not (out / "layers.html").exists() and (out / "html" / "l1.html").exists()
    assert "layers.html" not in (out / "index.html").read_text()
    with pytest.raises(ValueError, match="images has 5 samples"):
        M.save_layer_mapper(
            res, tmp_path / "bad", sample_index=acts.sample_index, images=images[:5]
        )
    assert not (tmp_path / "bad").exists()
    out = M.save_layer_mapper(res, tmp_path / "ok", sample_index=acts.sample_index, images=images)
    assert (out / "layers.html").read_text() == M.html_layers_page(
        res, sample_index=acts.sample_index, images=images
    )


def test_single_page_thumbnails_on_hover(graph_and_compositions, tmp_path):
    """``to_html`` with images: hovering a node shows its first samples' inlined PNGs."""
    g, comps = graph_and_compositions
    images = np.random.default_rng(2).normal(size=(g.n_points, 1, 6, 6))
    # two points per sample: sample_index maps the 400 points onto 200 samples
    sample_index = np.arange(g.n_points) // 2
    path = M.to_html(
        g,
        tmp_path / "t.html",
        compositions=comps,
        images=images[:200],
        sample_index=sample_index,
        max_thumbnails=5,
    )
    text = path.read_text()
    want = set()
    for n in g.nodes:
        want |= set(np.unique(sample_index[n.members])[:5].tolist())
    assert text.count("data:image/png;base64,") == len(want)
    plain = M.html_page(g, compositions=comps)
    assert "data:image/png" not in plain and len(plain) < len(text)
    with pytest.raises(ValueError, match="one per point"):
        M.html_page(g, images=images, sample_index=np.arange(3))
    with pytest.raises(ValueError, match="images has 200 samples"):
        M.html_page(g, images=images[:200])
    with pytest.raises(ValueError, match="max_thumbnails"):
        M.html_page(g, images=images, max_thumbnails=-1)
    require_chromium()
    script = """(() => {
      const node = document.querySelector('g.node');
      node.dispatchEvent(new MouseEvent('mousemove', {clientX: 10, clientY: 10, bubbles: true}));
      return Array.from(document.querySelectorAll('#tooltip img')).map(i => i.dataset.sample);
    })()"""
    report = load_page(path, evaluate=script)
    assert report.ok, report.problems()
    first = np.unique(sample_index[g.nodes[0].members])[:5]
    assert report.value == [str(s) for s in first]
