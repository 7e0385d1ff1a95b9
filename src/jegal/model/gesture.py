"""The gesture encoder: one of three front-ends, then the temporal Transformer head.

Every front-end maps its input to (B, T, d) per-frame features and keeps padding frames
at exactly zero (they are zeroed before each temporal convolution), so a clip's
embeddings do not depend on how much padding the batch adds after it.
"""

from __future__ import annotations

import torch
from torch import nn

from jegal.model.config import GestureConfig
from jegal.model.layers import ChannelNorm, TransformerStack

RGB_MEAN = (0.45, 0.45, 0.45)
RGB_STD = (0.225, 0.225, 0.225)


class KeypointFrontend(nn.Module):
    """(B, T, J, 3) normalised (x, y, conf) -> a temporal conv with a ``conv_kernel``-frame
    receptive field -> (B, T, d).

    Coordinates of joints with zero confidence (missing hands, undetected joints) are zeroed
    and the confidences go in as channels, so the model sees a mask for missing parts."""

    def __init__(self, cfg: GestureConfig):
        super().__init__()
        k = cfg.conv_kernel
        self.conv = nn.Conv1d(cfg.num_joints * 3, cfg.d_model, kernel_size=k, padding=k // 2)
        self.mix = nn.Sequential(nn.GELU(), nn.Linear(cfg.d_model, cfg.d_model))

    def forward(self, batch: dict) -> torch.Tensor:
        kp = batch["keypoints"]  # (B, T, J, 3)
        mask = batch["frame_mask"]
        conf = kp[..., 2:3]
        x = torch.cat([kp[..., :2] * (conf > 0), conf], -1).flatten(2)  # (B, T, 3J)
        x = x * mask[..., None]
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)  # (B, T, d)
        return self.mix(x)


class FeatureFrontend(nn.Module):
    """(B, T, F) precomputed per-frame features -> MLP -> (B, T, d)."""

    def __init__(self, cfg: GestureConfig):
        super().__init__()
        self.mlp = nn.Sequential(nn.LayerNorm(cfg.feature_dim), nn.Linear(cfg.feature_dim, cfg.d_model), nn.GELU(),
                                 nn.Linear(cfg.d_model, cfg.d_model))

    def forward(self, batch: dict) -> torch.Tensor:
        if "features" not in batch:
            raise KeyError("gesture.frontend='features' needs batch['features'] (precomputed per-frame vectors)")
        return self.mlp(batch["features"].float())


class RGBBackbone(nn.Module):
    """A small GestSync-style 3D-conv backbone over face-masked person crops.

    The first layer spans ``rgb_first_kernel`` frames; later layers are spatial only, so the
    whole clip goes through once and every output frame sees 5 input frames (the reference
    instead pushed each frame through 25 times in sliding windows). Time is never strided."""

    def __init__(self, cfg: GestureConfig):
        super().__init__()
        chans = cfg.rgb_channels
        kt = cfg.rgb_first_kernel
        layers: list[nn.Module] = [nn.Conv3d(3, chans[0], (kt, 7, 7), stride=(1, 2, 2), padding=(kt // 2, 3, 3)),
                                   ChannelNorm(chans[0]), nn.ReLU(inplace=True)]
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv3d(cin, cout, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
                       ChannelNorm(cout), nn.ReLU(inplace=True)]
        self.net = nn.Sequential(*layers)
        self.out_dim = chans[-1]

    def forward(self, rgb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # rgb (B, T, H, W, 3) uint8 -> (B, T, C)
        x = rgb.float().div_(255.0)
        mean = x.new_tensor(RGB_MEAN)
        std = x.new_tensor(RGB_STD)
        x = ((x - mean) / std) * mask[:, :, None, None, None]
        x = self.net(x.permute(0, 4, 1, 2, 3))  # (B, C, T, h, w)
        return x.mean(dim=(3, 4)).transpose(1, 2)


class RGBFrontend(nn.Module):
    """(B, T, H, W, 3) uint8 crops -> :class:`RGBBackbone` (trainable or frozen) -> Linear -> (B, T, d).

    The backbone's weights are part of the model's own: ``gesture.rgb_checkpoint`` initialises them
    once, when a new model is built (:meth:`load_backbone`), and is never read again."""

    def __init__(self, cfg: GestureConfig):
        super().__init__()
        self.backbone = RGBBackbone(cfg)
        self.trainable = cfg.rgb_trainable
        self.backbone.requires_grad_(cfg.rgb_trainable)
        self.proj = nn.Linear(self.backbone.out_dim, cfg.d_model)

    def load_backbone(self, path: str) -> None:
        """Initialise the 3D-conv backbone from the safetensors state dict ``path``. Raises
        FileNotFoundError naming ``gesture.rgb_checkpoint`` when it cannot be read."""
        from safetensors.torch import load_file

        try:
            state = load_file(path)
        except (OSError, RuntimeError) as e:
            raise FileNotFoundError(f"gesture.rgb_checkpoint {path}: cannot read ({e})") from e
        self.backbone.load_state_dict(state)

    def forward(self, batch: dict) -> torch.Tensor:
        if "rgb" not in batch:
            raise KeyError("gesture.frontend='rgb' needs batch['rgb'] (face-masked person crops)")
        if self.trainable:
            feats = self.backbone(batch["rgb"], batch["frame_mask"])
        else:
            with torch.no_grad():
                feats = self.backbone(batch["rgb"], batch["frame_mask"])
        return self.proj(feats)


FRONTENDS = {"keypoints": KeypointFrontend, "rgb": RGBFrontend, "features": FeatureFrontend}


class GestureEncoder(nn.Module):
    """Front-end -> temporal Transformer (``layers`` x d, FFN ``ffn``, ``heads`` heads) -> output
    projection -> frame features (B, T, d); padding frames are zero.

    ``architecture="released"``: the released gesture head (:mod:`jegal.model.released`): its
    input MLP and position table on 1024-d features, its Transformer and its output Linear."""

    def __init__(self, cfg: GestureConfig):
        super().__init__()
        if cfg.architecture == "released":
            from jegal.model.released import ReleasedFeatureFrontend, released_stack

            self.frontend = ReleasedFeatureFrontend(cfg.feature_dim, cfg.d_model, cfg.dropout)
            self.head = released_stack(cfg.d_model, cfg.layers, cfg.heads, cfg.ffn, cfg.dropout)
            self.out = nn.Linear(cfg.d_model, cfg.d_model)
        else:
            self.frontend = FRONTENDS[cfg.frontend](cfg)
            self.head = TransformerStack(cfg.d_model, cfg.layers, cfg.heads, cfg.ffn, cfg.dropout, cfg.positions)
            self.out = nn.Identity()

    def forward(self, batch: dict) -> torch.Tensor:
        mask = batch["frame_mask"]
        x = self.frontend(batch)
        return self.out(self.head(x, mask)) * mask[..., None]
