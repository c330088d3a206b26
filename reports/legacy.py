"""Results documents of earlier formats, read into today's (:data:`selfloop.reports.assemble.FORMAT`).

Format 1 and 2 documents kept their bound records under ``checks`` (by display label, later by theorem id) and
suite-wide results under their own keys (``calibration``, ``rates``, ``phase``, ...). :func:`upgrade` moves each to
the claim that owns it today; this module is the one place that names claims it does not define (the old documents'
names for them).
"""

from __future__ import annotations

import numpy as np

from .assemble import FORMAT
from .verdicts import bound_outcome, law_verdict, per_run_verdict

__all__ = ["LEGACY_IDS", "upgrade"]

#: The claim id of each display label, for documents written before records carried an id.
LEGACY_IDS = {
    "Theorem K": "theorem_k",
    "second-moment": "second_moment",
    "Jensen lower": "second_moment",
    "Theorem D": "theorem_d",
    "Gaussian MLE": "gaussian_mle",
}
#: Where each value of a format-2 cell moved: (old key, old name) -> (claim id, value name).
_MOVED_VALUES = {
    ("slack", "bias"): ("theorem_k", "bias"),
    ("slack", "sampling_bound"): ("theorem_k", "sampling"),
    ("slack", "sampling_measured"): ("theorem_k", "sampling_measured"),
    ("slack", "sampling_stderr"): ("theorem_k", "sampling_stderr"),
    ("slack", "propagated_measured"): ("theorem_k", "propagated_measured"),
    ("predictors", "folded_normal"): ("second_moment", "folded_normal"),
    ("diffusion_steps", "eps_measured"): ("theorem_d", "eps_measured"),
    ("diffusion_steps", "eps_stderr"): ("theorem_d", "eps_stderr"),
    ("diffusion_steps", "eps_calibrated"): ("theorem_d", "eps_calibrated"),
    ("diffusion_steps", "lemma_r_measured"): ("theorem_d", "lemma_r_measured"),
}


def _upgrade_cell(cell: dict) -> dict:
    """A format-1 or format-2 cell in today's form."""
    cell = dict(cell)
    claims: dict[str, dict] = {}
    for record in cell.pop("checks", []):
        name = record.get("theorem") or LEGACY_IDS.get(record["label"], record["label"])
        claim = claims.setdefault(
            name,
            {
                "label": record["label"],
                "labels": {},
                "status": record["status"],
                "outside_theory": record["outside_theory"],
                "values": {},
                "verdicts": {},
            },
        )
        if record["side"] == "upper":
            claim["label"] = record["label"]
        claim["labels"][record["side"]] = record["label"]
        claim["values"][record["side"]] = record["values"]
        claim["verdicts"][record["side"]] = {
            "kind": "bound",
            **record["verdict"],
            "outcome": bound_outcome(record["verdict"]),
        }
    for (key, old), (name, new) in _MOVED_VALUES.items():
        value = (cell.get(key) or {}).get(old)
        if value is not None and name in claims:
            claims[name]["values"][new] = value
    tv = np.asarray(cell["tv"], dtype=float)
    for key, name, label, extra in (
        ("certificate", "theorem_g", "Theorem G", None),
        ("lemma_r_certified", "theorem_d_certified", "Theorem D, certified", "certified_one_step"),
    ):
        if cell.get(key) is not None and cell["spec"]["kind"] == "loop":  # where the claims apply
            values = {"upper": cell[key]} | ({extra: cell[extra]} if extra and cell.get(extra) is not None else {})
            claims[name] = {
                "label": label,
                "labels": {"upper": label},
                "status": "rigorous",
                "outside_theory": False,
                "values": values,
                "verdicts": {"per_run": per_run_verdict(tv, cell[key])},
            }
    law = cell.get("mle_law")
    if law:
        values = {
            f"{q}_{part}": law[q][part] for q in ("variance", "mean_offset") for part in ("measured", "stderr", "law")
        }
        claims["mle_laws"] = {
            "label": "Gaussian MLE laws",
            "labels": {},
            "status": "exact law",
            "outside_theory": False,
            "values": values,
            "verdicts": {q: law_verdict(law[q]["max_abs_z"]) for q in ("variance", "mean_offset")},
        }
    cell["measured"] = {
        key: cell[key]
        for key in ("one_step", "certificate", "certified_one_step", "score_error")
        if cell.get(key) is not None
    }
    for key in (
        "slack",
        "predictors",
        "diffusion_steps",
        "certificate",
        "lemma_r_certified",
        "certified_one_step",
        "one_step",
        "score_error",
        "mle_law",
        "certificate_held",
        "lemma_r_held",
    ):
        cell.pop(key, None)
    cell["claims"] = claims
    return cell


def _upgrade_rate(rate: dict) -> dict:
    text = rate["verdict"]
    positions = [
        "slower than claimed" if "slower" in part else "faster than claimed" if "faster" in part else "inside"
        for part in text.split("; ")
    ]
    verdict = {
        "kind": "rate",
        "claimed": [0.4, 0.8],
        "size": positions[0],
        "width": positions[1],
        "outcome": "refuted" if "slower than claimed" in positions else "held",
        "text": text,
    }
    return {**rate, "verdict": verdict}


def upgrade(document: dict) -> dict:
    """A results document of an earlier format in today's form (a copy; a current one is returned as it is).

    Format 2 (and 1, before records carried ids) kept bound records under each cell's ``checks`` and the claims'
    other values in keys of their own (``slack``, ``certificate``, ``mle_law``, ...), and the suite-wide records in
    ``calibration``, ``rates`` and ``phase``: each moves into its claim's record.
    """
    if document.get("format", 1) >= FORMAT:
        return document
    document = dict(document)
    document["cells"] = [_upgrade_cell(cell) for cell in document["cells"]]
    claims = {}
    if document.get("calibration"):
        claims["theorem_d"] = document.pop("calibration")
    if document.get("rates"):
        claims["li_rate"] = [_upgrade_rate(rate) for rate in document.pop("rates")]
    phase = document.pop("phase", None)
    if phase:
        claims["theorem_p"] = {
            **phase,
            "bounds": {LEGACY_IDS.get(k, k): v for k, v in (phase.get("bounds") or {}).items()},
        }
    document.pop("calibration", None)
    document.pop("rates", None)
    document["claims"] = claims
    document["format"] = FORMAT
    return document
