"""The dry run's garbage-collector threshold: raised while it plans, put back after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.fewer_collections import GEN0_THRESHOLD, fewer_collections


@pytest.fixture
def default_threshold() -> Iterator[None]:
    kept = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*kept)


def test_the_threshold_is_raised_inside_and_put_back_by_the_last_one_out(
        default_threshold: None) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
        with fewer_collections():
            assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
        assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10), "the outer one still plans"
    assert gc.get_threshold() == (700, 10, 10)


def test_a_process_with_a_higher_threshold_keeps_it(default_threshold: None) -> None:
    gc.set_threshold(GEN0_THRESHOLD * 2, 5, 5)
    with fewer_collections():
        assert gc.get_threshold() == (GEN0_THRESHOLD * 2, 5, 5)
    assert gc.get_threshold() == (GEN0_THRESHOLD * 2, 5, 5)
