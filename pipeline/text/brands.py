"""Brand matching with spaCy's PhraseMatcher on lower-cased tokens.

Matching whole tokens (not substrings) is what keeps "disunited" from counting as United; exclude
phrases remove a brand's matches that they overlap ("united states" is not United Airlines).
Case and punctuation around a phrase do not matter ("UNITED airlines!", "(@united)"), a
multi-word phrase also matches hyphenated ("united-airlines"), and the camel-case words of a
hashtag are matched as a phrase of their own ("#UnitedAirlinesSucks" mentions United Airlines,
"#UnitedStates" does not). Japanese, Chinese and Korean put no space between words, so in a
text written in them a change of script also ends a word ("Sonoraのヘッドホン" mentions Sonora).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from pipeline.text.brand_file import BrandCatalog
from pipeline.text.normalize import normalize_text
from pipeline.text.tokenize import split_hashtag

_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
# Kana, CJK ideographs and Hangul: scripts written without spaces between words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff66-\uff9f"
_CJK_CHAR = re.compile(f"[{_CJK}]")
# Where a CJK character meets a Latin letter or digit, either way round.
_SCRIPT_CHANGE = re.compile(f"(?<=[{_CJK}])(?=[A-Za-z0-9@#])|(?<=[A-Za-z0-9])(?=[{_CJK}])")


class BrandMatcher:
    """Finds the configured brands a Doc mentions.

    Build it with the nlp whose tokenizer makes the Docs it is given (the model version's):
    patterns and texts are then cut into tokens alike.
    """

    def __init__(self, nlp: Language, catalog: BrandCatalog) -> None:
        self.catalog = catalog
        self._nlp = nlp
        self._match = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._exclude = PhraseMatcher(nlp.vocab, attr="LOWER")
        # Every lower-cased token of every pattern: a hashtag none of whose words is here
        # cannot mention a brand, and most hashtags are like that.
        self._words: set[str] = set()
        for brand in catalog.brands:
            patterns = [_pattern(nlp, p) for p in brand.patterns()]
            self._match.add(brand.name, patterns)
            self._words.update(t.lower_ for doc in patterns for t in doc)
            if brand.exclude:
                self._exclude.add(brand.name, [_pattern(nlp, p) for p in brand.exclude])

    def match(
        self, doc: Doc, hints: Iterable[str] = (), text: str | None = None
    ) -> tuple[str, ...]:
        """Brand names mentioned in ``doc`` plus those a source supplied, sorted, unique.

        ``text`` is ``doc.text`` when the caller has it (rebuilding it from the Doc is slow).
        """
        found = self._names(doc) | {self.catalog.canonical(h) for h in hints if h.strip()}
        text = doc.text if text is None else text
        if _CJK_CHAR.search(text):  # rare: the cost of a second tokenisation is theirs alone
            found |= self._names(self._nlp.make_doc(_SCRIPT_CHANGE.sub(" ", text)))
        if "#" in text:
            for body in _HASHTAG.findall(text):
                words = [w.lower() for w in split_hashtag(body)]
                if not self._words.isdisjoint(words):
                    found |= self._names(Doc(doc.vocab, words=words))
        return tuple(sorted(found))

    def _names(self, doc: Doc) -> set[str]:
        matches = self._match(doc)
        if not matches:
            return set()
        strings = doc.vocab.strings
        excluded: dict[str, list[tuple[int, int]]] = {}
        for key, start, end in self._exclude(doc):
            excluded.setdefault(strings[key], []).append((start, end))
        found = set()
        for key, start, end in matches:
            name = strings[key]
            if not any(s < end and start < e for s, e in excluded.get(name, ())):
                found.add(name)
        return found


def _pattern(nlp: Language, phrase: str) -> Doc:
    return nlp.make_doc(normalize_text(phrase))
