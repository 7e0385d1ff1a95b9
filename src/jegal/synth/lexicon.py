"""The SynthGest lexicon: gesturable concepts grouped into gesture families, and filler words.

A *family* is one gesture meaning: several synonyms share it ("big", "huge", "large" all
spread the hands apart), and each family has a few *variants* (different executions of the
same meaning) that speakers prefer to different degrees. The ``count`` family is special:
its hand shape depends on the number word (one finger for "one", two for "two", ...).

Every other word is a filler word that is never gestured semantically; stressed filler
words may still carry a beat gesture.
"""

from __future__ import annotations

import numpy as np

# family -> (words, number of variants)
FAMILIES: dict[str, tuple[tuple[str, ...], int]] = {
    "big": (("big", "huge", "large", "enormous", "massive", "giant", "vast"), 3),
    "small": (("small", "tiny", "little", "minor"), 2),
    "up": (("up", "rise", "raise", "higher", "grow", "increase"), 2),
    "down": (("down", "fall", "drop", "lower", "decrease"), 2),
    "self": (("me", "myself", "i", "mine"), 2),
    "you": (("you", "your", "yours", "yourself"), 2),
    "count": (("one", "two", "three", "four", "five"), 2),
    "negation": (("no", "not", "never", "nothing", "none", "nobody"), 3),
    "circle": (("around", "circle", "round", "cycle", "everywhere"), 2),
    "give": (("give", "offer", "share", "send"), 2),
    "take": (("take", "grab", "receive", "catch"), 2),
    "stop": (("stop", "wait", "halt", "enough"), 2),
    "together": (("together", "join", "combine", "connect", "merge"), 2),
    "separate": (("separate", "split", "divide", "cut"), 2),
    "away": (("there", "away", "far", "distant"), 2),
    "think": (("think", "know", "idea", "remember", "mind"), 2),
    "fast": (("fast", "quick", "quickly", "rapid", "sudden"), 2),
    "here": (("here", "now", "today"), 2),
    "wave": (("hello", "hi", "goodbye", "bye", "welcome"), 2),
    "high": (("tall", "high", "top", "above"), 2),
    "low": (("short", "bottom", "below", "beneath", "under"), 2),
    "walk": (("walk", "go", "travel", "move"), 2),
    "love": (("love", "heart", "feel", "care"), 2),
    "question": (("question", "wonder", "doubt", "unsure"), 2),
    "eat": (("eat", "drink", "food", "taste"), 2),
}

WORD_FAMILY: dict[str, str] = {w: fam for fam, (words, _) in FAMILIES.items() for w in words}
FAMILY_NAMES = list(FAMILIES)
COUNT_VALUE = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}

# Non-gesturable words: function words, and content words with no iconic or deictic gesture.
FILLER = tuple(sorted(set("""
the a an of and or but so to in on at for with from by as is was are were be been being
has have had do does did will would can could should may might must shall this that these
those it its they them their we us our he him his she her who what which when where why how
than then also just very really quite rather about into over after before during while
because if though although until since some any each many much more most such only own same
other another again still even ever yes well oh okay like
house car dog cat tree water book table window door garden street city river mountain
school teacher student doctor market money paper phone letter story music song picture
friend family mother father brother sister child people person woman man name word
morning evening night week month year hour minute moment time day
coffee bread apple dinner lunch breakfast kitchen office meeting project  answer
problem reason result system program computer report number plan idea_ game team party
weather summer winter spring autumn rain snow wind sun moon star sky ocean island forest
road bridge train station airport hotel room bed chair floor wall roof
red blue green yellow black white brown orange purple gray
good bad nice happy sad angry tired busy easy hard simple strange funny serious important
interesting beautiful quiet loud clean dirty warm cold hot cool dark bright fresh old new
young early late ready sure clear true false free full empty open closed heavy light
said told asked called looked seemed  heard saw found made went came got kept left
began started finished played worked  talked turned  lived died tried used
wanted needed liked  hoped believed guessed  noticed learned taught bought
paid sold built broke wrote read sang drew cooked cleaned painted visited watched waited_
say tell ask call look seem  hear see find make  come keep begin start finish play
work  talk turn  live try use want need like  hope believe guess 
notice learn teach buy pay sell build write sing draw cook clean paint visit watch
maybe perhaps probably usually often sometimes always already almost once twice
yesterday tomorrow tonight later soon recently finally suddenly_ certainly actually
basically honestly simply exactly mostly nearly quietly slowly_ carefully happily
anyway otherwise however instead therefore meanwhile besides
kind sort type way thing stuff part side case point fact example course matter
bit lot couple piece group line level rate price cost value
company business market_ industry country world government service history science art
movie film show news club church hospital library museum shop store restaurant
""".split()) - {"idea_", "waited_", "suddenly_", "slowly_", "market_"}))

assert not set(FILLER) & set(WORD_FAMILY), set(FILLER) & set(WORD_FAMILY)


def family_of(word: str) -> str | None:
    return WORD_FAMILY.get(word)


def sample_words(rng: np.random.Generator, n: int, concept_prob: float, force_concept: bool = False) -> list[str]:
    """``n`` words: fillers with gesturable concept words mixed in at ``concept_prob`` per slot.

    Concept words are drawn family first (uniformly) then synonym, so every family is about
    equally common. With ``force_concept`` at least one concept word is present.
    """
    words = []
    for _ in range(n):
        if rng.random() < concept_prob:
            words.append(_concept_word(rng))
        else:
            words.append(FILLER[rng.integers(len(FILLER))])
    if force_concept and not any(w in WORD_FAMILY for w in words):
        # Near the middle, so the word survives cropping at the clip's end.
        words[int(rng.integers(0, max(1, n // 2)))] = _concept_word(rng)
    return words


def _concept_word(rng: np.random.Generator) -> str:
    fam = FAMILY_NAMES[rng.integers(len(FAMILY_NAMES))]
    syn = FAMILIES[fam][0]
    return syn[rng.integers(len(syn))]
