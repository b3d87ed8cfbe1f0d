"""Shared fixtures: small demo image sets built once per test session."""

from __future__ import annotations

import helpers  # noqa: F401 - offline switches before any model library import

import pytest

from helpers.demo import DemoDatasetSpec, build_dataset


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """A 12-image demo set (8 train, 2 valid, 2 test); read-only for tests."""
    out = tmp_path_factory.mktemp("demo") / "tiny"
    build_dataset(out, DemoDatasetSpec(seed=7, n_train=8, n_valid=2, n_test=2))
    return out
