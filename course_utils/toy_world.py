"""A made-up world of people, sports and cities, written out as short documents to train a model on.

A small transformer trained on a laptop CPU cannot learn much English, but it can learn a closed
world: who plays which sport, who lives where, which city is the capital of which country. Because
we wrote the world ourselves, we know every fact in it and can ask the trained model about each one.

>>> world = toy_world(seed=0)
>>> world
ToyWorld(seed=0, 100 people, 12 countries, 18,000 training and 1,324 held-out documents, 224 facts)
>>> world.train[1]
'David Petrov moved to Cusco last year. David Petrov plays boxing every Thursday.'
>>> world.facts[0]
Fact(prompt='Jonas Rossi plays the sport of', answer=' basketball', subject='Jonas Rossi', relation='sport')

Two things are built in on purpose:

* **Names repeat inside a document.** First names are shared by several people, so after the second
  "David" the surname can only be predicted by looking back at the first "David Petrov". The book
  club documents list a few people twice in the same order.
* **Some of the text is noise.** Who met whom on which weekday, and who is in the book club, is
  drawn at random in every document, so no model can predict it: the loss has a floor above zero.

The geography (countries, capitals, other cities) is real; the people are invented.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from course_utils.errors import OneLineError

__all__ = ["Fact", "Person", "ToyWorld", "ToyWorldError", "toy_world", "CAPITALS", "OTHER_CITIES", "SPORTS"]

FIRST_NAMES = ("Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Hugo", "Iris", "Jonas",
               "Kara", "Leo", "Maya", "Noah", "Olga", "Paul", "Rosa", "Sam", "Tara", "Victor")
SURNAMES = ("Adams", "Berg", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hall", "Ito", "Jensen",
            "Khan", "Lopez", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Silva", "Weber")
SPORTS = ("tennis", "football", "basketball", "golf", "chess", "hockey", "cricket", "rugby", "boxing",
          "cycling")
CAPITALS: Mapping[str, str] = MappingProxyType({
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Poland": "Warsaw",
    "Japan": "Tokyo", "Egypt": "Cairo", "Peru": "Lima", "Kenya": "Nairobi", "Canada": "Ottawa",
    "Norway": "Oslo", "Greece": "Athens",
})
OTHER_CITIES: Mapping[str, str] = MappingProxyType({  # city -> country, one more city per country
    "Lyon": "France", "Munich": "Germany", "Milan": "Italy", "Seville": "Spain", "Krakow": "Poland",
    "Osaka": "Japan", "Alexandria": "Egypt", "Cusco": "Peru", "Mombasa": "Kenya", "Toronto": "Canada",
    "Bergen": "Norway", "Patras": "Greece",
})
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Relation = Literal["sport", "city", "capital", "country"]

# Sentence templates. The first of each list is the form the fact queries use.
SPORT_SENTENCES = ("{name} plays the sport of {sport}.", "{name} plays {sport} every {day}.",
                   "{name} is a {sport} player.")
CITY_SENTENCES = ("{name} lives in the city of {city}.", "{name} lives in {city}, {country}.",
                  "{name} moved to {city} last year.")
NOISE_SENTENCE = "On {day} {name} met {other} in {place}."
GROUP_DOCUMENT = "The book club in {place} met on {day}: {members}. It met again on {day2}: {members}."
GEOGRAPHY_SENTENCES = ("The capital of {country} is {capital}.", "{capital} is the capital of {country}.",
                       "{city} is a city in {country}.", "{capital} is a city in {country}.")
QUERIES: Mapping[Relation, str] = MappingProxyType({
    "sport": "{name} plays the sport of",
    "city": "{name} lives in the city of",
    "capital": "The capital of {country} is",
    "country": "{city} is a city in",
})


class ToyWorldError(OneLineError, ValueError):
    """A toy world that cannot be built with the sizes asked for."""


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    sport: str
    city: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Fact:
    """One thing the world states, as a prompt and the single word that completes it.

    ``answer`` starts with a space: it is the text that follows ``prompt`` directly, which is how a
    tokenizer with leading-space tokens cuts it (``" chess"``, one token).
    """

    prompt: str  # "Noah Khan plays the sport of"
    answer: str  # " chess"
    subject: str  # "Noah Khan": the words of the prompt the fact is about (for causal tracing)
    relation: Relation


@dataclass(frozen=True)
class ToyWorld:
    """The world, its documents and its facts. Build one with :func:`toy_world`.

    ``train`` and ``held_out`` are lists of documents (a few sentences each, no line breaks). No
    held-out document appears word for word in ``train``; both state the same facts, so a model that
    has learned the facts does well on held-out text it has never read. ``facts`` lists every fact
    the training documents state, each as a (prompt, answer) query.
    """

    seed: int
    people: tuple[Person, ...]
    capitals: Mapping[str, str]  # country -> capital
    country_of: Mapping[str, str]  # city -> country, for every city (capitals too)
    train: tuple[str, ...] = field(repr=False)
    held_out: tuple[str, ...] = field(repr=False)
    facts: tuple[Fact, ...] = field(repr=False)

    @property
    def cities(self) -> tuple[str, ...]:
        return tuple(self.country_of)

    def facts_about(self, relation: Relation) -> list[Fact]:
        return [f for f in self.facts if f.relation == relation]

    def __repr__(self) -> str:
        return (f"ToyWorld(seed={self.seed}, {len(self.people)} people, {len(self.capitals)} countries, "
                f"{len(self.train):,} training and {len(self.held_out):,} held-out documents, "
                f"{len(self.facts)} facts)")


def _person_document(person: Person, people: tuple[Person, ...], country_of: Mapping[str, str],
                     rng: random.Random, noise: int) -> str:
    fill = {"name": person.name, "sport": person.sport, "city": person.city,
            "country": country_of[person.city], "day": rng.choice(WEEKDAYS)}
    sentences = [rng.choice(SPORT_SENTENCES).format(**fill), rng.choice(CITY_SENTENCES).format(**fill)]
    for _ in range(noise):
        other = rng.choice([p for p in people if p is not person])
        sentences.append(NOISE_SENTENCE.format(name=person.name, other=other.name, day=rng.choice(WEEKDAYS),
                                               place=rng.choice(list(country_of))))
    rng.shuffle(sentences)
    return " ".join(sentences)


def _geography_document(country: str, capital: str, city: str, rng: random.Random) -> str:
    sentences = rng.sample(GEOGRAPHY_SENTENCES, k=rng.randint(1, 3))
    return " ".join(s.format(country=country, capital=capital, city=city) for s in sentences)


def _group_document(people: tuple[Person, ...], places: Sequence[str], rng: random.Random) -> str:
    members = [p.name for p in rng.sample(people, rng.randint(3, 6))]
    day, day2 = rng.sample(WEEKDAYS, 2)
    listed = ", ".join(members[:-1]) + " and " + members[-1]
    return GROUP_DOCUMENT.format(place=rng.choice(places), day=day, day2=day2, members=listed)


def _documents(people: tuple[Person, ...], country_of: Mapping[str, str], n: int, rng: random.Random,
               geography_share: float, group_share: float) -> list[str]:
    other_city = {country: city for city, country in OTHER_CITIES.items()}
    docs = []
    for _ in range(n):
        kind = rng.random()
        if kind < group_share:
            docs.append(_group_document(people, list(country_of), rng))
        elif kind < group_share + geography_share:
            country = rng.choice(list(CAPITALS))
            docs.append(_geography_document(country, CAPITALS[country], other_city[country], rng))
        else:
            docs.append(_person_document(rng.choice(people), people, country_of, rng, noise=rng.randint(0, 2)))
    return docs


def toy_world(seed: int = 0, *, n_people: int = 100, n_documents: int = 20_000, held_out_share: float = 0.1,
              geography_share: float = 0.15, group_share: float = 0.1) -> ToyWorld:
    """Invent ``n_people`` people and write ``n_documents`` documents about them and the geography.

    The same seed always gives the same world, documents and split.

    Args:
        seed: seeds everything (who is who, the documents, the split).
        n_people: how many people (at most 400, the number of first-name/surname pairs).
        n_documents: how many documents to write; about ``held_out_share`` of them are held out
            (fewer after removing held-out documents that also occur in the training list).
        geography_share: the share of documents about countries and cities.
        group_share: the share of book-club documents (a few people listed twice, in the same order);
            the rest are about one person each.

    With the default number of documents, every fact's prompt and answer occur word for word in the
    training documents (the tests check it); with far fewer documents some may not.
    """
    max_people = len(FIRST_NAMES) * len(SURNAMES)
    if not 2 <= n_people <= max_people:
        raise ToyWorldError(f"n_people must be between 2 and {max_people}, got {n_people}")
    if not 0 < held_out_share < 1:
        raise ToyWorldError(f"held_out_share must be between 0 and 1, got {held_out_share}")
    if n_documents < 10:
        raise ToyWorldError(f"n_documents must be at least 10, got {n_documents}")
    if min(geography_share, group_share) < 0 or geography_share + group_share > 1:
        raise ToyWorldError(f"geography_share and group_share must be >= 0 with a sum <= 1, "
                            f"got {geography_share} and {group_share}")
    rng = random.Random(seed)
    country_of = {**{capital: country for country, capital in CAPITALS.items()}, **OTHER_CITIES}
    names = rng.sample([(f, s) for f in FIRST_NAMES for s in SURNAMES], n_people)
    people = tuple(Person(f, s, rng.choice(SPORTS), rng.choice(list(country_of))) for f, s in names)

    n_held_out = max(1, round(n_documents * held_out_share))
    train = _documents(people, country_of, n_documents - n_held_out, rng, geography_share, group_share)
    seen = set(train)
    candidates = _documents(people, country_of, n_held_out, rng, geography_share, group_share)
    held_out = [d for d in candidates if d not in seen]

    facts = [Fact(QUERIES["sport"].format(name=p.name), f" {p.sport}", p.name, "sport") for p in people]
    facts += [Fact(QUERIES["city"].format(name=p.name), f" {p.city}", p.name, "city") for p in people]
    facts += [Fact(QUERIES["capital"].format(country=c), f" {cap}", c, "capital") for c, cap in CAPITALS.items()]
    facts += [Fact(QUERIES["country"].format(city=city), f" {c}", city, "country") for city, c in OTHER_CITIES.items()]
    return ToyWorld(seed, people, CAPITALS, MappingProxyType(country_of), tuple(train), tuple(held_out),
                    tuple(facts))
