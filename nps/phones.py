"""Phone numbers as CRMs key people by them: E.164 ("+37369123456"), read with the
`phonenumbers` library (Google's libphonenumber metadata) from what a contact list or
Telegram gives.

No region is assumed: a number without "+" (or "00") and its country code could be any
country's, so it is refused rather than guessed. Telegram sends a shared contact's number
as digits only, always international, so `from_telegram` puts the "+" back first.
"""

from __future__ import annotations

from typing import Final

# Why a text is not a storable number (a suffix of catalog keys: `ph_err_<reason>`).
NO_COUNTRY: Final = "no_country"  # national format: no "+" and no country code
INVALID: Final = "invalid"  # not a number any country uses
# Longer than any number with spaces and dashes: not worth parsing.
MAX_INPUT = 40


class PhoneError(ValueError):
    """A text that is not a phone number we can store; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize_phone(text: str) -> str:
    """The number in E.164 ("+37369123456"); PhoneError when it cannot be one.

    Spaces, dashes, dots and brackets are allowed ("+373 (69) 12-34-56"); "00" before the
    country code counts as "+".
    """
    raw = text.strip()
    if not raw or len(raw) > MAX_INPUT:
        raise PhoneError(INVALID)
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if not raw.startswith("+"):
        raise PhoneError(NO_COUNTRY)
    # Imported here: the library loads its metadata on import (~25 ms), and only phone
    # features (a shared contact, an /import with a phone column) need it.
    import phonenumbers

    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise PhoneError(INVALID) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def from_telegram(phone_number: str) -> str:
    """A shared contact's number in E.164: Telegram sends it without "+" ("37369123456")."""
    raw = phone_number.strip()
    return normalize_phone(raw if raw.startswith("+") else "+" + raw)


def display_phone(e164: str) -> str:
    """A stored number as people read it ("+373 691 23 456"); as stored if unreadable."""
    import phonenumbers

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_language(e164: str) -> str | None:
    """The most spoken official language of the number's country ("+37369…" → "ro",
    "+7916…" → "ru"); None when the country is unknown. A guess for a person who never
    told their language (CLDR's territory data, through Babel); only the first language
    counts, so a country is never given a second language it may not want."""
    import phonenumbers
    from babel.languages import get_official_languages

    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
    languages = get_official_languages(region, de_facto=True) if region else ()
    return languages[0] if languages else None
