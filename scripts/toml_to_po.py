"""Convert the old TOML text catalogs into gettext `.po` files (issue 10); safe to re-run.

    .venv/bin/python scripts/toml_to_po.py [--keep]

Reads every `bot/locales/<feature>/<lang>.toml` still present and merges its keys into
`bot/locales/<lang>/LC_MESSAGES/<feature>.po` (a key from TOML replaces the same key in the
.po; keys only in the .po are kept), then deletes the TOML file unless --keep is given. Run
it again when someone added keys to a TOML catalog after the conversion.

The old inline plural syntax `{n:one=ответ|few=ответа|many=ответов|other=ответа}` (or
`{n:answer|answers}`) becomes a gettext plural message: msgid is the key, msgid_plural names
the count (`{n}`), and msgstr[i] is the whole text for the language's gettext form i (the
CLDR category of that form picks the word). A key is plural in every language when any
language's text was plural, because gettext decides plurality by the source message.
"""

from __future__ import annotations

import argparse
import gettext
import re
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "bot" / "locales"
REFERENCE = "en"
# `{n:one=…|other=…}` or `{n:answer|answers}`: a placeholder whose format spec holds a "|".
SPEC = re.compile(r"(?<!\{)\{(\w+):([^{}]*\|[^{}]*)\}")
KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def forms_of(spec: str) -> dict[str, str]:
    """The word per CLDR category an old inline plural spec names."""
    parts = spec.split("|")
    if all("=" not in part for part in parts):
        return {"one": parts[0], "other": parts[1]}
    return {cat.strip(): word for cat, _, word in (p.partition("=") for p in parts)}


def categories_by_form(language: str) -> list[str]:
    """CLDR category of each gettext plural form index of a language (from sample counts)."""
    plural = get_plural(language)
    rule = Locale.parse(language).plural_form
    pick = gettext.c2py(plural.plural_expr)
    found: dict[int, str] = {}
    for n in range(1000):
        found.setdefault(int(pick(n)), rule(n))
    return [found[i] for i in range(plural.num_plurals)]


def comments(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """The file's leading comment lines and the comment lines right above each key."""
    header: list[str] = []
    above: dict[str, list[str]] = {}
    pending: list[str] = []
    seen_key = False
    in_multiline = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if in_multiline:
            if line.count('"""') % 2 == 1:
                in_multiline = False
            continue
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        if not stripped:
            if not seen_key and pending:
                header.extend(pending)
                pending = []
            continue
        match = KEY.match(line)
        if match:
            if not seen_key and pending and not header:
                header, pending = pending, []
            seen_key = True
            above[match.group(1)] = pending
            pending = []
            if line.count('"""') % 2 == 1:
                in_multiline = True
    return header, above


def convert(path: Path, count_vars: dict[str, str], english: dict[str, list[str]]) -> Catalog:
    """The .po catalog (merged with an existing one) of one TOML file."""
    feature, language = path.parent.name, path.stem
    target = LOCALES / language / "LC_MESSAGES" / f"{feature}.po"
    if target.exists():
        with target.open("rb") as fh:
            catalog = read_po(fh, locale=language, domain=feature)
    else:
        catalog = Catalog(
            locale=language,
            domain=feature,
            project="npsbot",
            fuzzy=False,
            last_translator="npsbot maintainers",
            language_team=f"{language} <https://github.com/npsbot>",
            revision_date=datetime.now(UTC),
        )
    with path.open("rb") as fh:
        entries = tomllib.load(fh)
    header, above = comments(path)
    if header and not target.exists():
        catalog.header_comment = "\n".join(f"# {line}" for line in header)
    categories = categories_by_form(language)
    for key, text in entries.items():
        if catalog.get(key) is not None:
            del catalog[key]
        var = count_vars.get(key)
        notes: list[str] = [] if language == REFERENCE else list(english.get(key, []))
        if var is None:
            catalog.add(key, text, user_comments=above.get(key, []), auto_comments=notes)
            continue
        notes.append(f"Plural: the count {{{var}}} picks the form.")
        forms = [render(text, var, category) for category in categories]
        # msgid_plural names the count bare ("n", not "{n}"): braces would make gettext tools
        # check every placeholder against it as a python-brace-format string.
        catalog[key] = Message(
            (key, var), tuple(forms), user_comments=above.get(key, []), auto_comments=notes
        )
    return catalog


def render(text: str, var: str, category: str) -> str:
    """The text with every inline plural spec replaced by its word for a CLDR category."""

    def word(match: re.Match[str]) -> str:
        if match.group(1) != var:
            raise SystemExit(f"two counts in one message ({match.group(1)}, {var}): split it")
        forms = forms_of(match.group(2))
        return forms.get(category, forms["other"])

    return SPEC.sub(word, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="do not delete the TOML files")
    args = parser.parse_args()
    paths = sorted(LOCALES.glob("*/*.toml"))
    if not paths:
        print("no TOML catalogs left to convert")
        return 0
    count_vars: dict[str, str] = {}
    for path in paths:
        with path.open("rb") as fh:
            for key, text in tomllib.load(fh).items():
                for name, _ in SPEC.findall(text):
                    if count_vars.setdefault(key, name) != name:
                        raise SystemExit(f"{path}: {key} counts two things: split it")
    # A key that was plural in an earlier run stays plural (its .po entry names the count).
    for po in LOCALES.glob(f"{REFERENCE}/LC_MESSAGES/*.po"):
        with po.open("rb") as fh:
            for message in read_po(fh):
                if message.pluralizable:
                    count_vars.setdefault(message.id[0], message.id[1])
    # English text per key: a note for translators, who see only keys as msgids in Poedit.
    english: dict[str, list[str]] = {}
    for path in paths:
        if path.stem == REFERENCE:
            with path.open("rb") as fh:
                for key, text in tomllib.load(fh).items():
                    var = count_vars.get(key)
                    if var is None:
                        english[key] = [f"en: {text}"]
                        continue
                    english[key] = [f"en ({c}): {render(text, var, c)}" for c in ("one", "other")]
    for path in paths:
        catalog = convert(path, count_vars, english)
        target = LOCALES / path.stem / "LC_MESSAGES" / f"{path.parent.name}.po"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as fh:
            write_po(fh, catalog, width=0, omit_header=False)
        print(f"{path.relative_to(ROOT)} -> {target.relative_to(ROOT)}")
        if not args.keep:
            path.unlink()
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
