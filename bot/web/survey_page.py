"""The survey link's pages as HTML: the question as big buttons (0–10; CSAT's 1–5 ⭐, CES's
1–7 in one row), a follow-up
with its text box, the thanks, and the one-line pages for everything else.

Server-rendered forms that work without JavaScript (there is none), one inline stylesheet
allowed by its hash in the Content-Security-Policy, nothing loaded from anywhere (no
fonts, no images), laid out for a 360-pixel phone first. Texts come from the catalogs
(HTML whose values are escaped, bot/i18n.py); everything else put in a page is escaped
here.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from urllib.parse import urlsplit

from handlers.respondent_messages import score_label
from handlers.texts import TextsLike
from handlers.web_survey import IMPROVE, MAX_TEXT, QUESTION, THANKS, WHY, LinkPage

CSS = """
:root{color-scheme:light dark;--fg:#1d2126;--muted:#5b6570;--bg:#f4f5f7;--card:#fff;
--line:#d5d9df;--accent:#2563eb;--accent-fg:#fff;--pick:#e8effd}
@media (prefers-color-scheme:dark){:root{--fg:#e8eaed;--muted:#a3acb6;--bg:#15181c;
--card:#1f2328;--line:#3a414a;--accent:#6d9bff;--accent-fg:#0b1020;--pick:#253047}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);
font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:640px;margin:0 auto;padding:16px 12px 32px}
.brand{margin:0 0 14px;font-weight:600;color:var(--muted);font-size:15px;
letter-spacing:.02em}
.card{background:var(--card);border:1px solid var(--line);border-radius:14px;
padding:20px 14px}
h1{font-size:21px;line-height:1.3;margin:0 0 18px;font-weight:650}
.lead{margin:0 0 12px;color:var(--muted);white-space:pre-line}
.text{white-space:pre-line}
p.text{margin:0}
.scale{display:flex;flex-wrap:wrap;gap:6px;justify-content:center;margin:0}
.scale button{flex:0 0 calc((100% - 30px) / 6);min-height:52px;padding:0;border-radius:12px;
border:1px solid var(--line);background:var(--pick);color:var(--fg);font:inherit;
font-size:20px;font-weight:600;cursor:pointer;touch-action:manipulation}
.scale button:hover,.scale button:focus-visible{border-color:var(--accent);
outline:2px solid var(--accent);outline-offset:1px}
.ends{display:flex;justify-content:space-between;gap:12px;margin-top:12px;
color:var(--muted);font-size:14px}
.ends span:last-child{text-align:right}
.chip{display:inline-block;margin:0 0 14px;padding:3px 10px;border-radius:999px;
background:var(--pick);color:var(--muted);font-size:14px}
label{display:block;margin:0 0 6px;color:var(--muted);font-size:14px}
textarea{display:block;width:100%;min-height:128px;padding:12px;border-radius:12px;
border:1px solid var(--line);background:var(--bg);color:var(--fg);font:inherit;resize:vertical}
textarea:focus{outline:2px solid var(--accent);outline-offset:1px}
.actions{display:flex;gap:10px;margin-top:14px}
.actions button,.button{flex:1;display:inline-block;min-height:50px;padding:12px 16px;
border-radius:12px;border:1px solid var(--line);background:transparent;color:var(--fg);
font:inherit;font-weight:600;text-align:center;text-decoration:none;cursor:pointer}
.actions .primary,.button{background:var(--accent);border-color:var(--accent);
color:var(--accent-fg)}
.button{margin-top:18px;width:100%}
@media (min-width:600px){.scale button{flex-basis:calc((100% - 60px) / 11)}
main{padding-top:48px}.card{padding:28px}}
.scale.short button{flex:1 1 0;min-width:0}
""".strip()
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
# No script, no frame, nothing from another host; forms post only here.
CSP = (
    f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    # The token in the address must not leave with a click on the review link.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
}


def _document(language: str, brand: str, body: str) -> str:
    """The page around its card."""
    name = escape(brand)
    return (
        "<!doctype html>\n"
        f'<html lang="{escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{name}</title><style>{CSS}</style></head>"
        f'<body><main><p class="brand">{name}</p><div class="card">{body}</div>'
        "</main></body></html>\n"
    )


def _hidden(form_value: str, step: str) -> str:
    return (
        f'<input type="hidden" name="csrf" value="{escape(form_value)}">'
        f'<input type="hidden" name="step" value="{escape(step)}">'
    )


def _question(page: LinkPage, form_value: str, greeting: str) -> str:
    texts, scale = page.texts, page.scale
    buttons = "".join(
        f'<button type="submit" name="score" value="{n}">{escape(score_label(page.kind, n))}'
        "</button>"
        for n in scale.scores()
    )
    # CSAT's five and CES's seven share one row on a phone; 0–10 wraps after six.
    row = "scale short" if len(scale.scores()) <= 7 else "scale"
    return (
        f'<p class="lead">{greeting}</p>'
        f'<form method="post">{_hidden(form_value, "score")}'
        f'<h1 id="q">{texts("question", brand=page.brand)}</h1>'
        f'<div class="{row}" role="group" aria-labelledby="q">{buttons}</div>'
        f'<div class="ends"><span>{scale.lowest} — {texts("web_scale_low")}</span>'
        f"<span>{scale.highest} — {texts('web_scale_high')}</span></div></form>"
    )


def _shown(page: LinkPage) -> str:
    """The score as its button read ("4 ⭐" on CSAT)."""
    return "" if page.score is None else score_label(page.kind, page.score)


def _follow_up(page: LinkPage, form_value: str) -> str:
    texts, group = page.texts, page.group
    return (
        f'<p class="chip">{texts("your_answer", score=_shown(page))}</p>'
        f'<form method="post">{_hidden(form_value, page.page)}'
        f'<h1 id="q" class="text">{texts(f"{page.page}_{group}", brand=page.brand)}</h1>'
        f'<label for="text">{texts("web_answer_label")}</label>'
        f'<textarea id="text" name="text" maxlength="{MAX_TEXT}" rows="5"></textarea>'
        '<div class="actions">'
        f'<button type="submit" name="action" value="send" class="primary">'
        f"{texts('web_send')}</button>"
        f'<button type="submit" name="action" value="skip">{texts("skip")}</button>'
        "</div></form>"
    )


def _thanks(page: LinkPage) -> str:
    texts = page.texts
    key = f"thanks_{page.group}"
    link = ""
    url = page.review_url
    if page.group == "promoter" and url and urlsplit(url).scheme in ("http", "https"):
        key = "thanks_promoter_review"
        link = (
            f'<a class="button" href="{escape(url)}" rel="noopener noreferrer">'
            f"{texts('review_button')}</a>"
        )
    return f'<p class="text">{texts(key, name=page.name, brand=page.brand)}</p>{link}'


def page_html(page: LinkPage, form_value: str, first_name: str | None) -> str:
    """The page for where the answer stands (its forms carry `form_value`)."""
    texts = page.texts
    if page.page == QUESTION:
        if first_name:
            greeting = texts("greeting", name=first_name, brand=page.brand)
        else:
            greeting = texts("greeting_anonymous", brand=page.brand)
        body = _question(page, form_value, greeting)
    elif page.page in (WHY, IMPROVE):
        body = _follow_up(page, form_value)
    elif page.page == THANKS:
        body = _thanks(page)
    else:
        return message_html(texts, page.brand, _MESSAGES.get(page.page, "web_link_gone"))
    return _document(texts.language, page.brand, body)


# The one-line pages of LinkPage's other states.
_MESSAGES = {"answered": "web_already_answered", "gone": "web_link_gone", "busy": "web_busy"}


def message_html(texts: TextsLike, brand: str, key: str, **values: object) -> str:
    """A page with one sentence: a used, expired or invalid link, a refused form."""
    return _document(texts.language, brand, f'<p class="text">{texts(key, **values)}</p>')
