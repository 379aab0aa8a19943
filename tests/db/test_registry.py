"""The model registry: register, activate, list."""

import pytest

from db import repository


def test_register_activate_and_list(db):
    with db.begin() as conn:
        assert repository.active_model_version(conn) is None
        first = repository.register_model_version(
            conn, "v1", "models/v1", "a" * 64, {"macro_f1": 0.7}, activate=True
        )
        repository.register_model_version(conn, "v2", "models/v2", "b" * 64, {"macro_f1": 0.8})
    assert first.active and first.metrics == {"macro_f1": 0.7}
    assert first.created_at.tzinfo is not None
    with db.begin() as conn:
        assert repository.active_model_version(conn).version == "v1"
        repository.activate_model_version(conn, "v2")
    with db.connect() as conn:
        active = repository.active_model_version(conn)
        listed = {m.version: m.active for m in repository.list_model_versions(conn)}
    assert (active.version, active.path, active.sha256) == ("v2", "models/v2", "b" * 64)
    assert listed == {"v1": False, "v2": True}


def test_registering_again_updates_and_keeps_created_at(db):
    with db.begin() as conn:
        old = repository.register_model_version(conn, "v1", "old/path", "a" * 64, {"f1": 0.1})
        new = repository.register_model_version(conn, "v1", "new/path", "c" * 64, {"f1": 0.2})
        listed = repository.list_model_versions(conn)
    assert (new.path, new.sha256, new.metrics, new.created_at) == (
        "new/path",
        "c" * 64,
        {"f1": 0.2},
        old.created_at,
    )
    assert len(listed) == 1 and not listed[0].active


def test_activating_an_unknown_version_fails_clearly(db):
    with db.begin() as conn:
        repository.register_model_version(conn, "v1", "models/v1", "a" * 64, {}, activate=True)
    unknown = pytest.raises(repository.UnknownModelVersionError, match=r"'v9' is not regis.*v1")
    with unknown, db.begin() as conn:
        repository.activate_model_version(conn, "v9")
    with db.connect() as conn:
        assert repository.active_model_version(conn).version == "v1"
