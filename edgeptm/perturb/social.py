"""Social-media noise: emoji, URLs and @mentions inserted between words. Strength is the number
inserted as a share of the text's word count (at least one when above zero)."""

from __future__ import annotations

import random
import string

from edgeptm.perturb.base import Context, count
from edgeptm.perturb.text import insert_words, split_units

# Objects and places only: emoji that carry sentiment (faces, hearts, thumbs) would change the label.
EMOJI = ["📱", "☕", "🚗", "📷", "🎵", "⚽", "📚", "🏠", "✈️", "🌧️", "🕒", "🍕", "🌍", "💻", "🚲", "🎒", "🗓️", "🔑"]
URL_HOSTS = ["https://t.co/", "http://bit.ly/", "https://www.example.com/", "https://youtu.be/", "http://goo.gl/"]
_ALNUM = string.ascii_letters + string.digits


def _insert(make):
    def fn(text: str, strength: float, rng: random.Random, context: Context) -> str:
        return insert_words(text, count(strength, len(split_units(text)[1])), make, rng)

    return fn


def _url(rng: random.Random) -> str:
    return rng.choice(URL_HOSTS) + "".join(rng.choices(_ALNUM, k=rng.randint(6, 11)))


def _mention(rng: random.Random) -> str:
    return "@" + "".join(rng.choices(string.ascii_lowercase + string.digits + "_", k=rng.randint(4, 12)))


emoji = _insert(lambda rng: rng.choice(EMOJI))
urls = _insert(_url)
mentions = _insert(_mention)
