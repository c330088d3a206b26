"""Every registered claim, and the docs' plugin claim, passes selfloop.testing.check_claim on the tiny conformance
suite (each cell run once per worker, from a shared cache); claims that break the contract are rejected by it."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from selfloop.reports import CLAIMS, Claim, loop_cells, register_claim
from selfloop.reports.verdicts import bound_verdict
from selfloop.testing import check_claim, check_claims, conformance_cells


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("conformance")


@pytest.fixture(scope="module")
def built_in(cache) -> dict:
    """Every registered claim checked on one run and one assembly of the conformance suite."""
    return check_claims([CLAIMS.get(name) for name in CLAIMS], conformance_cells(), cache=cache)


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_every_registered_claim_conforms(claim_id, built_in):
    result = built_in[claim_id]
    assert result.claim == claim_id and (result.records > 0 or result.summary)
    assert sum(result.outcomes.values()) >= result.records  # a verdict or more a record


class Ceiling(Claim):
    """The claim of docs/extending.md: TV_i <= 0.3 on every loop cell, the default verdict."""

    id = "conformance_ceiling"
    label = "My ceiling"
    whose = "my paper, Lemma 3"

    def evaluate(self, cell):
        return {"upper": np.full(cell.exact_tv().shape[1], 0.3)}


class UnknownOutcome(Ceiling):
    id = "conformance_unknown_outcome"

    def decide(self, values, cell):
        return {"upper": {**bound_verdict(cell.exact_tv(), values["upper"]), "outcome": "fine"}}


class UndeclaredFigure(Ceiling):
    id = "conformance_undeclared_figure"

    def section(self, document, out):
        (out / "mine.png").write_bytes(b"")
        return ["## Mine", "", "![mine](mine.png)"]


@contextmanager
def registered(claim: Claim):
    register_claim(claim, replace=True)
    try:
        yield claim
    finally:
        CLAIMS.unregister(claim.id)


KDE_CELLS = loop_cells(
    models=[{"name": "kde", "bandwidth": 0.3}], truths=["bimodal_1d"], sizes=[200], generations=2, replicates=16
)[:1]


def test_the_docs_plugin_claim_conforms(cache):
    with registered(Ceiling()) as claim:
        result = check_claim(claim, KDE_CELLS, cache=cache)
    assert result.records == 1 and result.outcomes == {"held": 1} and result.rows == 1


@pytest.mark.parametrize(
    "claim, message",
    [
        (UnknownOutcome(), "verdict 'upper' has outcome 'fine'"),
        (UndeclaredFigure(), "its section wrote mine.png, which figures = () does not declare"),
    ],
    ids=["unknown outcome", "undeclared figure"],
)
def test_a_claim_that_breaks_the_contract_is_rejected(claim, message, cache):
    with registered(claim), pytest.raises(AssertionError, match=re.escape(message)):
        check_claim(claim, KDE_CELLS, cache=cache)


def test_an_unregistered_claim_is_rejected(cache):
    with pytest.raises(AssertionError, match="not registered"):
        check_claim(Ceiling(), KDE_CELLS, cache=cache)
