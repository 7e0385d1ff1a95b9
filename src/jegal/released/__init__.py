"""The authors' released checkpoints as models of this project: ``jegal import-released``
(:mod:`jegal.released.cli`). The modules and the key map are library code
(:mod:`jegal.model.released`, :mod:`jegal.model.gestsync`); this package only drives them."""
