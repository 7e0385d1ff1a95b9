"""The caption band of the annotated videos: the line of words is cached, the status line is not."""

import numpy as np

from jegal.use.annotate import HIGHLIGHT, Caption, CaptionBand, Token


def test_a_cached_line_of_words_gives_the_pixels_of_a_fresh_render():
    tokens = (Token("gesture"), Token("while", colour=(0, 0, 0), background=HIGHLIGHT),
              Token("speaking", underline=(230, 159, 0), bold=True))
    clock = [Caption(tokens, 1, f"{t / 25:6.2f} s") for t in range(3)]
    band = CaptionBand(320, 64)
    first = [band.render(c) for c in clock]  # one line of words, three status lines drawn on copies of it
    for c, img in zip(clock, first):
        np.testing.assert_array_equal(img, CaptionBand(320, 64).render(c))
    assert len(band._cache) == 1
    assert not np.array_equal(first[0], first[1])  # the clock moved
    top = slice(0, int(64 * 0.6))
    np.testing.assert_array_equal(first[0][top], first[2][top])  # the words did not
    np.testing.assert_array_equal(band.render(Caption(tokens, 1)), CaptionBand(320, 64).render(Caption(tokens, 1)))
