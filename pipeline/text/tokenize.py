"""spaCy tokenisation and the one preprocessing function that training and scoring share.

Three steps, each pinned per model version so that a model always sees tokens made the way it
was trained, whatever the defaults in this file become later:

1. ``normalize_text`` (version in `TextConfig.normalization`);
2. the spaCy tokenizer of `make_nlp` (its rules are saved with ``nlp.to_disk`` into the model
   version's ``tokenizer/`` and come back with ``spacy.load``);
3. `model_tokens`: what the model sees of each token (`TextConfig`, saved in ``config.json``).

Tokenizer rules on top of spaCy's English ones: a hashtag stays one token ("#UnitedAirlinesSucks"),
an emoticon stays one token even when elongated or glued to a word (":-(((", "great:)", "<333"),
a run of "!"/"?" is one token ("!!!!"). spaCy's own exceptions already keep ":)", "<3", emoji and
"n't" ("don't" -> "do", "n't").

Model tokens: URLs, e-mail addresses, user handles (except the configured brand handles) and
numbers become placeholders; text is lower-cased; runs of one character are capped ("soooo" ->
"soo", "!!!!" -> "!!"); "dont"/"cant" give "n't" like "don't"/"can't"; a hashtag gives the words
of its camel case ("#UnitedAirlinesSucks" -> "united", "airlines", "sucks"): the words share
their embeddings with the same words outside hashtags, whereas whole hashtags are too rare to
learn (most would fall below the vocabulary's min_freq). ``hashtags="both"`` or ``"keep"`` choose
otherwise for a new model.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from itertools import chain
from typing import Any, cast

import spacy
from spacy.attrs import IS_SPACE, LIKE_EMAIL, LIKE_NUM, LIKE_URL, LOWER, ORTH
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_prefix_regex, compile_suffix_regex
from spacy.vocab import Vocab

from pipeline.text.normalize import LATEST, VERSIONS, normalize_text

URL, EMAIL, USER, NUM = "<url>", "<email>", "<user>", "<num>"
HASHTAG_MODES = ("keep", "split", "both")
RULES = "sentimon-2"  # recorded in the saved pipeline's meta.json, for people reading it

# The handles of the bundled configs/brands.toml (a test keeps the two in step). A new model keeps
# them as tokens: a post addressed to a brand reads differently from one addressed to a person.
BRAND_HANDLES = (
    "@americanair",
    "@apple",
    "@coachella",
    "@google",
    "@jetblue",
    "@southwestair",
    "@united",
    "@usairways",
    "@virginamerica",
)

# Emoticons, written without flags: spaCy saves the pattern string, not the compiled flags.
_EYES, _NOSE, _MOUTH = r"[:;=8xX]", r"[\-o*'^]?", r"[)\](\[dDpPoO0/\\|*3}{@]+"
_EMOTICON = (
    rf"[<>}}{{\])]?{_EYES}{_NOSE}{_MOUTH}"  # :) :-((( ;P >:( =D xD
    r"|[)(\]\[D]+[\-']?[:;=]"  # ): D: (;
    r"|<+/?3+"  # <3 <333 </3
    r"|[\^\-;>T]_+[\^\-;<T]"  # ^_^ -__- ;_; >_< T_T
)
# Whole chunks kept as one token (checked before any prefix or suffix is split off).
_TOKEN_MATCH = rf"(?:#\w+|{_EMOTICON}|[!?]{{2,}})$"
# Split off the end of a word: "great:)" -> "great", ":)"; "why??" -> "why", "??".
_SUFFIXES = [r"(?<=\w)[:;=][\-o']?[)\](\[dDpP/|3*]+", r"[!?]{2,}"]
# "#" stays a prefix only when no word follows, so "#United!" keeps "#United" together.
_HASH_PREFIX = r"#(?!\w)"

_ELONGATED_WORD = re.compile(r"(\w)\1{2,}")
_ELONGATED_ANY = re.compile(r"(\S)\1{2,}")
# Camel-case parts of an ASCII hashtag: "USAirways" -> US, Airways; "Flight1549" -> Flight, 1549.
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+")

# What a model version saved before a field existed did: missing fields read as these.
_LEGACY: dict[str, Any] = {
    "normalization": 1,
    "keep_handles": (),
    "hashtags": "keep",
    "cap_symbol_runs": False,
    "unify_negations": False,
}


@dataclass(frozen=True)
class TextConfig:
    """How a Doc becomes model tokens; saved with each model version (``config.json``)."""

    lowercase: bool = True
    mask_urls: bool = True
    mask_emails: bool = True
    mask_users: bool = True
    mask_numbers: bool = True
    max_repeat: int = 2  # "soooo" -> "soo": elongation is emphasis, not a new word
    normalization: int = LATEST  # pipeline.text.normalize version
    keep_handles: tuple[str, ...] = BRAND_HANDLES  # not masked to <user> (lower-cased)
    hashtags: str = "split"  # "keep": "#unitedsucks"; "split": united, sucks; "both": all three
    cap_symbol_runs: bool = True  # max_repeat also caps "!!!!" and ":)))))", not only letters
    unify_negations: bool = True  # "dont" -> do, n't (spaCy makes it "do", "nt")

    def __post_init__(self) -> None:
        if self.hashtags not in HASHTAG_MODES:
            raise ValueError(f"hashtags={self.hashtags!r}: use one of {HASHTAG_MODES}")
        if self.normalization not in VERSIONS:
            raise ValueError(f"normalization={self.normalization}: use one of {VERSIONS}")
        if self.max_repeat < 0:
            raise ValueError("max_repeat must be 0 (no cap) or more")
        handles = tuple(sorted({h.strip().lower() for h in self.keep_handles if h.strip()}))
        object.__setattr__(self, "keep_handles", handles)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["keep_handles"] = list(self.keep_handles)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextConfig:
        """Read a saved config; a field it lacks means what that version of sentimon did."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown text settings {sorted(unknown)}: newer sentimon needed")
        values = {**_LEGACY, **data}
        values["keep_handles"] = tuple(values["keep_handles"])
        return cls(**values)


# The lexeme attributes sentimon reads: LOWER (brand matching's PhraseMatcher) and the four
# flags of `token_forms`.
READ_ATTRIBUTES = frozenset({LOWER, IS_SPACE, LIKE_URL, LIKE_EMAIL, LIKE_NUM})


def read_attributes_only(nlp: Language) -> Language:
    """``nlp`` with a vocabulary that computes, for each string it meets first, only the lexeme
    attributes sentimon reads (``READ_ATTRIBUTES``).

    spaCy's English vocabulary computes 23 (shape, prefix, suffix, norm, a dozen flags), four
    of them strings it keeps: ~5 us a post of a stream of tweets, 8% of tokenising them
    (docs/performance.md), and a StringStore that grows a third faster. The tokens are the
    same; an attribute not computed reads as empty or False, so a new reader of one adds it
    here. Not saved with the pipeline: `make_nlp` and `load_scorer` apply it.
    """
    vocab = cast(Any, nlp.vocab)  # lex_attr_getters is a public attribute its stubs omit
    getters = vocab.lex_attr_getters
    vocab.lex_attr_getters = {a: get for a, get in getters.items() if a in READ_ATTRIBUTES}
    return nlp


def make_nlp() -> Language:
    """A blank English pipeline with the social-media tokenizer rules above (no model download).

    ``nlp.to_disk`` saves these rules (as pattern strings) and ``spacy.load`` restores them, so
    a saved pipeline does not depend on this function any more.
    """
    nlp = read_attributes_only(spacy.blank("en"))
    tokenizer = cast(Tokenizer, nlp.tokenizer)
    prefixes = [_HASH_PREFIX if p == "#" else p for p in nlp.Defaults.prefixes or ()]
    tokenizer.prefix_search = compile_prefix_regex(prefixes).search
    suffixes = [*_SUFFIXES, *(nlp.Defaults.suffixes or ())]
    tokenizer.suffix_search = compile_suffix_regex(suffixes).search
    tokenizer.token_match = re.compile(_TOKEN_MATCH).match
    nlp.meta["sentimon_rules"] = RULES
    return nlp


def split_hashtag(body: str) -> list[str]:
    """Words of a hashtag without its "#": camel case and digits split, ASCII only.

    "UnitedAirlinesSucks" -> United, Airlines, Sucks; "iPhone6" -> iPhone, 6 (a lone lower-case
    letter stays with the capitalised word after it); "neveragain" and "日本" stay whole.
    """
    if not _ASCII_WORD.fullmatch(body):
        return [body] if body else []
    words: list[str] = []
    for part in body.split("_"):
        pieces = _CAMEL.findall(part)
        for piece in pieces:
            if words and len(words[-1]) == 1 and words[-1].islower() and piece[:1].isupper():
                words[-1] += piece
            else:
                words.append(piece)
    return words


class _Forms(dict[int, tuple[str, ...]]):
    """Model tokens of each distinct token (by its ORTH hash), computed once per text.

    Every rule depends on the token's text alone, so the work is per vocabulary entry, not per
    token: a dict lookup is all most tokens cost.
    """

    _LIMIT = 200_000  # entries (~40 MB); a long-running process must not grow without bound

    def __init__(self, vocab: Vocab, config: TextConfig) -> None:
        super().__init__()
        self.vocab = vocab
        self.config = config

    def __missing__(self, orth: int) -> tuple[str, ...]:
        if len(self) >= self._LIMIT:
            self.clear()
        forms = token_forms(self.vocab, self.vocab.strings[orth], self.config)
        self[orth] = forms
        return forms


def token_forms(vocab: Vocab, text: str, config: TextConfig) -> tuple[str, ...]:
    """What the model sees for one spaCy token's text: usually one string, none or several."""
    lex = vocab[text]
    if lex.is_space:
        return ()
    if config.mask_urls and lex.like_url:
        return (URL,)
    if config.mask_emails and lex.like_email:
        return (EMAIL,)
    if text.startswith("@") and len(text) > 1:
        if text.lower() in config.keep_handles:
            return (text.lower(),)
        if config.mask_users:
            return (USER,)
    if config.hashtags != "keep" and text.startswith("#") and len(text) > 1:
        words = tuple(_word_form(vocab, w, config) for w in split_hashtag(text[1:]))
        return (_word_form(vocab, text, config), *words) if config.hashtags == "both" else words
    return (_word_form(vocab, text, config),)


def _word_form(vocab: Vocab, text: str, config: TextConfig) -> str:
    if config.mask_numbers and vocab[text].like_num:
        return NUM
    if config.lowercase:
        text = text.lower()
    if config.unify_negations and text in ("nt", "NT", "Nt"):
        return "n't"
    if config.max_repeat:
        elongated = _ELONGATED_ANY if config.cap_symbol_runs else _ELONGATED_WORD
        text = elongated.sub(lambda m: m.group(1) * config.max_repeat, text)
    return text


_CACHES: dict[tuple[int, TextConfig], _Forms] = {}
_CACHES_LOCK = threading.RLock()  # re-entered: a chunk cache makes its forms cache


def _forms_for(vocab: Vocab, config: TextConfig) -> _Forms:
    # Keyed by the vocab too: an ORTH hash is resolved in the StringStore of the Doc's vocab.
    # The cache holds the vocab, so its id cannot be reused while the entry exists.
    key = (id(vocab), config)
    cache = _CACHES.get(key)
    if cache is None:
        with _CACHES_LOCK:
            _forget_oldest(_CACHES)
            cache = _CACHES.setdefault(key, _Forms(vocab, config))
    return cache


_MAX_PIPELINES = 8  # caches kept; a process uses one or two (the active model, a training run)


def _forget_oldest(caches: dict[Any, Any]) -> None:
    while len(caches) >= _MAX_PIPELINES:
        caches.pop(next(iter(caches)), None)


def model_tokens(doc: Doc, config: TextConfig) -> list[str]:
    """Tokens of one Doc, as the model sees them (whitespace tokens dropped)."""
    forms = _forms_for(doc.vocab, config)
    return list(chain.from_iterable(map(forms.__getitem__, doc.to_array(ORTH).tolist())))


class _ChunkForms(dict[str, tuple[str, ...]]):
    """Model tokens of each space-separated chunk of text, made by the pipeline's tokenizer.

    spaCy's tokenizer works chunk by chunk (it splits on spaces first and caches each chunk's
    tokens), so the tokens of a text are those of its chunks in order: this skips building a
    Doc for text whose chunks have been seen before, which is most of any stream of posts.
    """

    _LIMIT = 200_000

    def __init__(self, nlp: Language, config: TextConfig) -> None:
        super().__init__()
        self.tokenizer = cast(Tokenizer, nlp.tokenizer)
        self.forms = _forms_for(nlp.vocab, config)

    def __missing__(self, chunk: str) -> tuple[str, ...]:
        if len(self) >= self._LIMIT:
            self.clear()
        orths = self.tokenizer(chunk).to_array(ORTH).tolist()
        forms = tuple(chain.from_iterable(map(self.forms.__getitem__, orths)))
        self[chunk] = forms
        return forms


_CHUNK_CACHES: dict[tuple[int, TextConfig], tuple[Language, _ChunkForms]] = {}


def text_tokens(nlp: Language, normalized: str, config: TextConfig) -> list[str]:
    """``model_tokens`` of a normalised text, the same as ``model_tokens(nlp(normalized))``."""
    if nlp.pipe_names:  # components could change the Doc: no shortcut then
        return model_tokens(nlp(normalized), config)
    forms = _chunk_forms(nlp, config).__getitem__
    return list(chain.from_iterable(map(forms, normalized.split(" "))))


def docs_tokens(docs: Sequence[Doc], config: TextConfig) -> list[list[str]]:
    """``model_tokens`` of each Doc of one pipeline (its forms cache is looked up once).

    For Docs made already (the pipeline makes them for brand matching), reading their ORTH
    array costs ~10 us a post; ``text_tokens`` would tokenise the text again, ~60 us a post on
    text it has not seen (bench/tokenize_speed.py).
    """
    if not docs:
        return []
    forms = _forms_for(docs[0].vocab, config).__getitem__
    return [list(chain.from_iterable(map(forms, doc.to_array(ORTH).tolist()))) for doc in docs]


def _chunk_forms(nlp: Language, config: TextConfig) -> _ChunkForms:
    key = (id(nlp), config)
    entry = _CHUNK_CACHES.get(key)
    if entry is None:
        # The entry holds the nlp, so that its id cannot be reused while the entry exists.
        with _CACHES_LOCK:
            _forget_oldest(_CHUNK_CACHES)
            entry = _CHUNK_CACHES.setdefault(key, (nlp, _ChunkForms(nlp, config)))
    return entry[1]


def make_docs(
    nlp: Language,
    texts: Iterable[str],
    config: TextConfig | None = None,
    batch_size: int = 256,
    n_process: int = 1,
) -> Iterator[Doc]:
    """Normalise (as ``config`` says; default: the latest rules) then tokenise texts in order.

    ``nlp.pipe`` batches the work. ``n_process`` > 1 starts worker processes; for this
    tokenizer-only pipeline that is slower than one process (sending the Docs back costs more
    than making them, see docs/preprocessing.md), so nothing here uses it by default.
    """
    version = config.normalization if config is not None else LATEST
    return _pipe(nlp, (normalize_text(t, version) for t in texts), batch_size, n_process)


def make_texts_and_docs(
    nlp: Language, texts: Iterable[str], config: TextConfig, batch_size: int = 256
) -> tuple[list[str], list[Doc]]:
    """The normalised texts and their Docs (``doc.text`` rebuilds a text token by token, which
    costs as much as tokenising it: callers that need the text as well take it from here)."""
    normalized = [normalize_text(t, config.normalization) for t in texts]
    return normalized, list(_pipe(nlp, normalized, batch_size, 1))


def _pipe(nlp: Language, texts: Iterable[str], batch_size: int, n_process: int) -> Iterator[Doc]:
    if not nlp.pipe_names and n_process == 1:
        # A pipeline that is its tokenizer alone: the tokenizer's own batched pipe gives the
        # same Docs without Language.pipe's per-Doc overhead (~7% of the preprocessing time).
        return cast(Tokenizer, nlp.tokenizer).pipe(texts, batch_size=batch_size)
    return nlp.pipe(texts, batch_size=batch_size, n_process=n_process)


def preprocess(
    nlp: Language, texts: Iterable[str], config: TextConfig, batch_size: int = 256
) -> list[list[str]]:
    """Texts -> model tokens. Training, evaluation and scoring all go through here."""
    if nlp.pipe_names:
        return [model_tokens(doc, config) for doc in make_docs(nlp, texts, config, batch_size)]
    # Exactly the tokens of the Docs above (a test checks it on the corpus), ~3x faster.
    return [text_tokens(nlp, normalize_text(t, config.normalization), config) for t in texts]
