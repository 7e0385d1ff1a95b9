"""Model configs of the older layout (before the configuration was reorganised, issue 11): which keys
moved, which became runtime settings, which were removed, and :func:`upgrade`, which reads an old
nested config dict in the current layout. :mod:`jegal.model.config` calls it on every dict it builds
from; nothing else needs it.
"""

from __future__ import annotations

import copy
import warnings

from jegal.config import ConfigError, pop_dotted, put_dotted

# Keys of model configs written before the configuration was reorganised (issue 11). A saved
# config.json or a preset file that holds them still loads (moved keys are read at their new place,
# runtime settings are dropped, removed options must hold the one behaviour that is left); a dotted
# override that names one is refused with the new name, so scripts get corrected instead of ignored.
MOVED_KEYS = {"loss.local_centre": "embedding.local_centre",
              "loss.global_standardise": "embedding.global_standardise"}
RUNTIME_KEYS = {"text.cache_size": "text_cache_size", "loss.couple_chunk": "couple_chunk",
                "loss.couple_checkpoint": "couple_checkpoint"}
# removed key -> (the value whose behaviour is kept, None when any value loads the same model; why)
REMOVED_KEYS = {
    "loss.global_pool": ("mean", "clip vectors are the mean of frames / words (max pooling measured no better)"),
    "loss.spot_negatives": (None, "the word-discrimination term always takes its negatives from the whole batch "
                                  "(within-clip negatives spotted worse)"),
    "gesture.separate_global": (False, "the clip vectors pool the one gesture encoder's features (a separate "
                                       "clip-level encoder measured no better)"),
}


def legacy_key_message(key: str) -> str | None:
    """Why a dotted key of the old layout is not a key now, naming its replacement; None for other keys."""
    if key in MOVED_KEYS:
        return f"config key {key!r} is now {MOVED_KEYS[key]!r}"
    if key in RUNTIME_KEYS:
        name = RUNTIME_KEYS[key]
        return (f"config key {key!r} is a runtime setting now, not saved with the model: training "
                f"`--set {name}=VALUE` (TrainConfig.{name}), or JEGAL.set_runtime({name}=...)")
    if key in REMOVED_KEYS:
        return f"config key {key!r} was removed: {REMOVED_KEYS[key][1]} (docs/model.md)"
    return None


def upgrade(d: dict, source: str) -> dict:
    """A copy of the nested model-config dict ``d`` with the old layout's keys handled (see MOVED_KEYS):
    moved keys read at their new place (with a warning naming them), runtime keys dropped, removed keys
    checked to hold the one behaviour that is left. ``d`` itself is not changed. Raises
    :class:`ConfigError` naming ``source`` when a key and its new name are both set, or a removed key
    asks for a behaviour that is gone."""
    d = copy.deepcopy(d)
    notes = []
    for old, new in MOVED_KEYS.items():
        found, value = pop_dotted(d, old)
        if found:
            if pop_dotted(d, new)[0]:  # (d is not used after the error)
                raise ConfigError(f"{source}: both {old!r} and its new name {new!r} are set; keep only {new!r}")
            put_dotted(d, new, value)
            notes.append(f"{old} -> {new}")
    for old in RUNTIME_KEYS:
        pop_dotted(d, old)  # speed / memory only: the loader of the model sets them (JEGAL.set_runtime)
    for old, (kept, why) in REMOVED_KEYS.items():
        found, value = pop_dotted(d, old)
        if found and kept is not None and value != kept:
            raise ConfigError(f"{source}: {old}={value!r} is no longer supported: {why} (docs/model.md); "
                              f"this model cannot be built")
    if notes:
        warnings.warn(f"{source}: read old config keys at their new place ({', '.join(notes)}); "
                      "save the config again to update it", UserWarning, stacklevel=3)
    return d


__all__ = ["MOVED_KEYS", "RUNTIME_KEYS", "REMOVED_KEYS", "legacy_key_message", "upgrade"]
