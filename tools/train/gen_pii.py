"""Generated PII training text for the embedded default classifier.

Two generators, deterministic for a seed:
- substitute(rows): each training sentence again with every entity replaced
  by another value of the same type (from the entities of the training rows
  themselves and from the value generators below), spans recomputed. The
  sentence frames are the training split's only: held-out rows are never
  read.
- templates(): chat-style sentences written here for the rare types
  (SSN, driver licence, IBAN, IP, e-mail, phone, credit card, domain) with
  generated values.
Rows: {"text", "spans": [{"type", "start", "end"}]} (character offsets).
"""
import random
import string

FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Maria",
         "Ahmed", "Fatima", "Wei", "Mei", "Hiroshi", "Yuki", "Olga", "Ivan", "Sven", "Ingrid", "Pierre",
         "Camille", "Giulia", "Marco", "Ana", "Joao", "Priya", "Raj", "Kwame", "Amara", "Lars", "Anna",
         "Sofia", "Mateo", "Noah", "Emma", "Liam", "Olivia", "Lukas", "Zofia", "Krisztina", "Mikko", "Aino"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
        "Nguyen", "Kim", "Tanaka", "Suzuki", "Ivanov", "Petrov", "Johansson", "Nielsen", "Dubois", "Rossi",
        "Silva", "Santos", "Patel", "Sharma", "Mensah", "Okafor", "Kowalski", "Novak", "Horvath", "Virtanen",
        "Schmidt", "Muller", "Weber", "Fischer", "Cohen", "Levi", "O'Brien", "McDonald", "Van der Berg"]
DOMAINS = ["example.com", "mail.com", "gmail.com", "yahoo.com", "outlook.com", "company.org", "web.de",
           "rhyta.com", "teleworm.us", "cuvox.de", "fleckens.hu", "dayrep.com", "armyspy.com", "posteo.net"]
TLDS = ["com", "org", "net", "de", "se", "ch", "cz", "io", "co.uk", "fr", "com.cy", "fi", "nl"]
WORDS = ["Blue", "Prime", "Green", "Smart", "Cloud", "Pixel", "Ortho", "Live", "Artist", "Older", "Whole", "Song",
         "Prices", "Traffic", "Anchor", "Movie", "Show", "Tech", "Data", "Garden", "Travel", "Shop"]


def _digits(rng, n):
    return "".join(rng.choice(string.digits) for _ in range(n))


def person(rng):
    r = rng.random()
    if r < 0.2:
        return rng.choice(FIRST)
    if r < 0.3:
        return "%s %s. %s" % (rng.choice(FIRST), rng.choice(string.ascii_uppercase), rng.choice(LAST))
    return "%s %s" % (rng.choice(FIRST), rng.choice(LAST))


def email(rng):
    f, l = rng.choice(FIRST), rng.choice(LAST).replace(" ", "").replace("'", "")
    fmt = rng.choice(["{f}{l}", "{f}.{l}", "{f}_{l}{n}", "{fi}{l}", "{f}{l}{n}"])
    u = fmt.format(f=f, l=l, fi=f[0], n=rng.randint(1, 99))
    if rng.random() < 0.4:
        u = u.lower()
    return u + "@" + rng.choice(DOMAINS)


def phone(rng):
    return rng.choice([
        lambda: "%s-%s-%s" % (_digits(rng, 3), _digits(rng, 3), _digits(rng, 4)),
        lambda: "(%s) %s-%s" % (_digits(rng, 3), _digits(rng, 3), _digits(rng, 4)),
        lambda: "+1 %s %s %s" % (_digits(rng, 3), _digits(rng, 3), _digits(rng, 4)),
        lambda: "001-%s-%s-%s" % (_digits(rng, 3), _digits(rng, 3), _digits(rng, 4)),
        lambda: "%s %s %s" % (_digits(rng, 3), _digits(rng, 2), _digits(rng, 3)),
        lambda: "0%s %s %s" % (_digits(rng, 2), _digits(rng, 3), _digits(rng, 4)),
        lambda: "+44 %s %s" % (_digits(rng, 4), _digits(rng, 6)),
        lambda: _digits(rng, 10),
    ])()


def credit_card(rng):
    p = rng.choice(["4", "5", "37", "34", "6011", "35", "30"])
    n = rng.choice([16, 16, 15, 14])
    s = p + _digits(rng, n - len(p))
    if rng.random() < 0.25 and n == 16:
        s = " ".join(s[i:i + 4] for i in range(0, 16, 4))
    elif rng.random() < 0.15 and n == 16:
        s = "-".join(s[i:i + 4] for i in range(0, 16, 4))
    return s


def iban(rng):
    cc = rng.choice(["GB", "DE", "FR", "NL", "ES", "IT"])
    if cc == "GB":
        s = "GB%s%s%s" % (_digits(rng, 2), "".join(rng.choice(string.ascii_uppercase) for _ in range(4)),
                          _digits(rng, 14))
    else:
        s = cc + _digits(rng, 2) + _digits(rng, rng.choice([18, 20, 22]))
    if rng.random() < 0.2:
        s = " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return s


def ssn(rng):
    return "%s-%s-%s" % (_digits(rng, 3), _digits(rng, 2), _digits(rng, 4))


def ip(rng):
    if rng.random() < 0.2:
        return ":".join("%x" % rng.randint(0, 65535) for _ in range(8))
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def driver_license(rng):
    return rng.choice([
        lambda: _digits(rng, 7), lambda: _digits(rng, 9),
        lambda: rng.choice(string.ascii_uppercase) + _digits(rng, rng.choice([7, 8, 12, 14])),
        lambda: "%s-%s-%s" % (_digits(rng, 4), _digits(rng, 2), _digits(rng, 4)),
    ])()


def domain(rng):
    name = rng.choice(WORDS) + rng.choice(WORDS)
    return rng.choice(["https://www.{n}.{t}/", "https://{n}.{t}/", "www.{n}.{t}", "{n}.{t}",
                       "http://{n}.{t}"]).format(n=name, t=rng.choice(TLDS))


def date_time(rng):
    y, m, d = rng.randint(1940, 2030), rng.randint(1, 12), rng.randint(1, 28)
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"]
    return rng.choice([
        lambda: "%d/%d/%d" % (m, d, y), lambda: "%d-%02d-%02d" % (y, m, d), lambda: "%s %d, %d" % (months[m - 1], d, y),
        lambda: "%d %s %d" % (d, months[m - 1], y), lambda: str(y), lambda: months[m - 1],
        lambda: rng.choice(["Monday", "Tuesday", "Friday", "Sunday", "tomorrow", "next week", "last year"]),
        lambda: "%d-%02d-%02d %02d:%02d:%02d" % (y, m, d, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)),
    ])()


def age(rng):
    return str(rng.randint(1, 99))


def zip_code(rng):
    return rng.choice([lambda: _digits(rng, 5), lambda: _digits(rng, 4), lambda: "%s-%s" % (_digits(rng, 5), _digits(rng, 3)),
                       lambda: "%s %s" % (_digits(rng, 3), _digits(rng, 2))])()


GENERATORS = {"PERSON": person, "EMAIL_ADDRESS": email, "PHONE_NUMBER": phone, "CREDIT_CARD": credit_card,
              "IBAN_CODE": iban, "US_SSN": ssn, "IP_ADDRESS": ip, "US_DRIVER_LICENSE": driver_license,
              "DOMAIN_NAME": domain, "DATE_TIME": date_time, "AGE": age, "ZIP_CODE": zip_code}

TEMPLATES = [
    "My social security number is {US_SSN}.", "SSN: {US_SSN}", "Can you verify SSN {US_SSN} for {PERSON}?",
    "My driver's license number is {US_DRIVER_LICENSE}.", "License no. {US_DRIVER_LICENSE}, issued {DATE_TIME}",
    "Please wire the money to IBAN {IBAN_CODE}.", "My IBAN is {IBAN_CODE}, account holder {PERSON}.",
    "The server at {IP_ADDRESS} is not responding.", "Block requests from {IP_ADDRESS} please",
    "Why can't I ping {IP_ADDRESS}?", "Contact me at {EMAIL_ADDRESS}.", "my email is {EMAIL_ADDRESS}",
    "Send the invoice to {EMAIL_ADDRESS} and cc {EMAIL_ADDRESS}.", "Call me at {PHONE_NUMBER} after 5pm.",
    "{PERSON}'s number is {PHONE_NUMBER}", "Charge it to my card {CREDIT_CARD}.",
    "Card number {CREDIT_CARD}, holder {PERSON}", "Is {DOMAIN_NAME} a legit site?",
    "Check out my website {DOMAIN_NAME}", "Hi, I'm {PERSON}, I'm {AGE} years old.",
    "{PERSON} was born on {DATE_TIME}.", "The meeting with {PERSON} is on {DATE_TIME}.",
    "Write an email to {PERSON} ({EMAIL_ADDRESS}) about the delay.",
    "Summarize this: {PERSON} called from {PHONE_NUMBER} asking about order 4411.",
    "My zip code is {ZIP_CODE}.", "Patient {PERSON}, age {AGE}, SSN {US_SSN}, phone {PHONE_NUMBER}.",
]


def value(rng, typ, pools):
    g = GENERATORS.get(typ)
    pool = pools.get(typ)
    if g and (not pool or rng.random() < 0.5):
        return g(rng)
    if pool:
        return rng.choice(pool)
    return None


def _build(parts):
    text, spans = "", []
    for s, typ in parts:
        if typ:
            spans.append({"type": typ, "start": len(text), "end": len(text) + len(s)})
        text += s
    return {"text": text, "spans": spans}


def pools_of(rows):
    pools = {}
    for r in rows:
        for s in r["spans"]:
            v = r["text"][s["start"]:s["end"]]
            if v.strip():
                pools.setdefault(s["type"], []).append(v)
    return pools


def substitute(rows, n_variants=3, seed=2):
    rng = random.Random(seed)
    pools = pools_of(rows)
    out = []
    for r in rows:
        sp = sorted(r["spans"], key=lambda s: s["start"])
        if not sp or any(a["end"] > b["start"] for a, b in zip(sp, sp[1:])):
            continue
        for _ in range(n_variants):
            parts, pos = [], 0
            for s in sp:
                parts.append((r["text"][pos:s["start"]], None))
                v = value(rng, s["type"], pools) or r["text"][s["start"]:s["end"]]
                parts.append((v, s["type"]))
                pos = s["end"]
            parts.append((r["text"][pos:], None))
            out.append(_build(parts))
    return out


def templates(n, seed=3, pools=None):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        t = rng.choice(TEMPLATES)
        parts, pos = [], 0
        while True:
            i = t.find("{", pos)
            if i < 0:
                parts.append((t[pos:], None))
                break
            j = t.index("}", i)
            parts.append((t[pos:i], None))
            typ = t[i + 1:j]
            parts.append((value(rng, typ, pools or {}), typ))
            pos = j + 1
        out.append(_build(parts))
    return out
