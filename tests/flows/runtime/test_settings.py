"""flows/runtime/settings.py: bundled package data, model_versions paths, default workers."""

from pathlib import Path

import pytest

from flows.runtime.settings import (
    BUNDLED_BRANDS,
    BUNDLED_MODEL,
    BUNDLED_MODEL_REF,
    DEFAULT_TRAIN_CONFIG,
    Settings,
    default_workers,
    model_dir_of,
    model_path_ref,
)


def test_bundled_files_exist():
    assert (BUNDLED_MODEL / "manifest.json").is_file()
    assert BUNDLED_BRANDS.is_file()
    assert DEFAULT_TRAIN_CONFIG.is_file()


def test_bundled_model_is_recorded_by_name_not_by_path(tmp_path):
    ref = model_path_ref(BUNDLED_MODEL, tmp_path)
    assert ref == BUNDLED_MODEL_REF
    assert model_dir_of(ref, tmp_path) == BUNDLED_MODEL


def test_a_version_under_the_data_dir_moves_with_it(tmp_path):
    data = tmp_path / "data"
    ref = model_path_ref(data / "models" / "v2", data)
    assert ref == "models/v2"
    moved = tmp_path / "elsewhere"
    assert model_dir_of(ref, moved) == moved / "models" / "v2"


def test_a_directory_elsewhere_keeps_its_absolute_path(tmp_path):
    outside = tmp_path / "outside" / "v3"
    ref = model_path_ref(outside, tmp_path / "data")
    assert Path(ref).is_absolute()
    assert model_dir_of(ref, tmp_path / "data") == outside


@pytest.mark.parametrize(("cores", "expected"), [(None, 1), (1, 1), (2, 2), (4, 4), (64, 4)])
def test_workers_default_to_the_cores_at_most_4(monkeypatch, cores, expected):
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    monkeypatch.delenv("SENTIMON_WORKERS", raising=False)
    assert default_workers() == expected
    assert Settings().workers == expected


def test_workers_setting_wins(monkeypatch):
    monkeypatch.setenv("SENTIMON_WORKERS", "3")
    assert Settings().workers == 3
