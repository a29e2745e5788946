"""The demo's people: the owner, the customers the visitor can play, the simulated
customers behind the history, and what customers say (comments in four languages)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

LANGUAGES = ("en", "ru", "ro", "pl")
GROUPS = ("promoter", "passive", "detractor")


@dataclass(frozen=True)
class DemoPerson:
    """Someone the demo shows in the emulator: a Telegram user and where they came from."""

    id: int
    first_name: str
    language_code: str
    agent: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class SimulatedCustomer(DemoPerson):
    """A customer of the back-dated history (never in the emulator)."""

    username: str | None = None


OWNER = DemoPerson(100, "Owner", "en")
# Two per language; the agent and source are the deep-link tags they come through.
CUSTOMERS = (
    DemoPerson(1001, "Emily", "en", agent="olga", source="shop"),
    DemoPerson(1002, "James", "en", agent="victor", source="call"),
    DemoPerson(1003, "Алексей", "ru", agent="victor", source="call"),
    DemoPerson(1004, "Мария", "ru", source="web"),
    DemoPerson(1005, "Andreea", "ro", agent="ana", source="shop"),
    DemoPerson(1006, "Mihai", "ro", agent="victor", source="call"),
    DemoPerson(1007, "Kasia", "pl", source="app"),
    DemoPerson(1008, "Piotr", "pl", agent="marek", source="call"),
)


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """ "Name:latin Name:latin" as (name, latin spelling) pairs."""
    return tuple((name, latin) for name, latin in (pair.split(":") for pair in text.split()))


# First names as people type them in Telegram, with a Latin spelling for usernames.
NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "en": tuple(
        (name, name.lower())
        for name in (
            "Oliver George Harry Jack Noah Leo Charlie Thomas Daniel Sam Olivia Amelia "
            "Isla Ava Mia Grace Sophie Lucy Chloe Ella Hannah Megan"
        ).split()
    ),
    "ru": _pairs(
        "Александр:sasha Дмитрий:dima Сергей:sergey Андрей:andrey Иван:ivan Максим:max "
        "Никита:nikita Павел:pavel Екатерина:katya Анна:anna Ольга:olya Наталья:natasha "
        "Елена:lena Татьяна:tanya Ирина:ira Юлия:yulia Светлана:sveta Ксения:ksenia"
    ),
    "ro": tuple(
        (name, name.lower().replace("ș", "s").replace("ț", "t"))
        for name in (
            "Andrei Alexandru Mihai Ion Vlad Cristian Ștefan Gheorghe Radu Victor Elena "
            "Maria Ioana Ana Cristina Mihaela Diana Irina Natalia Corina"
        ).split()
    ),
    "pl": _pairs(
        "Piotr:piotr Krzysztof:krzysiek Tomasz:tomek Paweł:pawel Michał:michal "
        "Marcin:marcin Jakub:kuba Łukasz:lukasz Anna:ania Katarzyna:kasia Małgorzata:gosia "
        "Agnieszka:aga Magdalena:magda Joanna:asia Monika:monika Zofia:zosia"
    ),
}
# How the simulated customers' Telegram clients are set (the bot's languages).
LANGUAGE_WEIGHTS = {"en": 30, "ru": 30, "ro": 25, "pl": 15}


def simulated_customers(seed: int) -> Iterator[SimulatedCustomer]:
    """Endless distinct simulated customers (the same seed, the same people, in order)."""
    rng = random.Random(f"customers-{seed}")
    seen: set[int] = set()
    languages, weights = list(LANGUAGE_WEIGHTS), list(LANGUAGE_WEIGHTS.values())
    while True:
        # Ten-digit ids, as Telegram's newer accounts have: never a demo person's id.
        user_id = rng.randrange(5_000_000_000, 7_999_999_999)
        if user_id in seen:
            continue
        seen.add(user_id)
        language = rng.choices(languages, weights)[0]
        name, latin = rng.choice(NAMES[language])
        username = f"{latin}{rng.choice(('', '_', '.'))}{rng.randrange(7, 99)}"
        yield SimulatedCustomer(
            user_id,
            name,
            language,
            username=username.replace(".", "_") if rng.random() < 0.45 else None,
        )


# What customers write: "why" and "improve" per language and NPS group.
WHY: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "promoter": (
            "Delivery came a day earlier than promised",
            "The staff in the shop were friendly and didn't rush me",
            "Fair prices and the quality is consistently good",
            "Support sorted out my refund in one call",
            "The app is quick and paying by card took seconds",
            "Everything arrived well packed, nothing broken",
        ),
        "passive": (
            "Good products, but delivery took almost a week",
            "Prices are okay, nothing special compared to others",
            "Staff were polite but I waited 15 minutes to be served",
            "The app works but keeps logging me out",
            "Support answered, though only the next day",
            "Quality is fine, the packaging could be better",
        ),
        "detractor": (
            "The courier was late twice and never called",
            "I waited 40 minutes on the phone to talk to someone",
            "I was charged twice and still haven't got my money back",
            "The operator was rude and hung up on me",
            "The item broke after a week and nobody helps with the return",
            "Prices went up again and the quality went down",
            "The app froze at payment and my order was lost",
        ),
    },
    "ru": {
        "promoter": (
            "Доставили на день раньше обещанного",
            "Очень вежливые консультанты в магазине, всё объяснили",
            "Хорошее качество за разумную цену",
            "Поддержка решила вопрос с возвратом за один звонок",
            "Удобное приложение, оплата картой за пару секунд",
            "Всё пришло аккуратно упакованным, ничего не помято",
        ),
        "passive": (
            "Товар хороший, но доставка заняла почти неделю",
            "Цены нормальные, но у конкурентов бывает дешевле",
            "Сотрудники вежливые, но пришлось минут пятнадцать ждать в очереди",
            "Приложение работает, но постоянно просит войти заново",
            "Поддержка ответила только на следующий день",
            "Качество в целом нормальное, упаковка так себе",
        ),
        "detractor": (
            "Курьер дважды опоздал и даже не позвонил",
            "Сорок минут ждал ответа оператора",
            "Деньги списали два раза, возврата до сих пор нет",
            "Оператор нагрубил и бросил трубку",
            "Товар сломался через неделю, с возвратом никто не помогает",
            "Цены опять выросли, а качество упало",
            "Приложение зависло при оплате, заказ пропал",
        ),
    },
    "ro": {
        "promoter": (
            "Livrarea a ajuns cu o zi mai devreme decât era promis",
            "Personalul din magazin a fost amabil și m-a ajutat să aleg",
            "Calitate bună la un preț corect",
            "Suportul a rezolvat rambursarea dintr-un singur apel",
            "Aplicația e rapidă, iar plata cu cardul durează câteva secunde",
            "Coletul a venit bine ambalat, nimic deteriorat",
        ),
        "passive": (
            "Produsele sunt bune, dar livrarea a durat aproape o săptămână",
            "Prețurile sunt ok, dar nimic special față de alții",
            "Angajații au fost politicoși, dar am așteptat 15 minute la casă",
            "Aplicația merge, dar mă deconectează mereu",
            "Suportul a răspuns abia a doua zi",
            "Calitatea e acceptabilă, ambalajul ar putea fi mai bun",
        ),
        "detractor": (
            "Curierul a întârziat de două ori și nu a sunat",
            "Am așteptat 40 de minute la telefon să vorbesc cu cineva",
            "Mi-au luat banii de două ori și încă nu i-am primit înapoi",
            "Operatorul a fost nepoliticos și mi-a închis telefonul",
            "Produsul s-a stricat după o săptămână și nimeni nu mă ajută cu returul",
            "Prețurile au crescut din nou, iar calitatea a scăzut",
        ),
    },
    "pl": {
        "promoter": (
            "Dostawa przyszła dzień wcześniej, niż obiecano",
            "Bardzo miła obsługa w sklepie, wszystko mi wyjaśnili",
            "Dobra jakość w rozsądnej cenie",
            "Infolinia załatwiła zwrot w jednej rozmowie",
            "Wygodna aplikacja, płatność kartą w kilka sekund",
            "Paczka dobrze zapakowana, nic się nie uszkodziło",
        ),
        "passive": (
            "Produkty dobre, ale dostawa trwała prawie tydzień",
            "Ceny w porządku, ale u konkurencji bywa taniej",
            "Obsługa uprzejma, ale czekałem 15 minut w kolejce",
            "Aplikacja działa, ale ciągle mnie wylogowuje",
            "Infolinia odpowiedziała dopiero następnego dnia",
            "Jakość w porządku, opakowanie mogłoby być lepsze",
        ),
        "detractor": (
            "Kurier dwa razy się spóźnił i nawet nie zadzwonił",
            "Czekałem 40 minut na połączenie z konsultantem",
            "Pobrano mi pieniądze dwa razy i nadal nie ma zwrotu",
            "Konsultant był niegrzeczny i się rozłączył",
            "Produkt zepsuł się po tygodniu, a ze zwrotem nikt nie pomaga",
            "Ceny znowu w górę, a jakość w dół",
        ),
    },
}
IMPROVE: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "promoter": (
            "Honestly nothing, keep it up",
            "A discount for regular customers would be nice",
            "Evening delivery slots",
            "Longer opening hours on Saturdays",
        ),
        "passive": (
            "Faster delivery outside the city",
            "Send a tracking link by SMS",
            "Fewer steps at checkout in the app",
            "More staff at the tills at weekends",
        ),
        "detractor": (
            "Deliver on time, or at least warn me about delays",
            "Hire more people for the call centre",
            "Refund me and apologise",
            "Train your staff to listen to customers",
            "Fix the app before adding new features",
        ),
    },
    "ru": {
        "promoter": (
            "Ничего, всё отлично, так держать",
            "Скидку для постоянных клиентов",
            "Доставку по вечерам после семи",
            "Больше пунктов самовывоза",
        ),
        "passive": (
            "Ускорить доставку в регионы",
            "Присылать ссылку для отслеживания заказа",
            "Упростить оформление заказа в приложении",
            "Отвечать на письма в тот же день",
        ),
        "detractor": (
            "Привозить вовремя или хотя бы предупреждать о задержке",
            "Нанять больше операторов в колл-центр",
            "Вернуть деньги и извиниться",
            "Научить сотрудников слушать клиентов",
            "Сначала починить приложение",
        ),
    },
    "ro": {
        "promoter": (
            "Nimic, continuați tot așa",
            "O reducere pentru clienții fideli",
            "Livrare și seara, după ora 19",
            "Mai multe puncte de ridicare",
        ),
        "passive": (
            "Livrare mai rapidă în afara orașului",
            "Trimiteți un link de urmărire prin SMS",
            "Mai puțini pași la plata din aplicație",
            "Mai mulți casieri în weekend",
        ),
        "detractor": (
            "Livrați la timp sau anunțați întârzierile",
            "Angajați mai mulți operatori la call-center",
            "Returnați-mi banii și cereți scuze",
            "Instruiți personalul să asculte clienții",
            "Reparați aplicația înainte de funcții noi",
        ),
    },
    "pl": {
        "promoter": (
            "Nic, tak trzymać",
            "Rabat dla stałych klientów",
            "Dostawy także wieczorem",
            "Więcej punktów odbioru",
        ),
        "passive": (
            "Szybsza dostawa poza miastem",
            "Wysyłajcie link do śledzenia przesyłki SMS-em",
            "Mniej kroków przy płatności w aplikacji",
            "Więcej kas otwartych w weekendy",
        ),
        "detractor": (
            "Dostarczajcie na czas albo uprzedzajcie o opóźnieniach",
            "Zatrudnijcie więcej konsultantów na infolinii",
            "Oddajcie pieniądze i przeproście",
            "Nauczcie pracowników słuchać klientów",
            "Najpierw naprawcie aplikację",
        ),
    },
}
