"""Using a trained model: which words a speaker gestured, gallery search, who is speaking.

- :func:`word_frame_scores` / :func:`save_heatmap`: the words x frames map of one clip
  (the spotting protocol's per-frame softmax over words, and the raw cosines), as a PNG.
- :class:`GalleryIndex`: FAISS inner-product search over gesture clip vectors.
- :func:`who_is_speaking`: which of several people's gestures go with a piece of speech/text.
- :func:`embed_clips` / :class:`Embeddings`: embeddings of many clips (and their ``.npz`` file).
- :func:`spot_people` / :func:`spot_person` / :class:`PersonSpots`: which words each person of a
  long video gestured, window by window, merged (:mod:`jegal.inference.spotting`); the windows
  themselves in :mod:`jegal.inference.windows`.

Nothing heavy is imported at module import time.
"""

from jegal.inference.embed import Embeddings, embed_clips
from jegal.inference.heatmap import save_heatmap, word_frame_scores
from jegal.inference.search import GalleryIndex
from jegal.inference.speakers import who_is_speaking
from jegal.inference.spotting import PersonSpots, spot_people, spot_person, word_frame_map

__all__ = ["Embeddings", "embed_clips", "word_frame_scores", "save_heatmap", "GalleryIndex", "who_is_speaking",
           "PersonSpots", "spot_people", "spot_person", "word_frame_map"]
