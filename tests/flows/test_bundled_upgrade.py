"""An upgrade that ships another bundled model: the database follows it instead of refusing."""

from db import repository
from db.engine import make_engine
from flows.runtime.model_dirs import prepare_database, resolve_model_dir
from flows.runtime.settings import BUNDLED_MODEL, BUNDLED_MODEL_REF, Settings
from pipeline.model.manifest import read_manifest


def test_the_new_bundled_version_is_registered_and_activated(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'r.db'}")
    engine = make_engine(settings.db_url)
    try:
        prepare_database(engine, tmp_path)
        with engine.begin() as conn:
            # What an install of the previous release left: its bundled version, active.
            repository.register_model_version(
                conn, "lstm-20200101-00000000", BUNDLED_MODEL_REF, "0" * 64, {}, activate=True
            )
        # Reading the active model writes nothing, and no longer refuses.
        assert resolve_model_dir(settings) == BUNDLED_MODEL
        with engine.connect() as conn:
            assert repository.active_model_version(conn).version == "lstm-20200101-00000000"
        assert prepare_database(engine, tmp_path) == str(BUNDLED_MODEL)
        with engine.connect() as conn:
            active = repository.active_model_version(conn)
            versions = {row.version for row in repository.list_model_versions(conn)}
        assert active.version == read_manifest(BUNDLED_MODEL).version
        assert "lstm-20200101-00000000" in versions  # kept in the registry's history
    finally:
        engine.dispose()


def test_an_active_version_of_the_teams_own_is_left_alone(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        prepare_database(engine, tmp_path)
        with engine.begin() as conn:
            repository.register_model_version(
                conn, "lstm-20200101-11111111", "models/mine", "1" * 64, {}, activate=True
            )
        assert prepare_database(engine, tmp_path) == str(tmp_path / "models" / "mine")
        with engine.connect() as conn:
            assert repository.active_model_version(conn).version == "lstm-20200101-11111111"
    finally:
        engine.dispose()
