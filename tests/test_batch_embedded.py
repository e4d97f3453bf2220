"""The README's main command: the embedded config end to end through the CLI, into a report
that opens in a browser without errors, broken images or broken links."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tda_activations.cli.run import app


@pytest.mark.slow
def test_embedded_config_end_to_end(tmp_path):
    out = tmp_path / "demo"
    log = tmp_path / "run.log"
    result = CliRunner().invoke(
        app, ["embedded", "--out", str(out), "--quiet", "--log-file", str(log)]
    )
    assert result.exit_code == 0, result.output
    assert "0 failed, 0 skipped" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "complete"
    assert set(manifest["fingerprints"]["models"]) == {"mlp", "lenet", "resnet18", "densenet"}
    kinds = {t["kind"] for t in manifest["tasks"]}
    assert {"distances-all", "similarity-all", "experiments", "mapper-trend"} <= kinds
    assert "extract" in log.read_text()  # the log file records the tasks

    sys.path.insert(0, str(Path(__file__).parent))
    from _browser import load_page, require_chromium

    require_chromium()
    report = load_page(
        out / "index.html",
        evaluate=(
            "JSON.stringify({bad: [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.src), n: document.images.length, links: [...document.querySelectorAll('a[href]')]"
            ".map(a => a.getAttribute('href'))})"
        ),
    )
    assert report.ok, report.problems()
    value = json.loads(report.value)
    assert value["n"] >= 15 and not value["bad"], value["bad"]
    hrefs = [h for h in value["links"] if not h.startswith("#")]
    assert not [h for h in hrefs if re.match(r"^[a-z]+://", h)]
    assert not [h for h in hrefs if not (out / h).exists()]
    # a page per layer, and per model a page of every layer
    assert sum(h.endswith(".html") for h in hrefs) == sum(
        1 for t in manifest["tasks"] if t["kind"] in ("mapper", "mapper-trend")
    )
