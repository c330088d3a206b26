"""What the report tests share: the tiny suite (every kind of cell), its run, and a comparison of documents."""

import pytest

from selfloop.reports import register_suite
from selfloop.reports.builders import diffusion_cells, gaussian_mle_cells, loop_cells, phase_cells


def tiny() -> list[dict]:
    """A suite small enough for unit tests, with every kind of cell."""
    return (
        loop_cells(
            models=[{"name": "kde", "bandwidth": 0.3}],
            truths=["bimodal_1d"],
            sizes=[200],
            real_fractions=(0.5,),
            generations=3,
            replicates=8,
        )
        + diffusion_cells(
            widths=(64, 128),
            steps=20,
            calibration_sizes=(200, 800),
            prediction_sizes=(300,),
            prediction_widths=(96,),
            generations=2,
            replicates=3,
        )
        + phase_cells(real=200, synthetic=(0, 2000), generation=3, replicates=8)
        + gaussian_mle_cells(size=50, generations=4, replicates=60)
    )


register_suite("tiny", tiny)


def numbers(document: dict) -> list:
    return [(cell["key"], cell["tv"], cell["claims"]) for cell in document["cells"]]


def assert_same_numbers(first, second, rtol: float = 1e-12) -> None:
    """Equal structure and strings; floats equal to ``rtol`` relative (BLAS thread counts may reorder sums)."""
    if isinstance(first, dict):
        assert isinstance(second, dict) and first.keys() == second.keys()
        for key in first:
            assert_same_numbers(first[key], second[key], rtol)
    elif isinstance(first, (list, tuple)):
        assert isinstance(second, (list, tuple)) and len(first) == len(second)
        for a, b in zip(first, second):
            assert_same_numbers(a, b, rtol)
    elif isinstance(first, float) and not isinstance(first, bool):
        assert second == pytest.approx(first, rel=rtol, abs=1e-15, nan_ok=True)
    else:
        assert first == second
