"""The README stays true: its local links and images exist, its two commands are the Makefile's."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_local_links_and_images_exist() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not t.startswith(("http://", "https://", "mailto:"))]
    assert local, "the README links no local file"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_the_two_commands_are_the_makefile_targets_and_ci_runs_the_test_command() -> None:
    assert "make demo" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "tda-activations run embedded" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_benchmark_scripts_named_in_the_readme_exist() -> None:
    scripts = set(
        re.findall(
            r"`((?:benchmarks/)?(?:bench_\w+|\w+_report|reproduce_paper|make_readme_figures)\.py)`",
            README,
        )
    )
    assert scripts
    for name in scripts:
        path = ROOT / name if name.startswith("benchmarks/") else ROOT / "benchmarks" / name
        assert path.exists(), name
