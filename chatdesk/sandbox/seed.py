"""Realistic buyer conversations for the sandbox, independent of any wire format.

Each sim turns these neutral :class:`Conversation` objects into its own marketplace's
objects. Generation is deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SeedFile:
    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class SeedMessage:
    author: str  # buyer | seller | marketplace
    text: str
    at: datetime
    files: tuple[SeedFile, ...] = ()


@dataclass(frozen=True)
class Product:
    title: str
    article: int
    size: str
    price: int


@dataclass
class Conversation:
    customer: str
    product: Product
    order_number: str
    messages: list[SeedMessage] = field(default_factory=list)


NAMES = [
    "Алёна",
    "Иван",
    "Мария",
    "Дмитрий",
    "Ольга",
    "Сергей",
    "Екатерина",
    "Андрей",
    "Наталья",
    "Павел",
    "Татьяна",
    "Артём",
    "Юлия",
    "Никита",
    "Светлана",
    "Кирилл",
    "Анна",
    "Михаил",
]

PRODUCTS = [
    Product("Футболка оверсайз хлопок", 146372915, "M", 1290),
    Product("Кроссовки беговые лёгкие", 98231177, "42", 4590),
    Product("Платье летнее миди", 173300412, "44", 2790),
    Product("Стекло защитное для смартфона", 11223344, "0", 390),
    Product("Термокружка 450 мл", 55501276, "0", 990),
    Product("Рюкзак городской 25 л", 70011923, "0", 3290),
    Product("Джинсы прямые мужские", 120933871, "32/34", 3490),
    Product("Шампунь для окрашенных волос 500 мл", 88412006, "0", 650),
    Product("Куртка демисезонная", 160087432, "L", 6990),
    Product("Набор кистей для макияжа", 33210987, "0", 1190),
]

# (buyer opening, seller answer, buyer follow-up or None)
SCRIPTS = [
    (
        "Здравствуйте! Подскажите, размер {size} соответствует российскому? Обычно ношу 46.",
        "Добрый день! Да, размерная сетка российская. При 46-м советуем брать M.",
        "Спасибо, заказала.",
    ),
    (
        "Добрый день. Когда будет доставка? Заказ {order} висит в статусе «собирается» третий день.",
        "Здравствуйте! Заказ передан в доставку сегодня, ожидайте в течение 2–3 дней.",
        None,
    ),
    (
        "Пришёл товар с браком — шов разошёлся. Как оформить возврат?",
        "Нам очень жаль! Оформите возврат в личном кабинете в разделе «Покупки», деньги вернутся после проверки.",
        "Хорошо, оформила, фото приложила.",
    ),
    (
        "Подойдёт ли это стекло на Samsung Galaxy A54?",
        "Здравствуйте! Нет, для A54 у нас есть отдельная модель, артикул 11223345.",
        None,
    ),
    (
        "Можно заказать 100 штук? Нужно для корпоратива.",
        "Добрый день! Да, такое количество есть на складе, оформляйте заказ обычным способом.",
        "Отлично, а скидка на опт будет?",
    ),
    (
        "Цвет на фото темнее, чем пришёл. Это нормально?",
        "Здравствуйте! Оттенок может немного отличаться из-за освещения при съёмке.",
        None,
    ),
    (
        "Здравствуйте, кружка держит тепло 6 часов, как написано?",
        "Добрый день! Да, при закрытой крышке чай остаётся горячим до 6 часов.",
        "Спасибо за ответ!",
    ),
    (
        "Не могу найти инструкцию по уходу. Можно стирать в машинке?",
        "Да, деликатный режим при 30 градусах, без отжима на высоких оборотах.",
        None,
    ),
    (
        "Заказ пришёл не тот — вместо размера {size} прислали другой.",
        "Приносим извинения! Пожалуйста, пришлите фото бирки, мы разберёмся.",
        "Отправила фото, посмотрите.",
    ),
    ("Будет ли поставка в размере XL? Сейчас нет в наличии.", None, None),
    ("Здравствуйте! Товар не пришёл, хотя в приложении написано «доставлен».", None, None),
    (
        "Есть ли подарочная упаковка?",
        "Здравствуйте! Отдельной подарочной упаковки нет, но товар приходит в плотной коробке.",
        None,
    ),
]

FILES = [
    SeedFile("Фото брака.jpg", "image/jpeg", 284_113),
    SeedFile("Чек.pdf", "application/pdf", 104_614),
    SeedFile("бирка.png", "image/png", 512_002),
]

NEW_BUYER_LINES = [
    "Добрый день! Подскажите, пожалуйста, сроки отправки?",
    "А есть этот товар в другом цвете?",
    "Здравствуйте, можно поменять адрес доставки?",
    "Спасибо, всё пришло, очень довольна!",
    "Когда ждать ответа по возврату?",
    "Подскажите, какой размер взять на рост 176?",
    "Товар пришёл помятым, что делать?",
]


def conversations(rng: random.Random, count: int, now: datetime) -> list[Conversation]:
    """``count`` conversations, oldest first, spread over the last two weeks."""
    out: list[Conversation] = []
    story = rng.sample(range(len(SCRIPTS)), len(SCRIPTS))  # each marketplace tells its own story order
    for i in range(count):
        product = rng.choice(PRODUCTS)
        opening, answer, follow = SCRIPTS[story[i]] if i < len(SCRIPTS) else rng.choice(SCRIPTS)
        order = f"{rng.randint(10_000_000, 99_999_999)}-{rng.randint(1000, 9999)}-1"
        start = now - timedelta(days=14) + timedelta(minutes=int((i + 1) * 14 * 24 * 60 / (count + 1)))
        start += timedelta(seconds=rng.randint(0, 50))
        conv = Conversation(customer=rng.choice(NAMES), product=product, order_number=order)
        fmt = {"size": product.size, "order": order}
        files: tuple[SeedFile, ...] = (rng.choice(FILES),) if "возврат" in opening or "фото" in (follow or "") else ()
        conv.messages.append(SeedMessage("buyer", opening.format(**fmt), start, files))
        if answer:
            conv.messages.append(SeedMessage("seller", answer, start + timedelta(minutes=rng.randint(5, 180))))
            if follow:
                conv.messages.append(
                    SeedMessage("buyer", follow, conv.messages[-1].at + timedelta(minutes=rng.randint(3, 90)))
                )
        out.append(conv)
    return out


def new_buyer_line(rng: random.Random) -> str:
    return rng.choice(NEW_BUYER_LINES)
