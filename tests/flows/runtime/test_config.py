"""sentimon.toml and ad hoc --input: what resolves to which source, and what is refused."""

import pytest

from flows.runtime.config import load_config
from flows.runtime.sources import adhoc_source, resolve_source
from pipeline.errors import ConfigError, UsageError


def _write(tmp_path, text):
    path = tmp_path / "sentimon.toml"
    path.write_text(text)
    return path


def test_named_sources_of_each_kind(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_URL", "postgresql://shop@db/shop")
    cfg = load_config(
        _write(
            tmp_path,
            """
[sources.reviews]
kind = "files"
path = "landing/reviews"
map = { text = "review", id = "uid" }
batch_size = 1000
every_minutes = 15

[sources.shop]
kind = "sql"
url_env = "SHOP_URL"
table = "reviews"
cursor_column = "id"

[sources.social]
kind = "redis"
url = "redis://127.0.0.1:6379/0"
stream = "posts"
""",
        )
    )
    reviews = resolve_source(cfg, "reviews", None)
    assert reviews.path == (tmp_path / "landing" / "reviews").resolve()
    assert reviews.config.column_map == {"text": "review", "id": "uid"}
    assert reviews.config.batch_size == 1000
    assert resolve_source(cfg, "shop", None).url == "postgresql://shop@db/shop"
    social = resolve_source(cfg, "social", None)
    assert (social.config.stream, social.config.group) == ("posts", "sentimon")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[sources.a]\nkind = "files"\npath = "../elsewhere"', "outside"),
        ('[sources.a]\nkind = "files"\npath = "/etc"', "outside"),
        ('[sources.a]\nkind = "sql"\nurl = "sqlite:///x.db"\ncursor_column = "id"', "table"),
        ('[sources.a]\nkind = "redis"\nstream = "s"', "url"),
        ('[sources.a]\nkind = "files"\npath = "x"\nbatchsize = 3', "batchsize"),
        ('[sources.a]\nkind = "kafka"', "kind"),
        ("[sources.a\n", "TOML"),
        # A misspelt field of a map would leave the real one unmapped, silently.
        (
            '[sources.a]\nkind = "files"\npath = "x"\nmap = { creatd_at = "date", ID = "uid" }',
            r"sources\.a\.map: 'creatd_at' \(did you mean 'created_at'\?\), 'ID' \(did you "
            r"mean 'id'\?\) are not our fields",
        ),
        (
            '[sources.a]\nkind = "files"\npath = "x"\nmap = { txt = "body" }',
            r"'txt' \(did you mean 'text'\?\) is not one of our fields",
        ),
        ('[source.a]\nkind = "files"', r"source: unknown key \(did you mean 'sources'\?\)"),
        (
            '[sources.a]\nkind = "files"\npath = "x"\nbatchsize = 3\nsetle_seconds = 1',
            r"batchsize: unknown key \(did you mean 'batch_size'\?\); sources\.a\.setle_seconds",
        ),
    ],
)
def test_bad_configs_are_refused_with_the_reason(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        cfg = load_config(_write(tmp_path, body))
        resolve_source(cfg, "a", None)


def test_unknown_source_and_unset_url_env_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_URL", raising=False)
    cfg = load_config(
        _write(
            tmp_path,
            '[sources.a]\nkind = "sql"\nurl_env = "NOPE_URL"\ntable = "t"\ncursor_column = "id"',
        )
    )
    with pytest.raises(ConfigError, match="NOPE_URL is not set"):
        resolve_source(cfg, "a", None)
    with pytest.raises(UsageError, match="known: a"):
        resolve_source(cfg, "b", None)


def test_a_missing_config_file_is_empty(tmp_path):
    assert load_config(tmp_path / "none.toml").sources == {}


def test_adhoc_inputs(tmp_path):
    files = adhoc_source(str(tmp_path / "tweets.jsonl.gz"))
    assert (files.name.split("-")[0], files.config.kind) == ("tweets", "files")
    sql = adhoc_source("sqlite:////data/shop.db?table=reviews&cursor=id&id=rid")
    assert (sql.name.split("-")[0], sql.url, sql.config.cursor_column, sql.config.id_column) == (
        "reviews",
        "sqlite:////data/shop.db",
        "id",
        "rid",
    )
    pg = adhoc_source("postgresql+psycopg://me@db:5432/shop?table=r&cursor=ts&sslmode=require")
    assert pg.url == "postgresql+psycopg://me@db:5432/shop?sslmode=require"
    redis = adhoc_source("redis://127.0.0.1:6379/0?stream=posts&consumer=c1", "social")
    assert (redis.name, redis.url, redis.config.consumer) == (
        "social",
        "redis://127.0.0.1:6379/0",
        "c1",
    )


def test_adhoc_file_sources_are_named_after_their_resolved_path(tmp_path, monkeypatch):
    # Two inputs never share a cursor: same file name in two folders, or same stem.
    names = {
        adhoc_source(str(tmp_path / "d1" / "posts.jsonl")).name,
        adhoc_source(str(tmp_path / "d2" / "posts.jsonl")).name,
        adhoc_source(str(tmp_path / "feed.jsonl")).name,
        adhoc_source(str(tmp_path / "feed.csv")).name,
    }
    assert len(names) == 4
    monkeypatch.chdir(tmp_path)
    # The same file, however it is written, is the same source.
    assert (
        adhoc_source("d1/posts.jsonl").name == adhoc_source(str(tmp_path / "d1/posts.jsonl")).name
    )
    assert adhoc_source("d1/posts.jsonl", "mine").name == "mine"


def test_adhoc_sql_and_redis_sources_are_named_after_their_database_too(tmp_path, monkeypatch):
    """Table t of a.db and of b.db are two sources: by the table alone, b.db's rows would
    resume at a.db's cursor and their ids be taken for a.db's posts."""
    monkeypatch.chdir(tmp_path)
    a, b = (adhoc_source(f"sqlite:///{db}?table=t&cursor=ts&id=k") for db in ("a.db", "b.db"))
    assert a.name.startswith("t-") and b.name.startswith("t-") and a.name != b.name
    # The same file, relative or absolute, keeps its name; another table of it has its own.
    assert adhoc_source(f"sqlite:///{tmp_path}/a.db?table=t&cursor=ts").name == a.name
    assert adhoc_source("sqlite:///a.db?table=u&cursor=ts").name != a.name
    one, two = (adhoc_source(f"redis://127.0.0.1:6379/{n}?stream=posts") for n in (0, 1))
    assert one.name.startswith("posts-") and one.name != two.name
    assert adhoc_source("redis://127.0.0.1:6379/0?stream=posts&group=g").name == one.name


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("postgresql://me:secret@db/shop?table=r&cursor=id", "password"),
        ("redis://:secret@127.0.0.1:6379/0?stream=s", "password"),
        ("sqlite:///x.db?table=r", "cursor_column"),
        ("sqlite:///x.db?table=r&cursor=id&stream=s", "stream"),
        ("kafka://broker/topic", "give a path"),
    ],
)
def test_bad_adhoc_inputs(uri, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        adhoc_source(uri)


def test_a_files_source_names_its_encoding_and_a_bad_one_is_refused(tmp_path):
    from flows.runtime.sources import open_source

    body = '[sources.old]\nkind = "files"\npath = "in"\nencoding = "{}"\n'
    cfg = load_config(_write(tmp_path, body.format("Latin-1")))
    assert cfg.source("old").encoding == "iso8859-1"
    reader = open_source(resolve_source(cfg, "old", None))
    assert reader.encoding == "iso8859-1"
    for name, message in (("latin-9x", "unknown encoding"), ("utf-16", "iconv")):
        with pytest.raises(ConfigError, match=message):
            load_config(_write(tmp_path, body.format(name)))
    sql = '[sources.shop]\nkind = "sql"\nurl = "sqlite:///x.db"\ntable = "t"\n'
    sql += 'cursor_column = "id"\nencoding = "cp1252"\n'
    with pytest.raises(ConfigError, match="encoding is for files sources"):
        load_config(_write(tmp_path, sql))


def test_a_relative_sqlite_url_of_sentimon_toml_is_taken_from_its_folder(tmp_path, monkeypatch):
    """As a files source's path is: run from another folder, it still reads the same file."""
    (tmp_path / "m").mkdir()
    cfg = load_config(
        _write(
            tmp_path / "m",
            '[sources.a]\nkind = "sql"\nurl = "sqlite:///shop.db"\ntable = "t"\n'
            'cursor_column = "id"\n\n[sources.b]\nkind = "sql"\nurl = "sqlite:////abs/x.db"\n'
            'table = "t"\ncursor_column = "id"',
        )
    )
    monkeypatch.chdir(tmp_path)
    assert resolve_source(cfg, "a", None).url == f"sqlite:///{tmp_path / 'm' / 'shop.db'}"
    assert resolve_source(cfg, "b", None).url == "sqlite:////abs/x.db"
