"""Inference engines for the LSTM scoring step: docs/s and agreement with today's eager scorer.

    .venv/bin/python bench/scorer_engines.py MODEL_DIR [--texts 20000] [--chunk 1000]

The corpus's texts are tokenised once with the version's own tokenizer (not timed). Each engine
then scores them as ``Scorer.predict_proba`` does, one pipeline chunk at a time: encode (ids and
lexicon features), forward, softmax of logits / temperature in float64. One torch thread. The
engines take turns chunk by chunk, in each of ``--repeats`` rounds, and each chunk's best time
over the rounds counts, so that a burst from another process on a shared machine is neither
counted nor pinned on one engine.

Engines:
- ``predict_proba (today)``: ``Scorer.predict_proba`` itself (exact-length batches of at most
  ``Scorer.batch_size`` texts, through the module as it is).
- ``eager bN``: length-sorted padded batches of N, packed BiLSTM (what training uses).
- ``exact bN``: exact-length buckets (every text in a batch has the same length, so no
  padding), at most N texts each, through the module (``ExactForward``): ``predict_proba``'s
  arithmetic with this bench's batching.
- ``jit trace bN``: ``torch.jit.trace`` of ``ExactForward``, frozen, on exact-length buckets.
  (``torch.jit.script`` of the module itself fails at its first line: ``self.config``, a
  dataclass, has no TorchScript type; packing and the optional ``features`` would come next.)
- ``onnxruntime bN``: ``ExactForward`` exported with ``torch.onnx.export`` (dynamic batch and
  length axes; ``logaddexp``, which ONNX lacks, written as torch computes it), run by ONNX
  Runtime with one intra-op thread, on exact-length buckets.

Not included: ``torch.compile`` of the unpadded forward (``dynamic=True``) took 40 s to compile
on 2 busy cores (in every process that scores) and scored no faster than eager (2026-11-30).

For each: docs/s, the largest |p - p_today| over all texts and classes, and the number of texts
whose argmax label differs from today's. An engine is adoptable only at max |dp| <= 1e-5 and no
label changed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pipeline.model.artifacts import load_scorer
from pipeline.model.lstm import LSTMClassifier
from pipeline.model.predict import Scorer, batch_logits, encode_all
from pipeline.training.corpus import load_corpus

TOLERANCE = 1e-5
ENCODE_ONLY = "encode only"
IdLists = list[list[int]]
FeatureLists = list[list[tuple[float, ...]]] | None
# ids LongTensor[B, T], lengths FloatTensor[B], features FloatTensor[B, T, F] -> logits [B, C]
Forward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# (ids, features) of one chunk -> logits FloatTensor[N, C] in input order
Engine = Callable[[IdLists, FeatureLists], torch.Tensor]


class ExactForward(nn.Module):
    """``LSTMClassifier.forward`` with one signature for every engine (lengths as floats,
    features always given). On exact-length batches the module takes its unpadded path (no
    packing, no masks), and that is the path ``torch.jit.trace`` and the ONNX export record, so
    the traced graphs are only valid for batches with no padding, which is all they get here.
    """

    def __init__(self, model: LSTMClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, ids: torch.Tensor, lengths: torch.Tensor, features: torch.Tensor
    ) -> torch.Tensor:
        """ids LongTensor[B, T], lengths FloatTensor[B] (all T), features FloatTensor[B, T, F]
        -> logits FloatTensor[B, C]."""
        lexicon = features if self.model.config.lexicon_features else None
        return self.model(ids, lengths.long(), lexicon)  # type: ignore[no-any-return]


def exact_length_engine(forward: Forward, cap: int, num_classes: int, width: int) -> Engine:
    """Batches of at most ``cap`` texts that all have the same length: no padding at all."""

    def run(ids: IdLists, features: FeatureLists) -> torch.Tensor:
        by_length: dict[int, list[int]] = defaultdict(list)
        for i, row in enumerate(ids):
            by_length[len(row)].append(i)
        logits = torch.empty(len(ids), num_classes)  # [N, C]
        with torch.inference_mode():
            for length, members in by_length.items():
                for start in range(0, len(members), cap):
                    chunk = members[start : start + cap]
                    batch_ids = torch.tensor([ids[i] for i in chunk])  # [B, T]
                    batch_features = (
                        torch.tensor([features[i] for i in chunk], dtype=torch.float32)
                        if features is not None
                        else torch.zeros(len(chunk), length, width)
                    )  # [B, T, F]
                    lengths = torch.full((len(chunk),), float(length))  # [B]
                    logits[chunk] = forward(batch_ids, lengths, batch_features)
        return logits

    return run


def traced_forward(model: LSTMClassifier, width: int) -> Forward:
    example = (torch.ones(4, 7, dtype=torch.long), torch.full((4,), 7.0), torch.zeros(4, 7, width))
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(ExactForward(model).eval(), example)
        frozen = torch.jit.freeze(traced)
    return frozen  # type: ignore[no-any-return]


def onnx_forward(model: LSTMClassifier, width: int, workdir: Path) -> Forward:
    import onnxruntime as ort

    path = workdir / "scorer.onnx"
    # ONNX has no logaddexp (the polarity prior uses it): torch's own formula, in ONNX ops.
    torch.onnx.register_custom_op_symbolic("aten::logaddexp", _logaddexp_symbolic, 17)
    example = (torch.ones(4, 7, dtype=torch.long), torch.full((4,), 7.0), torch.zeros(4, 7, width))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            ExactForward(model).eval(),
            example,
            str(path),
            input_names=["ids", "lengths", "features"],
            output_names=["logits"],
            dynamic_axes={
                "ids": {0: "batch", 1: "steps"},
                "lengths": {0: "batch"},
                "features": {0: "batch", 1: "steps"},
                "logits": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def forward(ids: torch.Tensor, lengths: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        feeds = {"ids": ids.numpy(), "lengths": lengths.numpy(), "features": features.numpy()}
        return torch.from_numpy(session.run(None, feeds)[0])

    return forward


def _logaddexp_symbolic(g: Any, a: Any, b: Any) -> Any:
    """max(a, b) + log(1 + exp(-|a - b|)), as torch computes logaddexp (ONNX lacks log1p)."""
    one = g.op("Constant", value_t=torch.tensor(1.0))
    gap = g.op("Neg", g.op("Abs", g.op("Sub", a, b)))
    return g.op("Add", g.op("Max", a, b), g.op("Log", g.op("Add", one, g.op("Exp", gap))))


TODAY = "predict_proba (today)"


def score_chunks(
    scorer: Scorer, engine: Engine | None, chunks: Sequence[Sequence[Sequence[str]]]
) -> np.ndarray:
    """Probabilities float64[N, 3] of every chunk, as Scorer.predict_proba makes them; with
    ``engine`` None, through predict_proba itself."""
    out = []
    for tokens in chunks:
        if engine is None:
            out.append(scorer.predict_proba(tokens))
            continue
        ids, features = encode_all(scorer.vocab, tokens, scorer.max_tokens)
        logits = engine(ids, features).double()  # [n, C]
        out.append(torch.softmax(logits / scorer.temperature, dim=-1).numpy())
    return np.concatenate(out)


def build_engines(scorer: Scorer, caps: Sequence[int], workdir: Path) -> dict[str, Engine | None]:
    model, config = scorer.model, scorer.model.config
    width = max(config.lexicon_features, 1)
    classes = config.num_classes
    engines: dict[str, Engine | None] = {TODAY: None}
    for cap in caps:
        engines[f"eager b{cap}"] = _eager(model, cap)
    exact = ExactForward(model).eval()
    for cap in caps:
        engines[f"exact b{cap}"] = exact_length_engine(exact, cap, classes, width)
    big = max(caps)
    try:
        engines[f"jit trace b{big}"] = exact_length_engine(
            traced_forward(model, width), big, classes, width
        )
    except Exception as err:  # a benchmark reports the failure and goes on
        print(f"jit trace: failed ({type(err).__name__}: {str(err)[:300]})")
    try:
        engines[f"onnxruntime b{big}"] = exact_length_engine(
            onnx_forward(model, width, workdir), big, classes, width
        )
    except Exception as err:
        print(f"onnxruntime: failed ({type(err).__name__}: {str(err)[:300]})")
    return engines


def _eager(model: LSTMClassifier, cap: int) -> Engine:
    def run(ids: IdLists, features: FeatureLists) -> torch.Tensor:
        return batch_logits(model, ids, features, cap)

    return run


def _encode_only(ids: IdLists, features: FeatureLists) -> torch.Tensor:
    return torch.zeros(len(ids), 3)  # the encode that score_chunks does is what is timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=1_000, help="texts per predict_proba call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--caps", default="64,256,512,1024", help="batch sizes to try")
    args = parser.parse_args()
    torch.set_num_threads(1)
    caps = [int(c) for c in args.caps.split(",")]

    scorer = load_scorer(args.model_dir)
    scorer.model.eval()
    texts = load_corpus(None)["text"].tolist()[: args.texts]
    tokens = scorer.tokenize(texts)
    chunks = [tokens[s : s + args.chunk] for s in range(0, len(tokens), args.chunk)]
    ids, _ = encode_all(scorer.vocab, tokens, scorer.max_tokens)
    lengths = np.array([len(row) for row in ids])
    print(
        f"{args.model_dir} ({scorer.version}): {len(texts):,} corpus texts in chunks of "
        f"{args.chunk:,}, one torch thread, best of {args.repeats}; tokens per text: mean "
        f"{lengths.mean():.1f}, max {lengths.max()}, {len(set(lengths.tolist()))} distinct"
    )

    with tempfile.TemporaryDirectory() as workdir:
        engines = build_engines(scorer, caps, Path(workdir))
        reference = score_chunks(scorer, None, chunks)
        labels = reference.argmax(axis=1)
        drift: dict[str, tuple[float, int]] = {}
        for name, engine in engines.items():  # warm-up, and agreement with today's scorer
            probs = score_chunks(scorer, engine, chunks)
            drift[name] = (
                float(np.abs(probs - reference).max()),
                int((probs.argmax(axis=1) != labels).sum()),
            )
        # Per chunk, every engine in turn; each chunk's best time over the rounds counts.
        timed: dict[str, Engine | None] = {**engines, ENCODE_ONLY: _encode_only}
        best = {name: [float("inf")] * len(chunks) for name in timed}
        started = time.perf_counter()
        for _ in range(args.repeats):
            for index, chunk in enumerate(chunks):
                for name, engine in timed.items():
                    began = time.perf_counter()
                    score_chunks(scorer, engine, [chunk])
                    elapsed = time.perf_counter() - began
                    best[name][index] = min(best[name][index], elapsed)
        elapsed = time.perf_counter() - started

    seconds = {name: sum(times) for name, times in best.items()}
    today = len(texts) / seconds[TODAY]
    print(f"\n{'engine':<22} {'docs/s':>8} {'x today':>8} {'max |dp|':>10} {'labels':>7}  ok")
    for name in engines:
        rate = len(texts) / seconds[name]
        gap, changed = drift[name]
        ok = "yes" if gap <= TOLERANCE and changed == 0 else "no"
        print(f"{name:<22} {rate:>8,.0f} {rate / today:>7.2f}x {gap:>10.1e} {changed:>7}  {ok}")
    encode_rate = len(texts) / seconds[ENCODE_ONLY]
    print(f"(encode alone: {encode_rate:,.0f} docs/s; timed rounds took {elapsed:.0f} s)")


if __name__ == "__main__":
    main()
