"""Write the course's theory-of-mind task files from the scenario tables below.

Run ``python course_utils/data/tom/make_tasks.py`` after changing a table; it rewrites
``unexpected_contents.jsonl`` and ``unexpected_transfer.jsonl`` next to this file and checks them
with :func:`course_utils.evals.load_tasks`. The JSON Lines files are what the course reads; this
script only saves typing 400 stories by hand and keeps the variants of one scenario in step.

Every scenario is written for the course in the style of Kosinski's false-belief stories (2023,
2024), and told in one of three phrasings so that no single sentence pattern gives the answer
away. Each scenario has four core prompts, the set that Kosinski's 2024 scoring asks a model to get
all right:

* ``false_belief``: the character cannot know the truth (the label lies, or the object was moved
  while they were away);
* ``true_belief_control``: the same story, but the character looks inside / watches the move;
* ``label_swap`` and ``control_label_swap``: the same two stories with the two answer words
  swapped (contents and label, or the two places), so that a model that simply prefers one word
  cannot pass both.

Then the perturbations in the style of Ullman (2023), each a small change that a reader with a
theory of mind handles at once: ``transparent``, ``cannot_read``, ``trusted_testimony``,
``self_placed``, ``knowledgeable_other``, and, for moved objects, ``on_not_in``. The contents
family asks its ``cannot_read`` question (can the character tell what is inside? no) next to a
``cannot_read_control`` (the character opens the container: yes).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# Unexpected contents: a container whose label does not match what is inside.
# name, pronoun (she/he), container, contents, label, place, the person who packed it, language
CONTENTS = [
    ("Sam", "she", "bag", "popcorn", "chocolate", "kitchen", "Alex"),
    ("Omar", "he", "box", "pencils", "crayons", "classroom", "Nadia"),
    ("Lena", "she", "jar", "salt", "sugar", "pantry", "Jonas"),
    ("Tom", "he", "tin", "buttons", "cookies", "living room", "Grace"),
    ("Priya", "she", "carton", "juice", "milk", "kitchen", "Ravi"),
    ("Kofi", "he", "crate", "potatoes", "oranges", "shop", "Ama"),
    ("Mei", "she", "envelope", "stamps", "photos", "study", "Li"),
    ("Diego", "he", "bottle", "oil", "vinegar", "shed", "Lucia"),
    ("Hannah", "she", "packet", "tea", "coffee", "office", "Felix"),
    ("Yusuf", "he", "toolbox", "toys", "tools", "garage", "Selin"),
    ("Ines", "she", "case", "coins", "pens", "hallway", "Pablo"),
    ("Arjun", "he", "sack", "flour", "rice", "storeroom", "Meera"),
    ("Chloe", "she", "pouch", "marbles", "beads", "bedroom", "Hugo"),
    ("Mateo", "he", "jug", "lemonade", "milk", "garden", "Sofia"),
    ("Aisha", "she", "basket", "gloves", "socks", "bedroom", "Karim"),
    ("Lukas", "he", "can", "nails", "soup", "workshop", "Anja"),
    ("Zoe", "she", "folder", "drawings", "recipes", "library", "Ethan"),
    ("Kenji", "he", "bucket", "ice", "sand", "yard", "Yumi"),
    ("Nora", "she", "lunchbox", "crayons", "sandwiches", "classroom", "Oscar"),
    ("Samuel", "he", "jar", "honey", "jam", "cellar", "Ruth"),
]

# ---------------------------------------------------------------------------------------------
# Unexpected transfer: an object moved while its owner was away.
# character A (pronoun), character B (pronoun), object, first place, second place, room,
# where A goes, where B goes, a language A cannot read
TRANSFER = [
    ("John", "he", "Mark", "he", "cat", "basket", "box", "living room", "school", "work", "Finnish"),
    ("Anna", "she", "Ben", "he", "ball", "drawer", "cupboard", "playroom", "the park", "the shop", "Greek"),
    ("Leo", "he", "Maya", "she", "keys", "bowl", "drawer", "hallway", "the gym", "the bakery", "Korean"),
    ("Fatima", "she", "Jonas", "he", "book", "backpack", "suitcase", "bedroom", "class", "the station", "Russian"),
    ("Carlos", "he", "Elena", "she", "wallet", "basket", "bag", "hall", "the bank", "lunch", "Hungarian"),
    ("Grace", "she", "Ahmed", "he", "hat", "wardrobe", "chest", "attic", "the market", "the post office", "Thai"),
    ("Ravi", "he", "Sofia", "she", "ring", "cup", "vase", "dining room", "the garden", "the pharmacy", "Arabic"),
    ("Olivia", "she", "Noah", "he", "sandwich", "bag", "lunchbox", "kitchen", "the library", "football practice", "Hindi"),
    ("Hiro", "he", "Clara", "she", "toy car", "basket", "bucket", "nursery", "the dentist", "the garden", "Icelandic"),
    ("Amara", "she", "Felix", "he", "phone", "drawer", "handbag", "office", "a meeting", "the canteen", "Polish"),
    ("Mia", "she", "Oscar", "he", "scarf", "basket", "suitcase", "guest room", "the cinema", "the gym", "Welsh"),
    ("Ethan", "he", "Lucia", "she", "cake", "tin", "box", "kitchen", "the shop", "choir practice", "Czech"),
    ("Zara", "she", "Ivan", "he", "pen", "mug", "drawer", "study", "a lecture", "the café", "Georgian"),
    ("Tariq", "he", "Julia", "she", "coin", "jar", "purse", "living room", "the barber", "the bank", "Turkish"),
    ("Chen", "he", "Rosa", "she", "letter", "folder", "drawer", "office", "lunch", "a meeting", "Dutch"),
    ("Aiko", "she", "Daniel", "he", "shoes", "closet", "box", "hallway", "the pool", "the post office", "Swedish"),
    ("Layla", "she", "Marco", "he", "apple", "bowl", "bag", "kitchen", "the bus stop", "the garden", "Hebrew"),
    ("Sven", "he", "Nadia", "she", "umbrella", "closet", "bucket", "garage", "the bakery", "the office", "Armenian"),
    ("Emma", "she", "Kwame", "he", "glasses", "case", "drawer", "bedroom", "the bathroom", "the kitchen", "Lithuanian"),
    ("Lucas", "he", "Yara", "she", "teddy bear", "crib", "basket", "nursery", "the laundry room", "the porch", "Tamil"),
]

OBJECT = {"she": "her", "he": "him"}
POSSESSIVE = {"she": "her", "he": "his"}


def _cap(word: str) -> str:
    return word[0].upper() + word[1:]


def _task(scenario: str, family: str, variant: str, prompt: str, answers: list[str], expected: str) -> dict:
    prompt = " ".join(prompt.split())  # one space between sentences, none at the end
    return {"id": f"{scenario}.{variant}", "scenario": scenario, "family": family, "variant": variant,
            "prompt": prompt, "answers": answers, "expected": expected}


# ---------------------------------------------------------------------------------------------
# Unexpected contents


def _contents_intro(style: int, c: str, inside: str, label: str, place: str) -> str:
    # No intro uses the words of the final question ("full of", "contains"), so that copying a
    # phrase from the story does not answer it.
    if style == 0:
        return f'Here is a {c} filled with {inside}, not {label}. Yet its label says "{label}". '
    if style == 1:
        return f'A {c} stands in the {place}. Its label reads "{label}", but it holds {inside}, not {label}. '
    return f'In the {place} there is a {c} labelled "{label}". Nobody ever put {label} in it; there is only {inside} inside. '


def _contents_stem(style: int, who: str, c: str) -> str:
    return [f"{who} believes that the {c} is full of",
            f"{who} thinks that the {c} contains",
            f"{who} expects the {c} to be full of"][style]


def contents_tasks(number: int, row: tuple) -> list[dict]:
    name, pro, c, inside, label, place, packer = row
    sid, family, style = f"uc{number:02d}", "unexpected_contents", (number - 1) % 3
    P, o = _cap(pro), OBJECT[pro]
    meets = f"{name} comes into the {place} and finds the {c}. {P} has never seen it before. "
    closed = f"{P} cannot see what is inside. {P} reads the label. "
    looks = f"{P} opens the {c} and looks inside. Then {pro} reads the label. "

    def story(x: str, lab: str, access: str) -> str:
        return _contents_intro(style, c, x, lab, place) + meets + access + _contents_stem(style, P, c)

    both = [f" {inside}", f" {label}"]
    swapped = [f" {label}", f" {inside}"]
    tasks = [
        _task(sid, family, "false_belief", story(inside, label, closed), both, f" {label}"),
        _task(sid, family, "true_belief_control", story(inside, label, looks), both, f" {inside}"),
        _task(sid, family, "label_swap", story(label, inside, closed), swapped, f" {inside}"),
        _task(sid, family, "control_label_swap", story(label, inside, looks), swapped, f" {label}"),
    ]
    see_through = f"The {c} is see-through, so {pro} can see what is inside. {P} reads the label. "
    tasks.append(_task(sid, family, "transparent", story(inside, label, see_through), both, f" {inside}"))
    no_reading = (f"{name} cannot read, so the word on the label means nothing to {o}. "
                  f"{P} cannot see inside the {c} either. ")
    question = f"Can {name} tell what is in the {c}? The answer is"
    tasks.append(_task(sid, family, "cannot_read",
                       _contents_intro(style, c, inside, label, place) + meets + no_reading + question,
                       [" yes", " no"], " no"))
    # The same question when the character can look: a model that always answers "no" fails it.
    opened = (f"{name} cannot read, so the word on the label means nothing to {o}. "
              f"But {pro} opens the {c} and looks inside. ")
    tasks.append(_task(sid, family, "cannot_read_control",
                       _contents_intro(style, c, inside, label, place) + meets + opened + question,
                       [" yes", " no"], " yes"))
    testimony = (f"{P} cannot see what is inside. {packer}, who packed the {c}, tells {o} that it is full of "
                 f"{inside}. {name} trusts {packer}. {P} reads the label. ")
    tasks.append(_task(sid, family, "trusted_testimony", story(inside, label, testimony), both, f" {inside}"))
    own = (f"{name} fills a {c} with {inside}. Then {pro} writes \"{label}\" on its label, as a joke on "
           f"{POSSESSIVE[pro]} friends. {P} leaves the {c} in the {place}. A week later, {pro} sees the {c} "
           f"again and reads the label. ")
    tasks.append(_task(sid, family, "self_placed", own + _contents_stem(style, P, c), both, f" {inside}"))
    other = (f"{packer} fills a {c} with {inside} and writes \"{label}\" on its label. " + meets + closed
             + _contents_stem(style, packer, c))
    tasks.append(_task(sid, family, "knowledgeable_other", other, both, f" {inside}"))
    return tasks


# ---------------------------------------------------------------------------------------------
# Unexpected transfer


def _transfer_intro(style: int, a: str, b: str, obj: str, first: str, second: str, room: str) -> str:
    if style == 0:
        return f"{a} and {b} are in the {room} with a {first} and a {second}. "
    if style == 1:
        return f"In the {room} there are {a}, {b}, a {second} and a {first}. "
    return f"{a} and {b} live together. In their {room} stand a {first} and a {second}. "


def _transfer_stem(style: int, who: str, obj: str, is_: str = "is") -> str:
    """The last sentence without its place: the answers (" in the box", " on the box") or the
    place words after " in the" complete it."""
    return [f"{who} will look for the {obj}",
            f"{who} goes straight to get the {obj}",
            f"{who} thinks that the {obj} {is_}"][style]


_IN = [" in the", " from the", " in the"]  # how each stem goes on before a place word


def transfer_tasks(number: int, row: tuple) -> list[dict]:
    a, pa, b, pb, obj, first, second, room, a_goes, b_goes, language = row
    sid, family, style = f"ut{number:02d}", "unexpected_transfer", (number - 1) % 3
    Pa = _cap(pa)
    plural = obj.endswith("s")  # keys, shoes, glasses
    it, is_ = ("them", "are") if plural else ("it", "is")

    def story(x: str, y: str, *, watched: bool = False, extra: str = "", after: str = "", on: bool = False,
              stem_who: str = a) -> str:
        where = f"on top of the {y}" if on else f"in the {y}"
        if watched:  # the same events, but the character sees the move before leaving
            put = f"{a} puts the {obj} in the {x}. "
            move = (f"{a} watches as {b} takes the {obj} out of the {x} and puts {it} {where}. "
                    f"Then {a} goes to {a_goes}. {a} comes back. ")
        else:
            put = f"{a} puts the {obj} in the {x} and goes to {a_goes}. "
            move = (f"While {a} is away, {b} takes the {obj} out of the {x} and puts {it} {where}. {extra}"
                    f"{a} comes back. {Pa} did not see what {b} did. ")
        stem = _transfer_stem(style, stem_who, obj, is_) + ("" if on else _IN[style])
        return _transfer_intro(style, a, b, obj, x, y, room) + put + move + after + stem

    both = [f" {first}", f" {second}"]
    swapped = [f" {second}", f" {first}"]
    tasks = [
        _task(sid, family, "false_belief", story(first, second), both, f" {first}"),
        _task(sid, family, "true_belief_control", story(first, second, watched=True), both, f" {second}"),
        _task(sid, family, "label_swap", story(second, first), swapped, f" {second}"),
        _task(sid, family, "control_label_swap", story(second, first, watched=True), swapped, f" {first}"),
    ]
    clear = f"Both the {first} and the {second} are see-through, so anyone in the room can see what is inside them. "
    tasks.append(_task(sid, family, "transparent", story(first, second, after=clear), both, f" {second}"))
    note = (f"{b} leaves a note that says where the {obj} {is_} now, but writes it in {language}, which {a} "
            f"cannot read. ")
    tasks.append(_task(sid, family, "cannot_read", story(first, second, extra=note, after=f"{Pa} sees the note. "),
                       both, f" {first}"))
    call = f"{b} phones {a} and says that the {obj} {is_} now in the {second}. {a} trusts {b}. "
    tasks.append(_task(sid, family, "trusted_testimony", story(first, second, extra=call), both, f" {second}"))
    own = (_transfer_intro(style, a, b, obj, first, second, room)
           + f"{b} puts the {obj} in the {first} and goes to {b_goes}. While {b} is away, {a} takes the {obj} "
             f"out of the {first} and puts {it} in the {second}. Then {a} goes to {a_goes}. Later {a} comes back. "
           + _transfer_stem(style, a, obj, is_) + _IN[style])
    tasks.append(_task(sid, family, "self_placed", own, both, f" {second}"))
    tasks.append(_task(sid, family, "knowledgeable_other", story(first, second, stem_who=b), both, f" {second}"))
    tasks.append(_task(sid, family, "on_not_in", story(first, second, on=True),
                       [f" on the {second}", f" in the {first}"], f" on the {second}"))
    return tasks


def main() -> None:
    contents = [t for i, row in enumerate(CONTENTS, 1) for t in contents_tasks(i, row)]
    transfer = [t for i, row in enumerate(TRANSFER, 1) for t in transfer_tasks(i, row)]
    for name, tasks in [("unexpected_contents", contents), ("unexpected_transfer", transfer)]:
        path = HERE / f"{name}.jsonl"
        path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tasks), encoding="utf-8")
        print(f"{path.name}: {len(tasks)} prompts")
    sys.path.insert(0, str(HERE.parents[2]))
    from course_utils.evals import load_tasks

    print(f"checked: {len(load_tasks(HERE))} prompts load")


if __name__ == "__main__":
    main()
