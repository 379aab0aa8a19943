"""Encodings of CSV and JSONL files: a given one is used; a missing one is named."""

import pytest

from pipeline.errors import SourceError, UsageError
from pipeline.sources import FileSource
from pipeline.sources.encoding import check_encoding, guess_encoding

LATIN = "id,text\nr1,Le son est très bon\nr2,Schöne Kopfhörer\nr3,plain ascii\n"


def files(path, **options):
    return FileSource(path, "s", settle_seconds=0, **options)


def test_a_latin_1_csv_read_with_its_encoding_gives_every_row(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(LATIN.encode("latin-1"))
    records = files(path, encoding="latin-1").read_batch(None, 10).records
    assert [r.error for r in records] == [None, None, None]
    assert [r.fields["text"] for r in records[:2]] == ["Le son est très bon", "Schöne Kopfhörer"]


def test_without_it_the_reject_reason_names_the_likely_encoding(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(LATIN.encode("latin-1"))
    records = files(path).read_batch(None, 10).records
    reason = "not UTF-8 (looks like cp1252): rerun with --encoding cp1252"
    assert [r.error for r in records] == [reason, reason, None]
    # The raw copy keeps the bytes: Latin-1 gives them back for a replay.
    assert records[0].raw.encode("latin-1") == "r1,Le son est très bon".encode("latin-1")


def test_jsonl_in_cp1252(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes('{"id": 1, "text": "“quoted” – 5 €"}\n'.encode("cp1252"))
    assert files(path).read_batch(None, 10).records[0].error.startswith("not UTF-8 (looks like")
    record = files(path, encoding="cp1252").read_batch(None, 10).records[0]
    assert record.fields["text"] == "“quoted” – 5 €"


def test_shift_jis_is_guessed_and_read():
    text = "id,text\n1,このヘッドホンは最高です\n2,音が悪い\n".encode("shift_jis")
    assert guess_encoding(text) == "cp932"


def test_a_csv_header_in_another_encoding_names_it_too(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("id,tête,date\n1,très bien,2026-01-01\n".encode("latin-1"))
    (record,) = files(path).read_batch(None, 10).records
    assert record.error == (
        "the first line is not a CSV header (not UTF-8 (looks like cp1252): rerun with "
        "--encoding cp1252); the file is skipped"
    )


@pytest.mark.parametrize("name", ["latin-1", "cp1252", "shift_jis", "UTF8"])
def test_ascii_compatible_encodings_are_accepted(name):
    assert check_encoding(name)


@pytest.mark.parametrize(
    "name, message",
    [
        ("latin-9x", "unknown encoding 'latin-9x'"),
        ("utf-16", "does not write ASCII as ASCII"),
        ("base64", "does not write ASCII as ASCII"),
    ],
)
def test_unknown_and_unusable_encodings_are_usage_errors(name, message):
    with pytest.raises(UsageError, match=message):
        check_encoding(name)


@pytest.mark.parametrize("name", ["reviews.bin", "reviews.csv", "reviews.jsonl"])
def test_a_single_binary_file_is_refused_before_anything_is_read(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(SourceError, match=f"{name} holds binary data"):
        files(path).read_batch(None, 10)


@pytest.mark.parametrize(
    "codec, name", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"), ("utf-32", "UTF-32")]
)
def test_a_utf16_or_utf32_file_is_named_with_the_way_to_convert_it(tmp_path, codec, name):
    path = tmp_path / "reviews.jsonl"
    path.write_bytes('{"id": "r1", "text": "great phone"}\n'.encode(codec))  # bare LE: no BOM
    with pytest.raises(SourceError) as refused:
        files(path).read_batch(None, 10)
    assert str(refused.value) == (
        f"reviews.jsonl holds {name} text: nothing was read; sentimon reads UTF-8: convert it "
        f"first, e.g. iconv -f {name.lower()} -t utf-8 reviews.jsonl > reviews.utf8.jsonl"
    )


def test_a_binary_file_in_a_folder_is_passed_over_with_a_notice(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"\x00\x01\x02binary\n\x00")
    (tmp_path / "b.jsonl").write_text('{"id": "b1", "text": "fine"}\n')
    source = files(tmp_path)
    batch = source.read_batch(None, 10)
    assert [r.fields["id"] for r in batch.records] == ["b1"]
    assert source.notices == [
        "a.csv not read: it holds binary data (NUL bytes in its first 8 KiB), not CSV or JSON lines"
    ]
    assert "a.csv" in source.refused


def test_one_damaged_record_in_a_utf8_file_is_not_blamed_on_the_encoding(tmp_path):
    """Rereading with a guessed --encoding would garble every other row of the file."""
    path = tmp_path / "a.csv"
    good = "\ufeffid,text\n1,naïve café\n2,Schöne Kopfhörer\n".encode()
    path.write_bytes(good + b"3,broken \xef here\n4,ok\n")
    records = files(path).read_batch(None, 10).records
    assert [r.fields["text"] for r in records if r.error is None] == [
        "naïve café",
        "Schöne Kopfhörer",
        "ok",
    ]
    (damaged,) = [r for r in records if r.error is not None]
    assert damaged.error.startswith("invalid UTF-8 in a file that is otherwise UTF-8")
    assert "--encoding" not in damaged.error
    assert damaged.raw.encode("latin-1") == b"3,broken \xef here"


def test_a_guess_between_single_byte_code_pages_shows_how_each_reads(tmp_path, monkeypatch):
    # Western European text with few accents can read best as cp1250 to charset-normalizer
    # (a user's 80 reviews did), which reads "crème" as "crčme": the reason then shows how
    # each code page reads the words, rather than one bare guess to follow.
    import pipeline.sources.encoding as encoding

    monkeypatch.setattr(encoding, "guess_encoding", lambda data: "cp1250")
    rows = [f'{i},"a waste of money — café crème naïve ({i})"' for i in range(5)]
    path = tmp_path / "cp.csv"
    path.write_bytes(("id,text\n" + "\n".join(rows) + "\n").encode("cp1252"))
    reasons = {r.error for r in files(path).read_batch(None, 100).records}
    assert reasons == {
        "not UTF-8 (it reads cp1250 as 'crčme naďve', cp1252 as 'crème naïve'): "
        "rerun with --encoding cp1250 or --encoding cp1252, whichever reads right"
    }
    # Text that cp1252 cannot read, or reads alike: the guess alone.
    czech = tmp_path / "cz.csv"
    czech.write_bytes("id,text\n1,žluťoučký kůň\n".encode("cp1250"))
    assert {r.error for r in files(czech).read_batch(None, 10).records} == {
        "not UTF-8 (looks like cp1250): rerun with --encoding cp1250"
    }
