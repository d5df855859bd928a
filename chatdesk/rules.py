"""The rule check every outgoing message passes before it is sent or scheduled.

Marketplaces moderate seller messages: links, e-mails, phones, messengers, payment details and
external promo codes get a message blocked and (on WB) the seller fined. No other tool checks
this before sending, so chatdesk does, in one place, for the composer, follow-ups and the CLI.

Two kinds of findings:

* ``hard`` - the marketplace's own limits (length, attachment type/size, a finished YM chat).
  Sending would only fail, so they cannot be overridden.
* ``warn`` - content the marketplace is likely to block. The seller may override on purpose
  (the override is recorded by the caller), because a detector can be wrong.

Every content rule is a row of :data:`CONTENT_RULES`: a code, a default reason and a finder
that yields spans in the *original* text, so the UI can highlight exactly what is wrong. The
detectors prefer missing an exotic obfuscation over flagging prices, order numbers, sizes or
dates, which ordinary seller replies are full of.

Decisions worth knowing:

* Links to the marketplace's own site (``wildberries.ru`` in a WB chat) are not flagged; a
  link to another marketplace is. "на сайте Wildberries" is fine, "на нашем сайте" is not.
* ИНН/БИК are flagged only with a number next to them: "ИНН продавца указан в карточке" is
  an ordinary sentence.
* СБП is flagged only together with a phone/card number or "по номеру": WB checkout itself
  offers СБП, so mentioning it is not a payment detail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from chatdesk import marketplaces
from chatdesk.model import FileSpec, Limits

Severity = Literal["hard", "warn"]
MiB = 1024 * 1024

# Hard limits, names, closed statuses and own domains are the marketplace rows' (one table,
# chatdesk.marketplaces, which cites the spec section of every number); the rule check, the
# connectors and the sandbox-free TUI all read the same rows. The names below are views of it
# kept for the code that imports them from here.
LIMITS: dict[tuple[str, str], Limits] = {
    (m.id, kind): limits for m in marketplaces.MARKETPLACES.values() for kind, limits in m.limits.items()
}
LABELS = {m.id: m.name for m in marketplaces.MARKETPLACES.values()}
# Chat statuses in which the marketplace refuses new seller messages.
CLOSED_STATUSES = {m.id: m.closed_statuses for m in marketplaces.MARKETPLACES.values() if m.closed_statuses}
# The marketplace's own domains: a link there keeps the buyer on the platform.
OWN_DOMAINS = {m.id: m.own_domains for m in marketplaces.MARKETPLACES.values()}
_EXT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
}
# How a file type is named to a seller, in the order they are listed.
_TYPE_NAMES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "application/pdf": "PDF",
}


@dataclass(frozen=True)
class Finding:
    """One problem: ``start``/``end`` index the offending text (``None`` for file/chat problems)."""

    code: str
    severity: Severity
    reason: str
    start: int | None = None
    end: int | None = None


# What the rule check knows of an attached file: chatdesk.model.FileSpec (name, size, type).
FileInfo = FileSpec


# ----------------------------------------------------------------------------- vocabulary

_F = re.IGNORECASE
# TLDs seen in Russian-language spam plus the common generic ones. Words that double as
# ordinary words after a missing space ("it", "in", "to", "at", "москва") are left out.
_TLDS = (
    "ru|su|com|net|org|info|biz|shop|store|online|site|website|pro|io|by|kz|ua|uz|am|ge|kg|tj|az|"
    "tv|cc|ly|me|link|club|xyz|top|space|tech|fun|live|life|blog|app|dev|ai|de|eu|us|uk|"
    "рф|рус|орг|ком"
)
_TLDS_SPOKEN = _TLDS + "|ру|ком|нет|орг"
_MARKETPLACE_NAMES = r"(?:wb|вб|wildberries|вайлдберриз|валдберис|ozon|озон\w*|яндекс\w*|yandex|маркет\w*|market)"
_MAIL_PROVIDERS = (
    r"(?:gmail|googlemail|mail|yandex|ya|yahoo|outlook|hotmail|icloud|rambler|bk|list|inbox|"
    r"proton(?:mail)?|мейл|майл|яндекс|гмейл|гмайл|джимейл|рамблер)"
)
# Words after which a long number is an identifier, not a phone or card: "артикул продавца
# 123-45-67", "IMEI 356938035643809". One word may stand between ("заказ покупателя 8999...").
_ORDER_CONTEXT = re.compile(
    r"(?:заказ|order|отправлени|posting|артикул|арт\.|sku|nm\s?id|nm|трек|track|шпи|штрих|barcode|ean|"
    r"gtin|шк|код|поставк|возврат|заявк|чек|накладн|imei|серийн|serial|s/n|огрн|кпп|окпо|снилс|"
    r"сертификат|декларац|партия|лот|модел)\w*(?:\s+(?!звон|позвон|тел|пиш|whats|ватс|call|phone)[^\W\d]+)?\W{0,3}(?:№|#|n|no\.?)?\s*$",
    _F,
)

# ----------------------------------------------------------------------------- finders
Span = tuple[int, int]
Found = Iterator[tuple[int, int, str | None]]


def _own_domain(host: str, marketplace: str) -> bool:
    host = host.lower().removeprefix("www.")
    return any(host == d or host.endswith("." + d) for d in OWN_DOMAINS.get(marketplace, ()))


_URL = re.compile(r"(?:\b(?:https?|ftp)://|(?<![\w.])www\.)[^\s<>\"'«»]{1,500}", _F)
_DOMAIN = re.compile(
    rf"(?<![\w@.\-/])((?:[\w-]{{1,63}}\.){{1,8}}(?:{_TLDS}))(?![\w-])(?:[/:?#][^\s<>\"'«»]{{0,500}})?",
    _F,
)
_SPOKEN_DOT = r"(?:\s*[\[\(\{<]\s*(?:\.|dot|точка|тчк)\s*[\]\)\}>]\s*|\s+(?:dot|точка|тчк)\s+|\s+\.\s*)"
_DOMAIN_SPOKEN = re.compile(
    rf"(?<![\w@.])([a-z0-9][a-z0-9-]{{1,62}}){_SPOKEN_DOT}({_TLDS_SPOKEN})(?![\w-])",
    _F,
)
_HAS_LETTER = re.compile(r"[^\W\d_]")
_SPOKEN_TLD = {"ру": "ru", "ком": "com", "нет": "net", "орг": "org"}
_OWN_SITE = re.compile(
    r"\b(?:(?:наш|мо[йёе]|сво)\w*\s+(?:официальн\w+\s+|собственн\w+\s+)?(?:веб-?)?"
    r"(?:сайт\w*|интернет[-\s]?магазин\w*)"
    r"|(?:our|my)\s+(?:own\s+|official\s+)?(?:web\s?site|site|online\s+(?:store|shop)|web\s?shop))"
    rf"(?!\s+(?:на|в|on|at)\s+{_MARKETPLACE_NAMES})",
    _F,
)
_TRAILING = ".,;:!?)]}»\"'"


def _links(text: str, marketplace: str) -> Found:
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(_TRAILING)
        host = re.sub(r"^(?:\w+://)?", "", url).split("/")[0].split(":")[0]
        if not _own_domain(host, marketplace):
            yield m.start(), m.start() + len(url), None
    for m in _DOMAIN.finditer(text):
        labels = m.group(1).rsplit(".", 1)[0]
        if _HAS_LETTER.search(labels) and not _own_domain(m.group(1), marketplace):
            yield m.start(), m.start() + len(m.group(0).rstrip(_TRAILING)), None
    for m in _DOMAIN_SPOKEN.finditer(text):
        host = m.group(1) + "." + _SPOKEN_TLD.get(m.group(2).lower(), m.group(2))
        if not _own_domain(host, marketplace):
            yield m.start(), m.end(), "web address written out to dodge the filter"
    for m in _OWN_SITE.finditer(text):
        yield m.start(), m.end(), "points the buyer to your own website"


_EMAIL = re.compile(r"(?<![\w.+-])\w[\w.+-]{0,63}@[^\W\d_][\w-]{0,62}(?:\.[\w-]{1,63}){0,8}", _F)
_AT_BRACKET = r"\s*[\[\(\{<]\s*(?:at|собака|собачка|эт|@)\s*[\]\)\}>]\s*"
_AT_SPACED = r"(?:\s+@\s*|\s*@\s+)"
_AT_WORD = r"\s+(?:at|собака|собачка)\s+"
_DOT_STRONG = r"(?:\s*[\[\(\{<]\s*(?:\.|dot|точка|тчк)\s*[\]\)\}>]\s*|\s+(?:dot|точка|тчк)\s+)"
_LOCAL = r"(?<![\w.@-])[a-z0-9][a-z0-9._-]{0,63}"
_EMAIL_SPOKEN = (
    # "name (at) gmail", "name [собака] mail [точка] ru"
    re.compile(
        rf"{_LOCAL}{_AT_BRACKET}[\w-]{{1,63}}(?:(?:{_DOT_STRONG}|\s*\.\s*)(?:{_TLDS_SPOKEN})(?![\w-]))?",
        _F,
    ),
    # "name @ mail.ru", "name @mail dot ru"
    re.compile(rf"{_LOCAL}{_AT_SPACED}[\w-]{{1,63}}(?:{_DOT_STRONG}|\s*\.\s*)(?:{_TLDS_SPOKEN})(?![\w-])", _F),
    # "name at gmail dot com", "name собака mail точка ru"
    re.compile(rf"{_LOCAL}{_AT_WORD}[\w-]{{1,63}}{_DOT_STRONG}(?:{_TLDS_SPOKEN})(?![\w-])", _F),
    # "name at gmail.com", "name собака яндекс"
    re.compile(rf"{_LOCAL}{_AT_WORD}{_MAIL_PROVIDERS}(?:\s*\.\s*(?:{_TLDS_SPOKEN}))?(?![\w-])", _F),
)


def _emails(text: str, marketplace: str) -> Found:
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), None
    for pattern in _EMAIL_SPOKEN:
        for m in pattern.finditer(text):
            yield m.start(), m.end(), "e-mail address written out to dodge the filter"


_SEP = r"[\s\-.]?"
_PHONE_PATTERNS = (
    # +7 999 123-45-67, +375 (29) 123 45 67, +44 20 7946 0958: "+" and 10..15 digits
    re.compile(r"(?<![\w+])\+\s?\d(?:[\s\-.()]{0,2}\d){9,14}(?!\d)"),
    # 8 (999) 123 45 67, 89991234567, 7-999-123-45-67, 8 800 555-35-35
    re.compile(rf"(?<![\w+\-./,])[78]{_SEP}\(?[3489]\d\d\)?{_SEP}\d{{3}}{_SEP}\d\d{_SEP}\d\d(?![\w\-/]|[.,]\d)"),
    # (999) 123-45-67, 999 123 45 67: a mobile number without the country prefix, grouped
    re.compile(r"(?<![\w+\-./,])(?:\(9\d\d\)\s?|9\d\d[\s\-])\d{3}[\s\-]?\d\d[\s\-]?\d\d(?![\w\-/]|[.,]\d)"),
    # 123-45-67: a city number
    re.compile(r"(?<![\w\-./,])\d{3}-\d\d-\d\d(?![\w\-/]|[.,]\d)"),
)
# Any run of digits with separators, for "8 9 9 9 1 2 3 4 5 6 7" and "8-9-9-9-123-45-67".
_DIGIT_RUN = re.compile(r"(?<![\w+\-./,])\d(?:[\s\-.()]{0,2}\d){1,24}(?![\w\-/]|[.,]\d)")
_PHONE_WORDS = re.compile(r"(?:номер|тел|звон|whats|ватс|вотс|вайбер|viber|phone|call|мобил|сотов)\w*", _F)
_BARE_MOBILE = re.compile(r"(?<![\w+\-./,])9\d{9}(?![\w\-/]|[.,]\d)")
_CONTACT_REQUEST = re.compile(
    r"\b(?:оставьте|оставь|пришлите|пришли|скиньте|скинь|напишите|напиши|дайте|дай|продиктуйте|"
    r"сообщите|укажите|send|leave|share|give|text)\s+(?:(?:мне|нам|me|us)\s+)?(?:(?:ваш|свой|your)\w*\s+)?"
    r"(?:номер\s+телефона|телефон\w*|номерок|мобильн\w*|контактн\w+\s+номер|контакт\w*|"
    r"phone(?:\s+number)?|number|e-?mail|почту|электронн\w+\s+почт\w+|адрес\s+(?:электронной\s+)?почты|"
    r"номер(?!\s+(?:заказа|отправления|артикула|товара|возврата|заявки|поставки|чека|трека)))\b"
    r"|\b(?:позвоните|позвони|звоните|звони|наберите|набери)\s+(?:мне|нам|по\s+(?:номеру|телефону))"
    r"|\bcall\s+(?:me|us)\b",
    _F,
)


# Number words: how many digits each contributes when a phone number is spelled out.
def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


_UNITS = _words(
    "ноль нуль один одна одну два две три четыре пять шесть семь восемь девять "
    "zero oh one two three four five six seven eight nine"
)
_TEENS = _words(
    "десять одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать семнадцать "
    "восемнадцать девятнадцать ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen"
)
_TENS = _words(
    "двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто "
    "twenty thirty forty fifty sixty seventy eighty ninety"
)
_HUNDREDS = _words("сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот")
_NUMBER_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_NUMBER_GAP = re.compile(r"[\s\-,.()+]*")


def _spelled_digits(token: str, previous: str | None) -> int | None:
    """Digits ``token`` adds to a spelled-out number, given the previous number word."""
    word = token.lower()
    if word.isdigit():
        return len(word)
    if word in _HUNDREDS:
        return 3
    if word in _TENS:
        return 0 if previous in _HUNDREDS else 2
    if word in _TEENS:
        return 0 if previous in _HUNDREDS else 2
    if word in _UNITS:
        return 0 if previous in _HUNDREDS or previous in _TENS else 1
    if word in ("плюс", "plus"):
        return 0
    return None


def _spelled_phones(text: str) -> Iterator[Span]:
    """Runs of number words (and digit groups) worth >= 10 digits with at least 3 words."""
    run_start = run_end = -1
    digits = words = 0
    previous: str | None = None
    pos = 0
    for m in _NUMBER_TOKEN.finditer(text):
        gap_ok = _NUMBER_GAP.fullmatch(text, pos, m.start()) is not None
        value = _spelled_digits(m.group(0), previous)
        if value is None or not gap_ok:
            if digits >= 10 and words >= 3:
                yield run_start, run_end
            digits = words = 0
            previous = None
            run_start = -1
        if value is not None:
            if run_start < 0:
                run_start = m.start()
            digits += value
            words += not m.group(0).isdigit()
            run_end = m.end()
            previous = m.group(0).lower()
        pos = m.end()
    if digits >= 10 and words >= 3:
        yield run_start, run_end


def _phones(text: str, marketplace: str) -> Found:
    for pattern in _PHONE_PATTERNS:
        for m in pattern.finditer(text):
            international = m.group(0).startswith("+")
            if not international and _ORDER_CONTEXT.search(text, max(0, m.start() - 40), m.start()):
                continue
            yield m.start(), m.end(), None
    for m in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if m.group(0).isdigit() or _ORDER_CONTEXT.search(text, max(0, m.start() - 40), m.start()):
            continue
        if (len(digits) == 11 and digits[0] in "78" and digits[1] in "3489") or (
            len(digits) == 10 and digits[0] == "9"
        ):
            yield m.start(), m.end(), None
    for m in _BARE_MOBILE.finditer(text):
        before = text[max(0, m.start() - 40) : m.start()]
        if _PHONE_WORDS.search(before) and not _ORDER_CONTEXT.search(before):
            yield m.start(), m.end(), None
    for start, end in _spelled_phones(text):
        yield start, end, "phone number spelled out in words"
    for m in _CONTACT_REQUEST.finditer(text):
        code_word = m.group(0).lower()
        if "mail" in code_word or "почт" in code_word:
            continue  # reported by _mail_requests
        yield m.start(), m.end(), "asks the buyer for contact details"


def _mail_requests(text: str, marketplace: str) -> Found:
    for m in _CONTACT_REQUEST.finditer(text):
        if "mail" in m.group(0).lower() or "почт" in m.group(0).lower():
            yield m.start(), m.end(), "asks the buyer for an e-mail address"


def _all_emails(text: str, marketplace: str) -> Found:
    yield from _emails(text, marketplace)
    yield from _mail_requests(text, marketplace)


_MESSENGER = re.compile(
    r"(?<![\w.])(?:t(?:elegram)?\.me|wa\.me|vk\.(?:com|me|cc)|instagram\.com|ok\.ru|fb\.com|facebook\.com|"
    r"invite\.viber\.com|viber\.click)(?:/[^\s<>\"'«»]{0,500})?"
    r"|\b(?:telegram\w*|телеграм\w*|телег(?:а|у|е|и|ой)|тг|tg|"
    r"whats\s?app\w*|вотс?апп?\w*|ватс?апп?\w*|вацапп?\w*|"
    r"viber\w*|вайбер\w*|вибер\w*|vk|вк|vkontakte|вконтакт\w*|"
    r"instagram\w*|инстаграмм?\w*|insta|инст(?:а|е|у|ы|ой)|skype\w*|скайп\w*|facebook\w*|фейсбук\w*|"
    r"мессенджер\w*|messenger)\b"
    r"|(?<![\w@.\-])@[a-z][a-z0-9_]{2,31}\b",
    _F,
)


def _messengers(text: str, marketplace: str) -> Found:
    for m in _MESSENGER.finditer(text):
        yield m.start(), m.start() + len(m.group(0).rstrip(_TRAILING)), None


_CARD = re.compile(r"(?<![\w.,+\-/])\d(?:[ \-]?\d){12,18}(?![\w\-/]|[.,]\d)")
_CARD_GROUPS = (re.compile(r"\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?"), re.compile(r"\d{4}[ -]\d{6}[ -]\d{4,5}"))


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _cards(text: str, marketplace: str) -> Found:
    for m in _CARD.finditer(text):
        raw = m.group(0)
        digits = re.sub(r"\D", "", raw)
        if not 13 <= len(digits) <= 19 or digits[0] not in "23456" or not _luhn(digits):
            continue
        if _ORDER_CONTEXT.search(text, max(0, m.start() - 40), m.start()):
            continue
        if not raw.isdigit() and not any(g.fullmatch(raw) for g in _CARD_GROUPS):
            continue
        yield m.start(), m.end(), None


_PAYMENT = re.compile(
    r"\b(?:ИНН|INN)\s*[:№]?\s*\d{10}(?:\d\d)?\b|\bБИК\s*[:№]?\s*\d{9}\b"
    r"|(?<![\w/])(?:р/с|р/сч|р\.\s?с\.|к/с|к/сч)(?!\w)|\bрасч[её]тн\w*\s+сч[её]т\w*|\bкорр?\w*\.?\s+сч[её]т\w*"
    r"|\bлицев\w+\s+сч[её]т\w*|(?<!\d)(?:40[5-8]|301)\d{17}(?!\d)"
    r"|\bреквизит\w*\s+(?:для\s+)?(?:оплат\w*|перевод\w*)|\b(?:наши|мои|свои)\s+реквизит\w*"
    r"|\b(?:переведите|перевести|переводите|переведи|скиньте|скинуть|скинь|киньте|закиньте|отправьте|"
    r"оплатите|оплатить|заплатите|заплатить|доплатите|доплатить)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:на\s+(?:карт\w*|сч[её]т\w*|номер\w*|телефон\w*|сбер\w*|тинькофф\w*|т-банк\w*|qiwi|киви|"
    r"юмани|yoomoney|юmoney|яндекс\.?\s?деньги)|по\s+(?:номеру|реквизитам)|переводом)"
    r"|\bперевод\w*\s+(?:денег\s+|средств\s+)?на\s+(?:карт\w*|сч[её]т\w*|номер\w*|телефон\w*)"
    r"|\b(?:оплат\w*|плат\w*|заплат\w*|купить|покупк\w*|рассчитаться|расч[её]т)\s+(?:[\w-]+\s+){0,2}?"
    r"(?:напрямую|мимо\s+(?:площадки|маркетплейса|сайта|wb|вб|озона?|ozon)|вне\s+(?:площадки|маркетплейса)|"
    r"без\s+(?:комиссии|маркетплейса|посредник\w*))"
    r"|\bнапрямую\s+(?:у\s+нас|у\s+меня|мне|нам)"
    r"|\b(?:bank\s+transfer|wire\s+transfer|iban|swift|paypal|pay\s+(?:me|us)\s+directly|"
    r"pay\s+directly\s+to\s+(?:me|us|our)|send\s+(?:the\s+)?money\s+to|transfer\s+(?:the\s+)?"
    r"(?:money|payment)\s+to)\b",
    _F,
)
_SBP = re.compile(r"\bсбп\b|\bsbp\b|систем\w+\s+быстрых\s+платеж\w*", _F)
_BY_NUMBER = re.compile(r"(?:по|на)\s+(?:этот\s+|мой\s+|наш\s+)?(?:номер\w*|телефон\w*)", _F)


_REFUND = re.compile(r"(?:верн|возвр|поступ|зачисл|refund)\w*\s+(?:[\w-]+\s+){0,3}$", _F)


def _payments(text: str, marketplace: str) -> Found:
    for m in _PAYMENT.finditer(text):
        # "деньги вернутся переводом на карту" describes the marketplace's refund
        if m.group(0).lower().startswith("перевод") and _REFUND.search(text, max(0, m.start() - 40), m.start()):
            continue
        yield m.start(), m.end(), None
    sbp = list(_SBP.finditer(text))
    if sbp and (_BY_NUMBER.search(text) or any(_phones(text, marketplace)) or any(_cards(text, marketplace))):
        for m in sbp:
            yield m.start(), m.end(), "asks for a transfer by phone number (СБП)"


_PROMO_WORD = re.compile(
    r"\b(?:промо-?код\w*|купон\w*|promo\s?-?codes?|coupons?|скидк\w*|дешевле|акци\w*|cheaper|discounts?|sale)\b",
    _F,
)
_CODE_WORD = re.compile(r"\b(?:промо-?код\w*|купон\w*|promo\s?-?codes?|coupons?)\b", _F)
_ON_SITE = re.compile(rf"\b(?:на\s+сайте|on\s+the\s+(?:web)?site)\b(?!\s+{_MARKETPLACE_NAMES})", _F)
_PROMO_REACH = 80


def _promos(text: str, marketplace: str) -> Found:
    """A promo word near something that is off the marketplace: own site, link, messenger."""
    external = [(m.start(), m.end()) for m in _OWN_SITE.finditer(text)]
    external += [(s, e) for s, e, _ in _links(text, marketplace)]
    external += [(s, e) for s, e, _ in _messengers(text, marketplace)]
    for m in _PROMO_WORD.finditer(text):
        for s, e in external:
            if s - _PROMO_REACH <= m.start() <= e + _PROMO_REACH:
                yield min(s, m.start()), max(e, m.end()), None
                break
    for m in _CODE_WORD.finditer(text):
        for site in _ON_SITE.finditer(text):
            if abs(site.start() - m.start()) <= _PROMO_REACH:
                yield min(site.start(), m.start()), max(site.end(), m.end()), None
                break


@dataclass(frozen=True)
class Rule:
    code: str
    reason: str
    find: Callable[[str, str], Iterable[tuple[int, int, str | None]]]


CONTENT_RULES: tuple[Rule, ...] = (
    Rule("link", "link or web address: marketplaces block links to other sites", _links),
    Rule("email", "e-mail address: contacts outside the marketplace are not allowed", _all_emails),
    Rule("phone", "phone number: contacts outside the marketplace are not allowed", _phones),
    Rule("messenger", "messenger or social network: taking buyers off the marketplace is fined", _messengers),
    Rule("card", "bank card number", _cards),
    Rule("payment", "payment details or payment outside the marketplace", _payments),
    Rule("promo", "promo code or discount on an external site", _promos),
)

# Homoglyphs folded to Latin so "tеlеgrаm.ru" (Cyrillic е/а) is caught; one char to one char,
# so spans found in the folded text are valid in the original.
_FOLD = str.maketrans("аеорсухкмтвнАЕОРСУХКМТВН", "aeopcyxkmtbhAEOPCYXKMTBH")
_LATIN = re.compile("[a-zA-Z]")
_CYRILLIC = re.compile("[а-яёА-ЯЁ]")


# ----------------------------------------------------------------------------- check


def limits_for(marketplace: str, kind: str = "chat") -> Limits:
    """The hard limits of ``kind`` on ``marketplace`` (see :mod:`chatdesk.marketplaces`);
    ``ValueError`` for an unknown marketplace."""
    return marketplaces.limits_for(marketplace, kind)


def _type_list(types: frozenset[str]) -> str:
    """``JPEG, PNG and PDF``: the accepted types in words."""
    names = [_TYPE_NAMES[t] for t in _TYPE_NAMES if t in types] + sorted(t for t in types if t not in _TYPE_NAMES)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _file_type(file: FileInfo) -> str:
    declared = file.content_type.split(";")[0].strip().lower()
    if declared in ("", "application/octet-stream", "binary/octet-stream"):
        suffix = "." + file.name.rsplit(".", 1)[-1].lower() if "." in file.name else ""
        return _EXT_TYPES.get(suffix, declared or "unknown")
    return declared


def _hard(text: str, marketplace: str, kind: str, files: Sequence[FileInfo], chat_status: str | None):
    limits = limits_for(marketplace, kind)
    label = LABELS[marketplace]
    if len(text) > limits.max_text:
        yield Finding(
            "too_long",
            "hard",
            f"message is {len(text)} characters; {label} allows at most {limits.max_text}",
            limits.max_text,
            len(text),
        )
    if not text.strip() and not files:
        yield Finding("empty", "hard", "message is empty")
    # ``max_files`` is per request: more files are split into several messages by the sender
    # (usecases.replies.split_parts), so only "no files at all" is a refusal here.
    if files and limits.max_files == 0:
        yield Finding("file_count", "hard", f"answers to questions cannot carry files on {label}")
        return
    for file in files:
        ftype = _file_type(file)
        if limits.file_types is not None and ftype not in limits.file_types:
            accepted = _type_list(limits.file_types) if limits.file_types else "no files"
            yield Finding("file_type", "hard", f"{file.name}: {label} accepts only {accepted}, not {ftype}")
        if file.size <= 0:
            yield Finding("file_size", "hard", f"{file.name}: file is empty")
        elif limits.max_file_size is not None and file.size > limits.max_file_size:
            yield Finding(
                "file_size",
                "hard",
                f"{file.name}: {_mb(file.size)}; {label} allows at most {_mb(limits.max_file_size)} per file",
            )
    total = sum(max(f.size, 0) for f in files)
    if limits.max_total_size is not None and total > limits.max_total_size:
        yield Finding(
            "total_size",
            "hard",
            f"files add up to {_mb(total)}; {label} allows at most {_mb(limits.max_total_size)} together",
        )
    if chat_status and chat_status.strip().upper() in CLOSED_STATUSES.get(marketplace, ()):
        yield Finding("chat_finished", "hard", f"the chat is finished; {label} does not accept new messages in it")


def _mb(size: int) -> str:
    return f"{size / MiB:.1f} MB"


def _content(text: str, marketplace: str) -> list[Finding]:
    found: set[Finding] = set()
    folded = text.translate(_FOLD)
    for rule in CONTENT_RULES:
        for start, end, reason in rule.find(text, marketplace):
            found.add(Finding(rule.code, "warn", reason or rule.reason, start, end))
        if folded == text:
            continue
        for start, end, reason in rule.find(folded, marketplace):
            # Only where the original is mostly Latin: a disguised Latin word, not Russian
            # text that happens to fold into something ("заказ.Со" -> "зaкaз.Co").
            if len(_LATIN.findall(text, start, end)) > len(_CYRILLIC.findall(text, start, end)):
                found.add(Finding(rule.code, "warn", reason or rule.reason, start, end))
    return _prune([f for f in found if f.start is not None and f.end is not None and f.end > f.start])


def _prune(found: list[Finding]) -> list[Finding]:
    """Drop findings inside a bigger one of the same code, and links that are part of an e-mail."""
    spans = sorted(found, key=lambda f: (f.start or 0, -(f.end or 0), f.code, f.reason))
    kept: list[Finding] = []
    for f in spans:
        assert f.start is not None and f.end is not None
        covered = any(
            k.start is not None
            and k.end is not None
            and k.start <= f.start
            and f.end <= k.end
            and (k.code == f.code or (f.code == "link" and k.code == "email"))
            for k in kept
        )
        if not covered:
            kept.append(f)
    return kept


def check(
    text: str,
    *,
    marketplace: str,
    kind: str = "chat",
    files: Sequence[FileInfo] = (),
    chat_status: str | None = None,
) -> list[Finding]:
    """All findings for a message about to go to ``marketplace``: hard ones first, then
    content warnings in text order. An empty list means the message may be sent."""
    return list(_hard(text, marketplace, kind, files, chat_status)) + _content(text, marketplace)


class ChatFacts(Protocol):
    """What the rule check needs to know of the chat a message goes to (``store.views.ChatRow``
    and ``store.followups.DueCheck`` both fit)."""

    @property
    def marketplace(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str | None: ...
    @property
    def last_buyer_at(self) -> datetime | None: ...


NEVER = datetime.min.replace(tzinfo=UTC)  # "closed already": the buyer never wrote


def reply_window_closes(marketplace: str, kind: str, last_buyer_at: datetime | None) -> datetime | None:
    """When ``marketplace`` stops accepting seller messages in a chat whose buyer last wrote at
    ``last_buyer_at`` (aware UTC); ``None`` when the marketplace has no reply window for ``kind``.

    Source: ``marketplaces.<id>.reply_window`` (Ozon: 48 h after the buyer's last message,
    [OZ-26-07]). The window is measured from a buyer message, so a chat whose buyer never wrote
    is closed already (:data:`NEVER`)."""
    row = marketplaces.MARKETPLACES.get(marketplace)
    window = row.reply_window if row is not None else None
    if window is None or kind != "chat":
        return None
    if last_buyer_at is None:
        return NEVER
    return last_buyer_at + window


def span_words(delta: timedelta) -> str:
    """A duration in a seller's words: ``25 min``, ``5 h``, ``2 d 3 h`` (never negative)."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def window_finding(chat: ChatFacts, at: datetime, now: datetime | None = None) -> Finding | None:
    """The hard ``window_closed`` finding when a message to ``chat`` at ``at`` (aware UTC: now for
    a reply, the due time for a follow-up) falls after the marketplace's reply window closes.

    The advice never asks for the impossible: once the window has closed (at ``now``) it says
    the buyer has to write first; before that it names how long is left."""
    closes = reply_window_closes(chat.marketplace, chat.kind, chat.last_buyer_at)
    if closes is None or at <= closes:
        return None
    now = now or datetime.now(UTC)
    label = LABELS.get(chat.marketplace, chat.marketplace)
    row = marketplaces.MARKETPLACES[chat.marketplace]
    assert row.reply_window is not None
    hours = int(row.reply_window.total_seconds() // 3600)
    rule = f"{label} accepts messages only within {hours} h of the buyer's last message"
    if closes == NEVER:
        return Finding("window_closed", "hard", f"the buyer has not written in this chat; {rule}")
    if closes <= now:
        return Finding(
            "window_closed",
            "hard",
            f"the reply window closed {span_words(now - closes)} ago ({rule}); you can write again once the buyer does",
        )
    return Finding(
        "window_closed",
        "hard",
        f"too late: the reply window closes in {span_words(closes - now)} ({rule}); pick a time before then",
    )


def check_chat(
    text: str,
    chat: ChatFacts,
    *,
    files: Sequence[FileInfo] = (),
    at: datetime | None = None,
    now: datetime | None = None,
) -> list[Finding]:
    """:func:`check` for a message to ``chat`` going out at ``at`` (default: now), with the
    marketplace's reply window as a hard limit. The one check used by the composer, ``send``,
    follow-up scheduling and the follow-up's send-time re-check."""
    now = now or datetime.now(UTC)
    findings = check(text, marketplace=chat.marketplace, kind=chat.kind, files=files, chat_status=chat.status)
    late = window_finding(chat, at or now, now)
    return ([late] if late is not None else []) + findings


def hard(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "hard"]


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "warn"]


def describe(findings: Iterable[Finding], text: str | None = None) -> list[str]:
    """One line per finding for the CLI and notifications, quoting the span when ``text`` is given."""
    lines = []
    for f in findings:
        prefix = "blocked" if f.severity == "hard" else "warning"
        quote = ""
        if text is not None and f.start is not None and f.end is not None and f.code != "too_long":
            excerpt = " ".join(text[f.start : f.end].split())
            quote = f' "{excerpt[:60]}{"…" if len(excerpt) > 60 else ""}"'
        lines.append(f"{prefix} ({f.code}){quote}: {f.reason}")
    return lines
