"""Amazon Translate for the chapters' cue texts (opt-in with a ``target_language`` other than
``en``).

Errors after the client's adaptive retries (``TRAILER_TRANSLATE_RETRIES``):

* throttling, 5xx, network -> :class:`TranslateUnavailableError` (transient);
* no credentials, access denied -> :class:`~shared.errors.ConfigurationError`;
* a language pair Translate refuses -> :class:`UnsupportedLanguageError` (permanent).

Cost: Translate bills characters sent (standard real-time translation, USD 15 per million
characters, aws.amazon.com/translate/pricing; ``TRAILER_TRANSLATE_PRICE_PER_CHAR_USD``).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from shared.errors import ConfigurationError, PermanentError, TransientError

#: ISO 639-1 codes Amazon Translate supports ("Supported languages and language codes" in the
#: Amazon Translate Developer Guide; regional variants such as ``fr-CA`` are not ISO 639-1).
_CODES = """af am ar az bg bn bs ca cs cy da de el en es et fa fi fr ga gu ha he hi hr ht hu hy id
    is it ja ka kk kn ko lt lv mk ml mn mr ms mt nl no pa pl ps pt ro ru si sk sl so sq sr
    sv sw ta te th tl tr uk ur uz vi zh"""
SUPPORTED_LANGUAGES = frozenset(_CODES.split())
_THROTTLE = {"ThrottlingException", "TooManyRequestsException", "ServiceUnavailableException"}
_AUTH = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
}
_LANGUAGE = {"UnsupportedLanguagePairException", "DetectedLanguageLowConfidenceException"}


class UnsupportedLanguageError(PermanentError):
    """``target_language`` is not an ISO 639-1 code Amazon Translate supports."""


class TranslateUnavailableError(TransientError):
    """Amazon Translate kept throttling or failing after the client's retries."""


def check_language(code: str) -> str:
    """``code`` when it is ``en`` or a supported ISO 639-1 code.

    Raises:
        UnsupportedLanguageError: anything else (the message says what is supported).
    """
    if code in SUPPORTED_LANGUAGES:
        return code
    raise UnsupportedLanguageError(
        f"target_language {code!r} is not an ISO 639-1 code Amazon Translate supports "
        f"(e.g. en, de, es, fr, ja, zh; {len(SUPPORTED_LANGUAGES)} in all)"
    )


class Translator:
    """Translates English texts with one ``TranslateText`` call per distinct text, counting the
    characters sent.

    Args:
        client: a boto3 ``translate`` client.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.characters = 0
        self.calls = 0

    def translate(self, texts: list[str], target: str) -> list[str]:
        """``texts`` in ``target`` (``en``: unchanged, no call).

        Raises:
            UnsupportedLanguageError, TranslateUnavailableError, ConfigurationError.
        """
        check_language(target)
        if target == "en":
            return list(texts)
        done: dict[str, str] = {}
        for text in texts:
            if text in done or not text.strip():
                done.setdefault(text, text)
                continue
            done[text] = self._one(text, target)
        return [done[t] for t in texts]

    def _one(self, text: str, target: str) -> str:
        self.calls += 1
        self.characters += len(text)
        try:
            answer = self.client.translate_text(
                Text=text, SourceLanguageCode="en", TargetLanguageCode=target
            )
        except NoCredentialsError as exc:
            raise ConfigurationError(
                "no AWS credentials for Amazon Translate (aws configure, AWS_PROFILE or a role)"
            ) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _THROTTLE or status >= 500:
                raise TranslateUnavailableError(f"Amazon Translate: {code}") from exc
            if code in _LANGUAGE:
                raise UnsupportedLanguageError(f"Amazon Translate: {code}: {exc}") from exc
            raise ConfigurationError(f"Amazon Translate: {code}: {exc}") from exc
        except BotoCoreError as exc:
            raise TranslateUnavailableError(f"Amazon Translate: {exc}") from exc
        return str(answer["TranslatedText"])
