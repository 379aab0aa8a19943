"""Property: whatever the input holds, a run never crashes and every record is accounted for.

Hypothesis writes JSONL and CSV files of arbitrary records (any Unicode, control characters,
huge fields, wrong JSON types, malformed lines) and runs them through the real reader,
validator, tokenizer, model and SQLite commit. Each record must end as a post or a reject,
and the database must agree with the counts.
"""

import csv
import io
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from db.engine import make_engine
from db.tables import posts, rejects
from flows.runtime.batch import process_batch
from flows.runtime.model_dirs import prepare_database
from flows.runtime.process import Runtime
from flows.runtime.settings import BUNDLED_BRANDS, Settings
from pipeline.errors import SourceError
from pipeline.model.artifacts import load_scorer
from pipeline.sources import FileSource
from pipeline.sources.encoding import BINARY_SAMPLE_BYTES
from pipeline.sources.validate import Validator
from pipeline.text.brand_file import load_brands
from pipeline.text.brands import BrandMatcher

_counter = itertools.count()

any_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(["", " ", "\x00", "\u202e\u200b", "I love @united 😀", "&amp;<b>x</b>"]),
    st.builds(lambda n: "a" * n, st.integers(19_990, 20_010)),
)
json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    any_text,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
record = st.fixed_dictionaries(
    {},
    optional={
        "id": json_value,
        "text": st.one_of(any_text, json_value),
        "created_at": st.one_of(
            st.sampled_from(["2026-01-02T03:04:05Z", "yesterday", "2026-13-45", "", "0"]),
            json_value,
        ),
        "author": json_value,
        "brand": json_value,
    },
)
garbage_line = st.binary(max_size=80).filter(lambda b: b"\n" not in b and b.strip())
jsonl_line = st.one_of(
    record.map(lambda r: json.dumps(r).encode()),
    garbage_line,
    st.just(b"[1, 2, 3]"),
    st.just(b'"just a string"'),
)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "sentimon.db"
    engine = make_engine(f"sqlite:///{path}")
    scorer = load_scorer(prepare_database(engine, Settings().data_dir))
    matcher = BrandMatcher(scorer.nlp, load_brands(BUNDLED_BRANDS))
    return Runtime(settings=Settings(), engine=engine, scorer=scorer, matcher=matcher)


def _run(rt, path, source):
    reader = FileSource(path, source, settle_seconds=0)
    validator = Validator(source)
    read = n_posts = n_rejects = n_new = 0
    while (report := process_batch(rt, reader, validator, batch_size=7)) is not None:
        read += report.n_read
        n_posts += report.n_posts
        n_new += report.n_new_posts
        n_rejects += report.n_rejects
        assert report.n_posts + report.n_rejects == report.n_read
    stored, refused = _run_counts(rt, source)
    assert stored == n_new  # each stored post was counted new exactly once
    return read, n_posts, n_rejects, stored, refused


def _run_counts(rt, source):
    """(posts, rejects) stored for ``source``."""
    with rt.engine.connect() as conn:
        stored = conn.execute(select(func.count()).where(posts.c.source == source)).scalar()
        refused = conn.execute(select(func.count()).where(rejects.c.source == source)).scalar()
    return stored, refused


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(jsonl_line, max_size=25), truncated=st.booleans())
def test_jsonl_records_all_end_in_posts_or_rejects(runtime, tmp_path_factory, lines, truncated):
    source = f"fuzz-jsonl-{next(_counter)}"
    path = tmp_path_factory.mktemp("in") / f"{source}.jsonl"
    body = b"\n".join(lines) + (b"" if truncated or not lines else b"\n")
    path.write_bytes(body)
    if b"\x00" in body[:BINARY_SAMPLE_BYTES]:  # binary data, not text: refused as a whole
        with pytest.raises(SourceError, match=r"holds (binary data|UTF-(16|32) text)"):
            _run(runtime, path, source)
        assert _run_counts(runtime, source) == (0, 0)
        return
    read, n_posts, n_rejects, stored, refused = _run(runtime, path, source)
    assert read == len(lines)
    assert refused == n_rejects  # one reject row per bad record
    assert stored <= n_posts  # duplicates of one id collapse into one post
    assert n_posts + n_rejects == read


cell = st.one_of(any_text, st.sampled_from(["", "2026-01-02", "1", 'quo"te', "a,b", "x\ny"]))
row = st.lists(cell, min_size=0, max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, max_size=20))
def test_csv_rows_all_end_in_posts_or_rejects(runtime, tmp_path_factory, rows):
    source = f"fuzz-csv-{next(_counter)}"
    path = tmp_path_factory.mktemp("in") / f"{source}.csv"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "text", "created_at"])
    # The csv module cannot write NUL; NUL in JSON text is covered by the JSONL test.
    rows = [[c.replace("\x00", "") for c in cells] for cells in rows]
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8", errors="surrogatepass")
    read, n_posts, n_rejects, stored, refused = _run(runtime, path, source)
    # Rows with no content at all are blank lines, not records.
    assert read == sum(1 for cells in rows if any(c.strip() for c in cells))
    assert refused == n_rejects
    assert stored <= n_posts
    assert n_posts + n_rejects == read
