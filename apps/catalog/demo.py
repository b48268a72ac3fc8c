"""The demo catalog of Candor Outfitters, a fictional outdoor and clothing retailer that asks carefully.

``seed_demo_catalog`` is idempotent: every row is found by its natural key and brought up to date, except
notice versions that are already published (and their texts), which are immutable and left exactly as they are.
It never publishes anything; ``manage.py seed_demo`` does that through the consent app's write path.
"""

from collections.abc import Mapping

from django.db import transaction

from .models import Channel, Notice, NoticeText, NoticeVersion, Option, Topic

# code, label, double opt-in, supports quiet hours
CHANNELS = [
    ("email", {"en": "Email", "de": "E-Mail"}, True, False),
    ("sms", {"en": "Text message (SMS)", "de": "SMS"}, False, True),
    ("push", {"en": "App notifications", "de": "App-Benachrichtigungen"}, False, True),
    ("postal", {"en": "Post", "de": "Post"}, False, False),
    ("phone", {"en": "Phone call", "de": "Telefonanruf"}, False, False),
]

# slug, label, channels, required, required reason
TOPICS = [
    (
        "order-updates",
        {"en": "Order and delivery updates", "de": "Bestell- und Lieferinformationen"},
        ["email", "sms", "push"],
        True,
        {
            "en": "We need this to fulfil your orders: confirmations, shipping and delivery notices, and problems "
            "with a payment or a return. It carries no advertising.",
            "de": "Wir brauchen das, um Ihre Bestellungen auszuführen: Bestätigungen, Versand- und "
            "Zustellhinweise sowie Probleme mit einer Zahlung oder Rücksendung. Es enthält keine Werbung.",
        },
    ),
    ("new-arrivals", {"en": "New arrivals", "de": "Neuheiten"}, ["email", "push", "postal"], False, {}),
    (
        "sales-and-offers",
        {"en": "Sales and offers", "de": "Sale und Angebote"},
        ["email", "sms", "push"],
        False,
        {},
    ),
    ("back-in-stock", {"en": "Back in stock", "de": "Wieder verfügbar"}, ["email", "sms", "push"], False, {}),
    (
        "local-events",
        {"en": "Events near you", "de": "Veranstaltungen in Ihrer Nähe"},
        ["email", "sms", "push", "phone"],
        False,
        {},
    ),
    (
        "style-tips",
        {"en": "Care and style tips", "de": "Pflege- und Stiltipps"},
        ["email", "push"],
        False,
        {},
    ),
    ("product-reviews", {"en": "Review requests", "de": "Bitte um Bewertungen"}, ["email"], False, {}),
    (
        "loyalty-rewards",
        {"en": "Member rewards", "de": "Prämien für Mitglieder"},
        ["email", "push"],
        False,
        {},
    ),
]

# set -> [(code, label, description, is_default)], in rank order
OPTIONS = {
    Option.Set.FREQUENCY: [
        (
            "real_time",
            {"en": "As it happens", "de": "Sofort"},
            {
                "en": "Each message as soon as there is news, up to your weekly cap.",
                "de": "Jede Nachricht, sobald es etwas Neues gibt, bis zu Ihrer Obergrenze pro Woche.",
            },
            False,
        ),
        (
            "daily",
            {"en": "Daily digest", "de": "Täglich"},
            {
                "en": "At most one message a day, in the morning, with all the news bundled.",
                "de": "Höchstens eine Nachricht am Tag, morgens, mit allen Neuigkeiten gebündelt.",
            },
            False,
        ),
        (
            "weekly",
            {"en": "Weekly digest", "de": "Wöchentlich"},
            {
                "en": "One message a week, on Thursday, with everything from your topics.",
                "de": "Eine Nachricht pro Woche, donnerstags, mit allem zu Ihren Themen.",
            },
            True,
        ),
        (
            "monthly",
            {"en": "Monthly digest", "de": "Monatlich"},
            {
                "en": "One message at the start of each month with the highlights only.",
                "de": "Eine Nachricht zu Monatsbeginn, nur mit dem Wichtigsten.",
            },
            False,
        ),
    ],
    Option.Set.LOCATION: [
        (
            "off",
            {"en": "Off", "de": "Aus"},
            {
                "en": "We do not use where you are. You see the same shop and offers as everyone.",
                "de": "Wir nutzen Ihren Standort nicht. Sie sehen denselben Shop und dieselben Angebote wie alle.",
            },
            True,
        ),
        (
            "country",
            {"en": "Country", "de": "Land"},
            {
                "en": "Prices, sizes and delivery times for your country.",
                "de": "Preise, Größen und Lieferzeiten für Ihr Land.",
            },
            False,
        ),
        (
            "region",
            {"en": "Region", "de": "Region"},
            {
                "en": "Also regional events, and gear for your region's weather, e.g. Bavaria or the Lake District.",
                "de": "Dazu regionale Veranstaltungen und Ausrüstung für das Wetter Ihrer Region, etwa Bayern.",
            },
            False,
        ),
        (
            "city",
            {"en": "Town or city", "de": "Stadt"},
            {
                "en": "Also stock and events at the stores in your town.",
                "de": "Dazu Bestand und Veranstaltungen der Filialen in Ihrer Stadt.",
            },
            False,
        ),
        (
            "precise",
            {"en": "Precise", "de": "Genau"},
            {
                "en": "Your device's exact position while you use the app: the nearest store's stock and the way "
                "there.",
                "de": "Die genaue Position Ihres Geräts, während Sie die App nutzen: Bestand der nächsten Filiale "
                "und der Weg dorthin.",
            },
            False,
        ),
    ],
    Option.Set.PERSONALIZATION: [
        (
            "none",
            {"en": "None", "de": "Keine"},
            {
                "en": "Everyone sees the same selection. We use nothing about you to choose it.",
                "de": "Alle sehen dieselbe Auswahl. Wir nutzen dafür nichts über Sie.",
            },
            True,
        ),
        (
            "interests",
            {"en": "From my interests", "de": "Nach meinen Interessen"},
            {
                "en": "We choose from the interests you tell us, such as hiking or climbing, and nothing else.",
                "de": "Wir wählen nach den Interessen, die Sie uns nennen, etwa Wandern oder Klettern, und nach "
                "nichts anderem.",
            },
            False,
        ),
        (
            "activity",
            {"en": "From my activity", "de": "Nach meiner Aktivität"},
            {
                "en": "We also use what you view and buy with us. Never data from other companies.",
                "de": "Wir nutzen auch, was Sie bei uns ansehen und kaufen. Nie Daten anderer Firmen.",
            },
            False,
        ),
    ],
}

# Purposes a browser's Global Privacy Control signal switches off: those about tracking, profiling or sharing.
GPC_PURPOSES = frozenset({"location", "personalization", "topic:sales-and-offers"})

FIXED_TITLES = {
    "frequency": {"en": "How often we write", "de": "Wie oft wir schreiben"},
    "location": {"en": "Your location", "de": "Ihr Standort"},
    "personalization": {"en": "Tailored suggestions", "de": "Persönliche Vorschläge"},
}

# purpose -> language -> (what we ask, what you get, what we do, what we never do)
NOTICE_TEXTS = {
    "channel:email": {
        "en": (
            "May we email you at the address you gave us?",
            "Emails on the topics you pick, at the pace you set. Every one has a one-click unsubscribe link.",
            "First we send one email with a confirmation link. Marketing emails start only after you click it.",
            "We never sell or rent your email address. We never give it to other companies for their advertising.",
        ),
        "de": (
            "Dürfen wir Ihnen E-Mails an die angegebene Adresse schicken?",
            "E-Mails zu den Themen, die Sie wählen, so oft Sie es möchten. Jede enthält einen Link zum Abmelden "
            "mit einem Klick.",
            "Zuerst schicken wir eine E-Mail mit einem Bestätigungslink. Werbung schicken wir erst, wenn Sie "
            "darauf geklickt haben.",
            "Wir verkaufen oder vermieten Ihre E-Mail-Adresse nie. Wir geben sie nie an andere Firmen für deren "
            "Werbung weiter.",
        ),
    },
    "channel:sms": {
        "en": (
            "May we send text messages to your mobile number?",
            "Short, urgent news on your topics, e.g. when your size is back in stock.",
            "We text only about topics where you chose SMS, and never in your quiet hours. Reply STOP to any "
            "text and they end.",
            "We never sell your number or pass it on for marketing. We never call it unless you agreed to calls.",
        ),
        "de": (
            "Dürfen wir Ihnen SMS an Ihre Mobilnummer schicken?",
            "Kurze, eilige Hinweise zu Ihren Themen, etwa wenn Ihre Größe wieder da ist.",
            "Wir schicken SMS nur zu Themen, für die Sie SMS gewählt haben, und nie in Ihren Ruhezeiten. "
            "Antworten Sie STOP, und es kommen keine mehr.",
            "Wir verkaufen Ihre Nummer nie und geben sie nie für Werbung weiter. Wir rufen sie nie an, außer Sie "
            "haben Anrufen zugestimmt.",
        ),
    },
    "channel:push": {
        "en": (
            "May we send notifications to the Candor Outfitters app on your phone?",
            "Quick alerts in the app on your topics, e.g. an item back in stock or a date for a guided hike.",
            "We send them only for topics where you chose the app, and hold them in your quiet hours. You can "
            "also switch them off in your phone's settings.",
            "We never use notifications to track where you are. We never show other companies' ads in them.",
        ),
        "de": (
            "Dürfen wir Ihnen Benachrichtigungen in der App von Candor Outfitters schicken?",
            "Schnelle Hinweise in der App zu Ihren Themen, etwa zu einem wieder verfügbaren Artikel oder einem "
            "Termin für eine geführte Wanderung.",
            "Wir schicken sie nur zu Themen, für die Sie die App gewählt haben, und halten sie in Ihren "
            "Ruhezeiten zurück. Sie können sie auch in den Einstellungen Ihres Telefons abschalten.",
            "Wir nutzen Benachrichtigungen nie, um Ihren Standort zu verfolgen. Wir zeigen darin nie Werbung "
            "anderer Firmen.",
        ),
    },
    "channel:postal": {
        "en": (
            "May we send you post at your delivery address?",
            "Our printed seasonal catalogue with everything new, at most four times a year.",
            "We take the address from your customer account. The printer gets only your name and address and "
            "deletes both after the mailing.",
            "We never sell or rent your address to other mail-order firms. We never buy addresses to send "
            "unasked-for post.",
        ),
        "de": (
            "Dürfen wir Ihnen Post an Ihre Lieferadresse schicken?",
            "Unseren gedruckten Saisonkatalog mit allen Neuheiten, höchstens viermal im Jahr.",
            "Wir nehmen die Adresse aus Ihrem Kundenkonto. Die Druckerei erhält nur Name und Adresse und löscht "
            "beides nach dem Versand.",
            "Wir verkaufen oder vermieten Ihre Adresse nie an andere Versandhändler. Wir kaufen nie Adressen, "
            "um ungefragt Post zu schicken.",
        ),
    },
    "channel:phone": {
        "en": (
            "May the team at your local store call you?",
            "A personal call about events near you, e.g. when a place frees up in a workshop you wanted.",
            "We call only on working days between 9:00 and 19:00, at most once a month. Tell us on any call "
            "that you want no more calls, and we stop.",
            "We never use call centres or automated calls. We never sell your number.",
        ),
        "de": (
            "Darf das Team Ihrer Filiale Sie anrufen?",
            "Einen persönlichen Anruf zu Veranstaltungen in Ihrer Nähe, etwa wenn in einem gewünschten "
            "Workshop ein Platz frei wird.",
            "Wir rufen nur werktags zwischen 9 und 19 Uhr an, höchstens einmal im Monat. Sagen Sie uns bei "
            "einem Anruf, dass Sie keine Anrufe mehr möchten, und wir hören auf.",
            "Wir beauftragen nie Callcenter und nutzen nie automatische Anrufe. Wir verkaufen Ihre Nummer nie.",
        ),
    },
    "topic:order-updates": {
        "en": (
            "Where should we send news about your orders?",
            "You know when your order ships, when it arrives, and if anything goes wrong with a payment or a "
            "return.",
            "We send these only while an order or return is open. They carry no advertising.",
            "We never slip offers into order updates. We never track whether you opened them.",
        ),
        "de": (
            "Wohin sollen wir Nachrichten zu Ihren Bestellungen schicken?",
            "Sie wissen, wann Ihre Bestellung verschickt wird, wann sie ankommt und ob es ein Problem mit einer "
            "Zahlung oder Rücksendung gibt.",
            "Wir schicken diese Nachrichten nur, solange eine Bestellung oder Rücksendung offen ist. Sie "
            "enthalten keine Werbung.",
            "Wir verstecken nie Angebote in Bestellnachrichten. Wir messen nie, ob Sie sie geöffnet haben.",
        ),
    },
    "topic:new-arrivals": {
        "en": (
            "Do you want to hear about new products when they arrive?",
            "See each season's new gear and clothing before it is in the stores. By post: our printed seasonal "
            "catalogue.",
            "We send one round-up per new collection, at the pace you set.",
            "We never send new arrivals more often than you chose. We never share your choice with the brands "
            "we sell.",
        ),
        "de": (
            "Möchten Sie von neuen Produkten erfahren, sobald sie da sind?",
            "Neue Ausrüstung und Kleidung jeder Saison sehen, bevor sie in den Filialen ist. Per Post: unser "
            "gedruckter Saisonkatalog.",
            "Wir schicken eine Übersicht pro neuer Kollektion, in dem Rhythmus, den Sie wählen.",
            "Wir schicken Neuheiten nie öfter, als Sie es eingestellt haben. Wir teilen Ihre Auswahl nie mit den "
            "Marken, die wir führen.",
        ),
    },
    "topic:sales-and-offers": {
        "en": (
            "Do you want to hear about sales and discount codes?",
            "Sale dates a day before they are public, and discount codes only subscribers get.",
            "We count opens and clicks of these messages to learn which offers are useful. A Global Privacy "
            "Control signal from your browser switches this topic off.",
            "We never upload your email address to ad networks to show you ads elsewhere. We never sell what "
            "you click.",
        ),
        "de": (
            "Möchten Sie von Sale-Aktionen und Rabattcodes erfahren?",
            "Sale-Termine einen Tag vor allen anderen und Rabattcodes, die nur Abonnenten bekommen.",
            "Wir zählen Öffnungen und Klicks dieser Nachrichten, um zu lernen, welche Angebote nützen. Ein "
            "Global-Privacy-Control-Signal Ihres Browsers schaltet dieses Thema ab.",
            "Wir laden Ihre E-Mail-Adresse nie bei Werbenetzwerken hoch, um Ihnen anderswo Werbung zu zeigen. "
            "Wir verkaufen nie, worauf Sie klicken.",
        ),
    },
    "topic:back-in-stock": {
        "en": (
            "Should we tell you when an item you flagged is available again?",
            "One message as soon as the item and size you flagged are back, so you need not keep checking.",
            "We keep your request until the item is back or 90 days have passed, then delete it.",
            "We never use your requests to raise prices. We never remind you of items you did not flag.",
        ),
        "de": (
            "Sollen wir Ihnen Bescheid geben, wenn ein vorgemerkter Artikel wieder verfügbar ist?",
            "Eine Nachricht, sobald Artikel und Größe, die Sie vorgemerkt haben, wieder da sind. Sie müssen nicht "
            "ständig nachsehen.",
            "Wir behalten Ihre Vormerkung, bis der Artikel wieder da ist oder 90 Tage vergangen sind, und "
            "löschen sie dann.",
            "Wir nutzen Ihre Vormerkungen nie, um Preise zu erhöhen. Wir erinnern Sie nie an Artikel, die Sie "
            "nicht vorgemerkt haben.",
        ),
    },
    "topic:local-events": {
        "en": (
            "Do you want invitations to events near you?",
            "Invitations to workshops, repair days and guided hikes at your local store, with places held for "
            "early replies.",
            "We pick events by the town or region you share under location. Without it, you hear only about "
            "online events.",
            "We never tell anyone which events you attend. We never pass your contact details to partners.",
        ),
        "de": (
            "Möchten Sie Einladungen zu Veranstaltungen in Ihrer Nähe?",
            "Einladungen zu Workshops, Reparaturtagen und geführten Wanderungen Ihrer Filiale, mit reservierten "
            "Plätzen für frühe Zusagen.",
            "Wir wählen die Veranstaltungen nach der Stadt oder Region, die Sie unter Standort freigeben. Ohne "
            "Freigabe erfahren Sie nur von Online-Veranstaltungen.",
            "Wir erzählen nie jemandem, an welchen Veranstaltungen Sie teilnehmen. Wir geben Ihre Kontaktdaten "
            "nie an Partner weiter.",
        ),
    },
    "topic:style-tips": {
        "en": (
            "Would you like care and style tips?",
            "Practical guides: how to wash a down jacket, waterproof your boots, or dress in layers for a "
            "winter hike.",
            "We send a guide now and then, at the pace you set. We link a product only when the job needs one.",
            "We never pass off paid advertising as tips. We never tell anyone what you read.",
        ),
        "de": (
            "Möchten Sie Pflege- und Stiltipps bekommen?",
            "Praktische Anleitungen: eine Daunenjacke waschen, Schuhe imprägnieren, sich für eine "
            "Winterwanderung im Zwiebellook anziehen.",
            "Wir schicken ab und zu eine Anleitung, in Ihrem gewählten Rhythmus. Produkte verlinken wir nur, "
            "wenn man sie für die Aufgabe braucht.",
            "Wir tarnen nie bezahlte Werbung als Tipp. Wir erzählen nie jemandem, was Sie lesen.",
        ),
    },
    "topic:product-reviews": {
        "en": (
            "May we ask you to review things you bought?",
            "You help other customers choose and tell us what to improve. One request per order, two weeks "
            "after delivery.",
            "If you write a review, we publish it with your first name only. Defects you report go to our "
            "product team.",
            "We never reward only good reviews. We never send more than one reminder.",
        ),
        "de": (
            "Dürfen wir Sie bitten, gekaufte Produkte zu bewerten?",
            "Sie helfen anderen bei der Auswahl und sagen uns, was wir verbessern sollen. Eine Bitte pro "
            "Bestellung, zwei Wochen nach der Lieferung.",
            "Wenn Sie eine Bewertung schreiben, veröffentlichen wir sie nur mit Ihrem Vornamen. Gemeldete Mängel "
            "gehen an unser Produktteam.",
            "Wir belohnen nie nur gute Bewertungen. Wir schicken nie mehr als eine Erinnerung.",
        ),
    },
    "topic:loyalty-rewards": {
        "en": (
            "Do you want news about your member points and rewards?",
            "Your points balance, the rewards you can claim, and a reminder before any points expire.",
            "We count points from your purchases with us. At most one statement a month, plus one reminder "
            "before points expire.",
            "We never sell your purchase history. We never let points expire without telling you first.",
        ),
        "de": (
            "Möchten Sie Neuigkeiten zu Ihren Punkten und Prämien?",
            "Ihren Punktestand, die Prämien, die Sie einlösen können, und eine Erinnerung, bevor Punkte "
            "verfallen.",
            "Wir zählen Punkte anhand Ihrer Einkäufe bei uns. Höchstens eine Übersicht im Monat und eine "
            "Erinnerung vor dem Verfall.",
            "Wir verkaufen Ihre Einkaufshistorie nie. Wir lassen Punkte nie verfallen, ohne Sie vorher zu "
            "informieren.",
        ),
    },
    "frequency": {
        "en": (
            "How often do you want to hear from us, and when should we stay quiet?",
            "Control of your inbox: a digest instead of single messages, a weekly cap, a pause, and quiet hours "
            "at night.",
            "We bundle marketing into the digest you chose and hold texts and app notifications in your quiet "
            "hours. Order updates still come right away.",
            "We never go over your weekly cap. We never send marketing while you have paused us.",
        ),
        "de": (
            "Wie oft möchten Sie von uns hören, und wann sollen wir still sein?",
            "Sie bestimmen über Ihren Posteingang: eine Zusammenfassung statt einzelner Nachrichten, eine "
            "Obergrenze pro Woche, eine Pause und Ruhezeiten in der Nacht.",
            "Wir bündeln Werbung in der gewählten Zusammenfassung und halten SMS und App-Benachrichtigungen in "
            "Ihren Ruhezeiten zurück. Bestellnachrichten kommen weiterhin sofort.",
            "Wir überschreiten nie Ihre Obergrenze pro Woche. Wir schicken nie Werbung, solange Sie pausiert "
            "haben.",
        ),
    },
    "location": {
        "en": (
            "How precisely may we know where you are?",
            "Stock, events and delivery times that fit where you are. You can time-box it, e.g. for 30 days "
            "while you travel.",
            "We use only the level you pick and discard anything finer. A time-boxed choice ends by itself, and "
            "then we stop using your location.",
            "We never share your precise location with advertisers or data brokers. We never keep a history of "
            "where you have been.",
        ),
        "de": (
            "Wie genau dürfen wir wissen, wo Sie sind?",
            "Bestand, Veranstaltungen und Lieferzeiten, die zu Ihrem Ort passen. Sie können die Freigabe "
            "befristen, etwa für 30 Tage auf Reisen.",
            "Wir nutzen nur die Genauigkeit, die Sie wählen, und verwerfen alles Genauere. Eine befristete "
            "Freigabe endet von selbst, danach nutzen wir Ihren Standort nicht mehr.",
            "Wir geben Ihren genauen Standort nie an Werbetreibende oder Datenhändler weiter. Wir speichern nie "
            "einen Verlauf, wo Sie waren.",
        ),
    },
    "personalization": {
        "en": (
            "How much may we tailor what we show you?",
            "Suggestions that fit you: from the interests you tell us, or also from what you view and buy with "
            "us.",
            "We use only what the level you pick allows. When you step down a level, it applies from your next "
            "visit or message.",
            "We never buy data about you from other companies. We never tailor by health, religion or other "
            "sensitive matters.",
        ),
        "de": (
            "Wie stark dürfen wir anpassen, was wir Ihnen zeigen?",
            "Vorschläge, die zu Ihnen passen: nach den Interessen, die Sie uns nennen, oder auch nach dem, was "
            "Sie bei uns ansehen und kaufen.",
            "Wir nutzen nur, was die gewählte Stufe erlaubt. Wenn Sie eine Stufe zurückgehen, gilt das ab Ihrem "
            "nächsten Besuch oder der nächsten Nachricht.",
            "Wir kaufen nie Daten über Sie von anderen Firmen. Wir passen nie nach Gesundheit, Religion oder "
            "anderen sensiblen Themen an.",
        ),
    },
}

FIRST_VERSION_SUMMARY = {"en": "First version.", "de": "Erste Fassung."}


@transaction.atomic
def seed_demo_catalog() -> None:
    """Create or bring up to date the demo catalog; published notice versions are left untouched."""
    channels = {}
    for position, (code, label, double_opt_in, quiet_hours) in enumerate(CHANNELS):
        channels[code], _ = Channel.objects.update_or_create(
            code=code,
            defaults={
                "label": label,
                "double_opt_in": double_opt_in,
                "supports_quiet_hours": quiet_hours,
                "position": position,
            },
        )

    topics = []
    for position, (slug, label, topic_channels, required, required_reason) in enumerate(TOPICS):
        topic, _ = Topic.objects.update_or_create(
            slug=slug,
            defaults={
                "label": label,
                "kind": Topic.Kind.TRANSACTIONAL if required else Topic.Kind.MARKETING,
                "required": required,
                "required_reason": required_reason,
                "position": position,
            },
        )
        topic.channels.set([channels[code] for code in topic_channels])
        topics.append(topic)

    for option_set, options in OPTIONS.items():
        default_code = next(code for code, _, _, is_default in options if is_default)
        # At most one default per set: clear a stale one before the new default is saved.
        Option.objects.filter(set=option_set, is_default=True).exclude(code=default_code).update(
            is_default=False
        )
        for rank, (code, label, description, is_default) in enumerate(options):
            Option.objects.update_or_create(
                set=option_set,
                code=code,
                defaults={"label": label, "description": description, "rank": rank, "is_default": is_default},
            )

    titles = {channel.purpose: channel.label for channel in channels.values()}
    titles.update({topic.purpose: topic.label for topic in topics})
    titles.update(FIXED_TITLES)
    for purpose, title in titles.items():
        notice, _ = Notice.objects.update_or_create(
            purpose=purpose, defaults={"title": title, "honours_gpc": purpose in GPC_PURPOSES}
        )
        _seed_first_version(notice, NOTICE_TEXTS[purpose])


def _seed_first_version(notice: Notice, texts: Mapping[str, tuple[str, ...]]) -> None:
    version, created = NoticeVersion.objects.get_or_create(
        notice=notice, number=1, defaults={"material": False, "change_summary": FIRST_VERSION_SUMMARY}
    )
    if version.is_published:
        return  # immutable: its wording is what customers saw
    if not created and version.change_summary != FIRST_VERSION_SUMMARY:
        version.change_summary = FIRST_VERSION_SUMMARY
        version.save(update_fields=["change_summary"])
    for language, fields in texts.items():
        NoticeText.objects.update_or_create(
            version=version,
            language=language,
            defaults=dict(zip(NoticeText.TEXT_FIELDS, fields, strict=True)),
        )
