"""The authors' released checkpoints as models of this project: ``jegal import-released``
(:mod:`jegal.released.cli`) and ``jegal fetch released`` (:mod:`jegal.released.fetch`: download, verify,
import into the user cache). The modules and the key map are library code (:mod:`jegal.model.released`,
:mod:`jegal.model.gestsync`); this package only drives them."""
