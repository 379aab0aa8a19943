"""Choosing posts to label (pipeline.training.labelling): least sure first, spread, each once."""

import csv

from pipeline.training.labelling import COLUMNS, Candidate, select_for_labelling, write_label_csv


def cand(post_id, top, source="reviews", brands=(), text=None):
    rest = (1 - top) / 2
    return Candidate(
        post_id=post_id,
        source=source,
        text=text or f"text number {post_id}",
        brands=tuple(brands),
        label="neutral",
        p_negative=rest,
        p_neutral=top,
        p_positive=rest,
    )


def test_least_sure_first_within_a_group():
    chosen = select_for_labelling([cand(1, 0.9), cand(2, 0.4), cand(3, 0.6)], 2)
    assert [c.post_id for c in chosen] == [2, 3]


def test_groups_take_turns_so_one_busy_brand_does_not_take_every_row():
    busy = [cand(i, 0.34 + i / 1000, brands=["Acme"]) for i in range(1, 20)]
    quiet = [cand(100, 0.8, brands=["Zed"]), cand(101, 0.9, source="tickets")]
    chosen = select_for_labelling(busy + quiet, 4)
    ids = [c.post_id for c in chosen]
    assert ids[0] == 1 and {100, 101} <= set(ids) and len(ids) == 4


def test_no_duplicates_by_post_or_text_and_mentions_merge():
    rows = [
        cand(1, 0.4, brands=["Acme"], text="Same words!"),
        cand(1, 0.4, brands=["Zed"], text="Same words!"),  # the same post, a second brand
        cand(2, 0.35, text="same   WORDS"),  # another post, the same text
        cand(3, 0.5),
    ]
    chosen = select_for_labelling(rows, 10)
    assert sorted(c.post_id for c in chosen) in ([1, 3], [2, 3])
    merged = next((c for c in chosen if c.post_id == 1), None)
    if merged is not None:
        assert merged.brands == ("Acme", "Zed")
    assert select_for_labelling([], 5) == []


def test_csv_has_an_empty_label_column(tmp_path):
    path = tmp_path / "sub" / "out.csv"
    write_label_csv(path, [cand(7, 0.5, brands=["Acme", "Zed"], text='a "quoted", text')])
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == COLUMNS
    assert rows[0]["text"] == 'a "quoted", text' and rows[0]["label"] == ""
    assert rows[0]["brands"] == "Acme; Zed" and rows[0]["p_neutral"] == "0.5000"
