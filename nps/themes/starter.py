"""The starter theme dictionary: common business themes in English, Russian, Romanian, Polish.

Words are written as customers write them; the matcher stems them, so one form usually covers
the others. Several forms are listed where Snowball gives them different stems (Russian
"дорого"/"дорогой", Polish "kolejka"/"kolejce"). Phrases match consecutive words.
Quality on the labelled corpus: tests/unit/test_themes_quality.py.
"""

from __future__ import annotations

from nps.themes.matcher import ThemeSpec


def _split(text: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in text.split(",") if word.strip())


_STARTER: dict[str, dict[str, str]] = {
    "price": {
        "en": "price, prices, pricing, priced, pricey, overpriced, expensive, cheap, cheaper, "
        "cheapest, cost, costs, costly, afford, affordable, value for money, for the money, "
        "for this money, fee, fees, discount, discounts, promo, promotion, tariff, rip-off, "
        "bargain, surcharge, rip off, ripoff, extortionate, daylight robbery, price "
        "increase, price hike, monthly fee, subscription fee, tariffs",
        "ru": "цена, цены, ценник, ценовой, стоимость, дорого, дорогой, дорогая, дорогие, "
        "дороговато, дороже, дешево, дешевый, дешевле, недорого, переплата, переплатил, "
        "скидка, скидки, акция, акции, тариф, комиссия, комиссии, наценка, прайс, выгодно, "
        "за такие деньги, за свои деньги, за эти деньги, соотношение цены, грабительский, "
        "грабительские, грабеж, развод, подорожал, подорожала, подорожание, абонентка, "
        "абонентская плата, переплачивать, своих денег",
        "ro": "preț, prețuri, prețul, prețurile, scump, scumpă, scumpe, scumpete, ieftin, "
        "ieftină, ieftine, mai ieftin, cost, costă, costuri, tarif, tarife, reducere, "
        "reduceri, promoție, promoții, comision, comisioane, pentru banii, raport calitate "
        "preț, jaf, țeapă, scumpire, scumpit, abonamentul lunar, costul lunar, prețul a "
        "crescut, taxa de, taxă de, taxe de, taxe ascunse, merită banii",
        "pl": "cena, ceny, cenę, cenowy, ceną, drogo, drogie, drogi, drożej, drożyzna, tanio, "
        "taniej, tani, tania, tanie, najtańszy, najtańsze, najtaniej, koszt, koszty, "
        "kosztuje, opłata, opłaty, promocja, promocje, rabat, zniżka, przecena, za te "
        "pieniądze, stosunek ceny, zdzierstwo, zdzierają, podwyżka, podwyżki, zdrożało, "
        "drożeje, opłata miesięczna",
    },
    "delivery": {
        "en": "delivery, deliveries, deliver, delivered, courier, couriers, shipping, shipment, "
        "shipped, parcel, package, tracking, tracking number, dispatch, dispatched, driver, "
        "postman, post office, pickup point, pick-up point, locker, parcel locker, "
        "doorstep, same-day, carrier, order arrived, transit, rider, delivery man, arrived "
        "cold, came without, missing items",
        "ru": "доставка, доставки, доставку, доставить, доставили, доставлено, курьер, "
        "курьерская, курьерский, привезли, привез, привезти, посылка, посылку, трек, "
        "трек-номер, отправка, отслеживание, пункт выдачи, постамат, почта, водитель, заказ "
        "пришел, опоздал, доставщик, привезли без, пришло без",
        "ro": "livrare, livrarea, livrări, livrat, livrată, livra, curier, curierul, curierat, "
        "colet, coletul, transport, transportul, expediere, expediat, urmărire, awb, "
        "easybox, locker, punct de ridicare, punctul de ridicare, poștă, șofer, șoferul, "
        "comanda a ajuns, comanda a venit, livrator, livratorul, au venit fără, a venit "
        "fără",
        "pl": "dostawa, dostawy, dostawę, dostarczyć, dostarczony, dostarczono, kurier, kuriera, "
        "kurierska, kurierski, przesyłka, przesyłki, przesyłkę, paczka, paczkę, paczki, "
        "paczkomat, wysyłka, wysyłki, śledzenie, śledzenia, punkt odbioru, punkcie odbioru, "
        "poczta, inpost, kierowca, zamówienie dotarło, zamówienie przyszło, dostawca, "
        "dostawcy, przyjechały bez, przyszło bez",
    },
    "staff": {
        "en": "staff, employee, employees, personnel, rude, rudeness, polite, politely, impolite, "
        "unfriendly, kind, courteous, attentive, cashier, waiter, waitress, waiters, "
        "barista, seller, salesperson, shop assistant, consultant, manager, receptionist, "
        "reception, security guard, security staff, guard, pharmacist, technician, smiling, "
        "smile, attitude, unprofessional, professional, welcoming, patient, manners, "
        "arrogant, ignored me, intimidating, mechanic, nurse, doctor, hairdresser, grumpy, "
        "rolled her eyes, rolled his eyes, trainer, coach, instructor, unpleasant, shouts, "
        "shouted, yelled",
        "ru": "персонал, сотрудник, сотрудники, работник, работники, продавец, продавщица, "
        "кассир, официант, официанты, администратор, консультант, охранник, охрана, "
        "бариста, фармацевт, мастер, вежливый, вежливо, вежливость, невежливый, невежлива, "
        "грубый, грубые, грубо, нагрубил, нагрубила, хамство, хамить, хамил, хамила, "
        "нахамил, приветливый, неприветливый, доброжелательный, дружелюбный, внимательный, "
        "внимательные, улыбаются, улыбка, терпеливо, отношение, профессиональный, "
        "непрофессиональные, ресепшен, ресепшн, механик, медсестра, врач, парикмахер, "
        "хмурая, хмурый, закатила глаза, милая, милой, тренер, инструктор, неприятно, орет, "
        "кричит, накричал",
        "ro": "personal, personalul, angajat, angajați, angajații, vânzător, vânzătoare, "
        "vânzătoarea, casier, casieră, casiera, ospătar, ospătari, chelner, barist, "
        "baristul, consultant, consultanta, recepție, recepționer, paznic, paznicul, agenți "
        "de pază, farmacist, farmacista, tehnician, tehnicianul, politicos, politicoasă, "
        "nepoliticos, nepoliticoasă, nepoliticoși, amabil, amabilă, neamabil, neprietenos, "
        "neprietenoasă, obraznic, nesimțit, zâmbitori, zâmbet, răbdătoare, răbdător, "
        "atenți, profesionist, neprofesioniști, mecanic, mecanicul, asistenta medicală, "
        "medic, medicul, frizer, morocănos, morocănoasă, a dat ochii peste cap, drăguță, "
        "drăguț, antrenor, antrenorul, instructor, neplăcut, neplăcută, țipă, a țipat",
        "pl": "personel, pracownik, pracownicy, ekspedientka, ekspedient, sprzedawca, "
        "sprzedawczyni, kasjer, kasjerka, kelner, kelnerka, kelnerzy, barista, doradca, "
        "kierownik, recepcjonistka, recepcja, ochroniarz, ochrona, farmaceutka, farmaceuta, "
        "technik, miły, miła, miłe, niemiły, niemiła, uprzejmy, uprzejma, nieuprzejmy, "
        "nieuprzejma, grzeczny, niegrzeczny, niegrzeczni, chamski, cham, opryskliwy, "
        "opryskliwa, sympatyczny, sympatyczna, przyjazny, życzliwy, cierpliwy, cierpliwa, "
        "uśmiechnięci, uśmiech, oschły, oschła, nieprzyjemny, nieprzyjemna, nieprzyjemnie, "
        "profesjonalny, nieprofesjonalni, uważni, mechanik, pielęgniarka, lekarz, fryzjer, "
        "fryzjerka, naburmuszona, naburmuszony, przewróciła oczami, przemiła, trener, "
        "instruktor, krzyczy, krzyczał",
    },
    "waiting": {
        "en": "wait, waiting, waited, waiting time, queue, queues, in line, long line, long "
        "lines, lines, slow, slowly, forever, ages, took long, too long, long time, on "
        "hold, delay, delays, delayed, waiting list, later than promised, for hours, half "
        "an hour",
        "ru": "ждать, ждал, ждали, ждем, ожидание, ожидания, очередь, очереди, очередей, долго, "
        "медленно, медленный, медленное, задержка, задержки, вечность, простоял, висел на "
        "линии, дозваниваюсь, дозвониться, позже обещанного, час ждали, ждали час, полчаса",
        "ro": "aștepta, așteptare, așteptat, aștepți, aștept, se așteaptă, coadă, coada, cozi, la "
        "rând, lent, lentă, încet, veșnicie, durează, prea mult de așteptat, întârziere, "
        "mai târziu decât, ore întregi, jumătate de oră",
        "pl": "czekać, czekanie, czekałem, czekałam, czekaliśmy, czekam, czeka, oczekiwanie, "
        "kolejka, kolejki, kolejce, kolejek, kolejkę, długo, wolno, powolny, powolna, "
        "powoli, wieki, wieczność, opóźnienie, wisiałem, później niż, pół godziny",
    },
    "quality": {
        "en": "quality, broke, broken, break, defective, defect, faulty, fell apart, torn, "
        "ripped, stopped working, fresh, stale, sour, tasteless, tasty, delicious, taste, "
        "tastes, food, durable, flimsy, cheap plastic, cheap materials, material, "
        "materials, fabric, seams, zipper, shrank, soggy, battery, expiry, smashed, "
        "premium, smell, smelled, smells, dirty, stained, stains, cleanliness, noise, "
        "noisy, repair, repaired, connection, signal, drops, mould, mold, worn, scratched",
        "ru": "качество, качественный, некачественный, сломался, сломалась, сломан, брак, "
        "бракованный, развалились, порвалась, разбит, разбитыми, свежий, свежие, несвежий, "
        "черствый, прокисший, невкусный, невкусная, вкусно, вкусный, вкус, еда, материал, "
        "материалы, ткань, швы, молния, перестал работать, перестала работать, батарея, "
        "сырая, плохо сидит, срок годности, сроки годности, грязно, грязный, грязные, "
        "грязь, пахло, запах, воняет, пятна, чистота, шум, шумно, ремонт, связь, пропадает, "
        "сигнал, плесень, царапины",
        "ro": "calitate, calitatea, stricat, rupt, defect, defectă, spart, sparte, proaspăt, "
        "proaspete, acru, gust, gustos, gustoase, fără gust, delicios, mâncare, mâncarea, "
        "material, materiale, materialul, cusături, fermoar, baterie, bateria, crud, crudă, "
        "nu mai funcționează, termen de valabilitate, murdar, murdară, murdărie, miros, "
        "mirosea, pătat, pătate, pete, curățenie, zgomot, reparație, reparația, semnal, "
        "conexiune, cade, mucegai, zgâriat",
        "pl": "jakość, jakości, zepsuł, zepsuty, zepsuła, popsuł, wadliwy, wadliwym, wada, "
        "uszkodzony, rozpadły, pęknięty, stłuczone, świeże, świeży, nieświeży, czerstwy, "
        "kwaśne, smak, smaku, smaczny, pyszne, pycha, niesmaczny, jedzenie, materiał, "
        "materiały, tandetne, tandeta, szwy, zamek, bateria, surowa, przestał działać, data "
        "ważności, daty ważności, skurczyła, brudno, brudny, brudna, brud, śmierdziało, "
        "śmierdzi, zapach, plamy, poplamiona, czystość, hałas, głośno, naprawa, zasięg, "
        "połączenie, rozłącza, pleśń, porysowany",
    },
    "app": {
        "en": "app, apps, application, website, site, web site, login, log in, password, page, "
        "bug, bugs, buggy, crash, crashes, crashed, crashing, freeze, freezes, new version, "
        "mobile version, interface, dashboard, api, integration, sync, notifications, "
        "two-factor, search, order form, button, load, portal, log out, logs me out, logged "
        "out, export, exporting, online booking, book online, glitch, glitches, platform",
        "ru": "приложение, приложения, приложении, сайт, сайте, личный кабинет, кабинет, "
        "вылетает, зависло, зависает, глючит, глюк, баг, пароль, логин, войти, "
        "залогиниться, версия, интерфейс, уведомления, api, интеграция, синхронизация, "
        "поиск, форма, грузятся, загрузка, мобильная версия, портал, выкидывает, "
        "разлогинивает, выгрузка, экспорт, загружается, не грузится, онлайн-запись, "
        "записаться онлайн, глючное, платформа, платформе",
        "ro": "aplicație, aplicația, aplicatie, aplicații, site, platformă, platforma, parolă, "
        "parola, logare, loga, autentificare, versiune, versiunea, notificări, api, "
        "integrare, integrarea, sincronizare, căutare, căutarea, formular, formularul, "
        "erori, încarcă, interfață, portal, deconectează, delogat, export, exportul, "
        "programare online, programarea online, se blochează aplicația",
        "pl": "aplikacja, aplikacji, aplikację, strona, stronie, stronę, strona internetowa, "
        "serwis, zalogować, logowanie, logowania, hasło, hasła, panel, panelu, wersja, "
        "powiadomienia, powiadomień, api, integracja, synchronizacja, wyszukiwarka, "
        "formularz, błąd, błędy, zawiesza, wysypała, ładują, interfejs, koszyk, koszyka, "
        "portal, wylogowuje, wylogować, eksport, rezerwacja online, rezerwacji online, "
        "platforma, platformie",
    },
    "support": {
        "en": "support, customer service, customer support, help desk, helpdesk, helpline, "
        "hotline, call center, call centre, on hold, operator, agent, agents, ticket, chat, "
        "live chat, emails, reply, replied, replies, respond, answer, answered, called me "
        "back, call back, account manager, specialist, onboarding, complaint, department",
        "ru": "поддержка, поддержки, поддержку, техподдержка, техподдержки, служба поддержки, "
        "горячая линия, горячей линии, горячую линию, оператор, операторы, колл-центр, чат, "
        "онлайн-чат, заявка, заявку, тикет, перезвонить, ответ, ответа, отвечает, ответили, "
        "менеджер, специалист, жалоба, жалобу, обращение, отписка, отписку, отдел",
        "ro": "suport, suportul, asistența clienți, asistență clienți, serviciul clienți, relații "
        "cu clienții, call center, operator, operatorul, operatorii, tichet, chat, chat-ul, "
        "linia de asistență, răspuns, răspunde, sunat înapoi, specialist, specialistul, "
        "reclamație, manager de cont, managerul de cont, departament, departamentul",
        "pl": "wsparcie, wsparcia, pomoc techniczna, pomocy technicznej, obsługa klienta, obsługi "
        "klienta, biuro obsługi, dział obsługi, infolinia, infolinii, call center, "
        "konsultant, konsultantka, konsultanci, czat, czacie, zgłoszenie, odpowiedź, "
        "odpowiedzi, odpowiada, odpisuje, oddzwonił, oddzwonić, opiekun klienta, "
        "specjalista, specjalistą, reklamacja, reklamację, helpdesk",
    },
    "payment": {
        "en": "payment, payments, pay, paid, paying, card, cards, credit card, charged, refund, "
        "refunds, invoice, invoices, billing, bill, cash, bank transfer, in installments, "
        "apple pay, google pay, paypal, terminal, atm, transaction, receipt, debit, "
        "autopay, auto-pay, direct debit, took the money, took money",
        "ru": "оплата, оплату, оплаты, оплатить, платить, заплатил, платеж, карта, картой, карту, "
        "наличные, наличными, списали, списание, возврат, возврат денег, счет, счета, "
        "рассрочка, рассрочку, перевод, переводом, сбп, терминал, банкомат, чек, paypal, "
        "транзакция, автоплатеж, автоплатёж, автосписание, сняли деньги, снял деньги, "
        "списал",
        "ro": "plată, plata, plăți, plăti, plătesc, plătit, card, cardul, numerar, cash, ramburs, "
        "rambursare, rambursarea, factură, factura, facturi, facturare, facturarea, "
        "transfer bancar, rate, terminal, terminalul, bancomat, încasat, paypal, google "
        "pay, apple pay, tranzacție, mi-au luat banii, plata automată, debitare directă, "
        "mi-a luat banii, retras banii",
        "pl": "płatność, płatności, płatnością, zapłacić, płacić, zapłaciłem, karta, kartą, "
        "karty, kartę, gotówka, gotówką, przelew, przelewem, blik, blikiem, faktura, "
        "fakturze, faktury, rozliczenia, zwrot, zwrot pieniędzy, raty, terminal, bankomat, "
        "pobrali, pobrano, paypal, transakcja, obciążyli, polecenie zapłaty, zapłata, "
        "zapłaty, pobrało, pobrało pieniądze",
    },
}


def starter_themes() -> tuple[ThemeSpec, ...]:
    """The eight starter themes with their words in en, ru, ro, pl."""
    return tuple(
        ThemeSpec(key, {language: _split(text) for language, text in by_language.items()})
        for key, by_language in _STARTER.items()
    )
