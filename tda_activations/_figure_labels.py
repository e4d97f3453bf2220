"""Short human labels of measures for figures (tables keep the full parameter id).

Every measure of the package has a full id that names all its parameters
(``linear_cka[debiased=False,form=auto]``, ``sliced_wasserstein[H1,M=50]``); figures
need a short readable name (``linear CKA``, ``sliced Wasserstein (H1, M=50)``).
:func:`figure_label` turns either form, or a measure object, into that name.
"""

from __future__ import annotations

from typing import Any

__all__ = ["figure_label", "parse_measure_id"]

# family name -> readable name (registry names of both registries and the adapters)
_NAMES: dict[str, str] = {
    "cca": "CCA",
    "svcca": "SVCCA",
    "pwcca": "PWCCA",
    "linear_cka": "linear CKA",
    "rbf_cka": "RBF CKA",
    "minibatch_cka": "minibatch CKA",
    "knn_jaccard": "kNN Jaccard",
    "distance_correlation": "distance correlation",
    "rsa": "RSA",
    "rtd": "RTD",
    "procrustes": "Procrustes",
    "shape_angular": "angular shape metric",
    "bottleneck": "bottleneck",
    "wasserstein": "Wasserstein",
    "sliced_wasserstein": "sliced Wasserstein",
    "betti_curve": "Betti curve",
    "landscape": "landscape",
    "persistence_image": "persistence image",
    "entropy": "persistence entropy",
    "total_persistence": "total persistence",
}

# registry aliases whose id is not of the ``name[params]`` form
_ALIASES: dict[str, str] = {
    "cca_mean_squared": "cca[summary=mean_squared]",
    "cca_mean": "cca[summary=mean]",
    "linear_cka_debiased": "linear_cka[debiased=True]",
    "procrustes_euclidean": "procrustes[euclidean=True]",
    "linear_cka_angular": "angular_distance[linear_cka]",
    "knn_jaccard_distance": "one_minus[knn_jaccard]",
    "one_minus_knn_jaccard": "one_minus[knn_jaccard]",
}

# parameters shown, in this order, with their short names (others are dropped)
_SHOWN: dict[str, tuple[tuple[str, str], ...]] = {
    "knn_jaccard": (("k", "k"),),
    "rbf_cka": (("bandwidth_fraction", "σ="),),
    "shape_angular": (("alpha", "α"),),
    "wasserstein": (("q", "q"), ("order", "q"), ("p", "p"), ("internal_p", "p")),
    "sliced_wasserstein": (("M", "M"), ("n_directions", "M")),
    "total_persistence": (("q", "q"), ("order", "q")),
}


def _split_top(text: str) -> list[str]:
    """Split on the commas that are not inside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def parse_measure_id(text: str) -> tuple[str, dict[str, str], list[str]]:
    """Split a measure id ``name[k=v,...,flag]`` into its name, parameters and bare items.

    Parameters
    ----------
    text
        A full measure id (``"linear_cka[debiased=False,form=auto]"``), a nested one
        (``"angular_distance[linear_cka[...]]"``) or a bare registry name.

    Returns
    -------
    tuple
        ``(name, {key: value}, [bare items])``; bare items are e.g. ``"H1"`` or the
        base measure of a derived one.

    Raises
    ------
    ValueError
        If the brackets do not balance.
    """
    text = text.strip()
    if text.count("[") != text.count("]"):
        raise ValueError(
            f"measure id {text!r} has unbalanced brackets; pass an id like 'name[k=v]'"
        )
    if "[" not in text or not text.endswith("]"):
        return text, {}, []
    name, inner = text.split("[", 1)
    params: dict[str, str] = {}
    bare: list[str] = []
    for item in _split_top(inner[:-1]):
        key, eq, value = item.partition("=")
        if eq and "[" not in key:
            params[key.strip()] = value.strip()
        else:
            bare.append(item.strip())
    return name.strip(), params, bare


def _num(v: str) -> str:
    try:
        return f"{float(v):g}"
    except ValueError:
        return v


def _from_id(text: str) -> str:
    text = _ALIASES.get(text.strip(), text.strip())
    name, params, bare = parse_measure_id(text)
    if name == "angular_distance" and bare:
        return f"angular {_from_id(bare[0])}"
    if name in ("one_minus", "one_minus_similarity") and bare:
        return f"1 − {_from_id(bare[0])}"
    if "dim" in params and name != "rtd":
        bare = [f"H{params.pop('dim')}", *bare]
    if name == "rtd":
        bare = [f"H{params.get('dim', '1')}"]
    base = _NAMES.get(name, name.replace("_", " "))
    prefix = ""
    if name == "cca":
        summary = params.get("summary", "mean_squared")
        base = (
            "mean squared CCA" if summary == "mean_squared" else f"{summary.replace('_', ' ')} CCA"
        )
    if params.get("debiased") == "True":
        prefix = "debiased "
    if name == "procrustes":
        bare = ["Euclidean" if params.get("euclidean") == "True" else "angular"]
    if name == "rsa":
        bare = [
            params.get("rdm", "euclidean") + " RDM",
            params.get("compare", "spearman").capitalize(),
        ]
    shown = [b for b in bare if b]
    for key, short in _SHOWN.get(name, ()):
        if key in params:
            sep = "" if short.endswith("=") else "="
            shown.append(f"{short}{sep}{_num(params[key])}")
    if params.get("essential", "match") != "match":
        shown.append(f"essential={params['essential']}")
    suffix = f" ({', '.join(shown)})" if shown else ""
    return f"{prefix}{base}{suffix}"


def figure_label(measure: Any, *, dim: int | None = None) -> str:
    """Short human label of a measure for figures and colour bars.

    Tables keep the full id (every parameter); figures use this, e.g.
    ``linear_cka[debiased=True,form=auto]`` -> ``debiased linear CKA``,
    ``sliced_wasserstein[H1,M=50]`` -> ``sliced Wasserstein (H1, M=50)``.

    Parameters
    ----------
    measure
        A measure id or registry name (``str``), a pairwise measure (anything with an
        ``id``: a similarity :class:`~tda_activations.similarity.Measure`, an experiments
        :class:`~tda_activations.experiments.TopologicalMeasure`), or a
        :class:`~tda_activations.homology.DiagramDistance` (then pass ``dim``).
    dim
        Homology dimension, for a ``DiagramDistance`` only.

    Returns
    -------
    str
        The label; unknown families get their name with spaces for underscores.

    Raises
    ------
    TypeError
        If ``measure`` is none of these.
    ValueError
        If a ``DiagramDistance`` comes without ``dim``, or an id's brackets do not balance.
    """
    if isinstance(measure, str):
        return _from_id(measure)
    mid = getattr(measure, "id", None)
    if isinstance(mid, str):  # a pairwise measure (tda_activations._measure)
        return _from_id(mid)
    if callable(getattr(measure, "measure_name", None)):  # DiagramDistance
        if dim is None:
            raise ValueError(
                "figure_label of a diagram distance needs dim= (its homology dimension)"
            )
        return _from_id(measure.measure_name(int(dim)))
    name = getattr(measure, "name", None)
    if isinstance(name, str):  # anything else with a name: the name is read as an id
        return _from_id(name)
    raise TypeError(
        f"figure_label takes a measure id (str) or a measure object, not {type(measure).__name__}"
    )
