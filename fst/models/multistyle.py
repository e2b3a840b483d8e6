"""One network for many styles: conditional instance norm (Dumoulin, Shlens & Kudlur, ICLR 2017).

Every instance norm of `TransformerNet` gets one (gamma, beta) row per style; the convolutions are
shared. A batch entry's affine is its *style mix* (a row of weights over the styles) times those
rows, so training picks one style per entry and inference can blend styles by blending the rows.

Inference never needs this class: `MultiStyleNet.blend` folds a mix into a plain `TransformerNet`
(the same weights, one affine per norm), which every stylize path (tiling, compiled packages,
exports) already runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fst.models.transformer import OutputHead, TransformerNet, UpsampleMode

StyleMix = Mapping[str, float]


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose affine (gamma, beta) is a style mix (N, S) times a table (S, C)."""

    def __init__(self, norm: nn.InstanceNorm2d, num_styles: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(norm.weight.detach().repeat(num_styles, 1))
        self.bias = nn.Parameter(norm.bias.detach().repeat(num_styles, 1))
        self.eps = norm.eps
        self.mix: torch.Tensor | None = None  # (N, S), set by MultiStyleNet.forward for one call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mix is None:
            raise RuntimeError("ConditionalInstanceNorm needs a style mix: call MultiStyleNet(x, styles)")
        # Broadcast-and-sum, not a matmul: autocast would run a matmul in bf16.
        gamma = (self.mix[:, :, None] * self.weight[None]).sum(1)
        beta = (self.mix[:, :, None] * self.bias[None]).sum(1)
        return F.instance_norm(x, eps=self.eps) * gamma[:, :, None, None] + beta[:, :, None, None]


class MultiStyleNet(TransformerNet):
    """`TransformerNet` with conditional instance norms: one net, `len(style_names)` styles.

    The state dict has TransformerNet's keys; a norm's `weight` and `bias` are (S, C) instead of (C,).
    """

    def __init__(
        self,
        style_names: Sequence[str],
        channels: Sequence[int] = (32, 64, 128),
        num_residual_blocks: int = 5,
        upsample: UpsampleMode = "nearest",
        output_head: OutputHead = "clamp",
        space_to_depth: bool = False,
    ) -> None:
        super().__init__(channels, num_residual_blocks, upsample, output_head, space_to_depth)
        self.style_names = [str(name) for name in style_names]
        if not self.style_names or len(set(self.style_names)) != len(self.style_names):
            raise ValueError(f"style_names must be distinct and not empty, got {self.style_names}")
        for name, module in list(self.named_modules()):
            if isinstance(module, nn.InstanceNorm2d):
                self.set_submodule(name, ConditionalInstanceNorm(module, len(self.style_names)))

    @property
    def norms(self) -> list[ConditionalInstanceNorm]:
        return [m for m in self.modules() if isinstance(m, ConditionalInstanceNorm)]

    def architecture(self) -> dict:
        return {**super().architecture(), "style_names": list(self.style_names)}

    def base_architecture(self) -> dict:
        """The plain `TransformerNet` arguments that `blend` builds."""
        return super().architecture()

    def mix_matrix(self, styles: torch.Tensor | StyleMix, batch_size: int) -> torch.Tensor:
        """(N, S) float weights from style indices (N,), a weight matrix (N, S) or {name: weight}."""
        if isinstance(styles, Mapping):
            row = self.mix_vector(styles)
            return row.expand(batch_size, -1)
        if styles.dim() == 1:
            return F.one_hot(styles.long(), len(self.style_names)).float()
        if styles.shape != (batch_size, len(self.style_names)):
            raise ValueError(f"style mix must be ({batch_size}, {len(self.style_names)}), got {tuple(styles.shape)}")
        return styles.float()

    def mix_vector(self, mix: StyleMix) -> torch.Tensor:
        """{name: weight} as a (S,) vector normalised to sum 1; names not in the net are an error."""
        unknown = [name for name in mix if name not in self.style_names]
        if unknown:
            raise KeyError(f"unknown style {unknown[0]!r}; this net has {', '.join(self.style_names)}")
        if any(weight < 0 for weight in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError(f"style weights must be >= 0 with a positive sum, got {dict(mix)}")
        total = sum(mix.values())
        return torch.tensor([mix.get(name, 0.0) / total for name in self.style_names])

    def forward(self, x: torch.Tensor, styles: torch.Tensor | StyleMix | None = None) -> torch.Tensor:
        """Stylise (N, 3, H, W) in [0, 1]; `styles`: indices (N,), a mix (N, S) or {name: weight}."""
        if styles is None:
            if len(self.style_names) != 1:
                raise ValueError(f"choose a style: this net has {', '.join(self.style_names)}")
            styles = {self.style_names[0]: 1.0}
        mix = self.mix_matrix(styles, x.shape[0]).to(x.device)
        for norm in self.norms:
            norm.mix = mix
        try:
            return super().forward(x)
        finally:
            for norm in self.norms:
                norm.mix = None

    @torch.no_grad()
    def blend(self, mix: StyleMix) -> TransformerNet:
        """A plain `TransformerNet` with this net's convolutions and the mixed norm affines."""
        vector = self.mix_vector(mix).to(next(self.parameters()).device)
        net = TransformerNet(**self.base_architecture()).to(vector.device)
        norm_keys = self._norm_keys()
        state = {key: (vector @ value if key in norm_keys else value) for key, value in self.state_dict().items()}
        net.load_state_dict(state)
        return net.eval()

    @torch.no_grad()
    def load_shared(self, source: TransformerNet) -> None:
        """Warm start from an exported net: its convolutions, and per style its norm affine.

        From a single-style net every style gets its affine; from a multi-style net each style
        gets the row of the same name, and a style it lacks gets the mean of its rows.
        """
        own = self.state_dict()
        state = {}
        for key, value in source.state_dict().items():
            if own[key].shape == value.shape and not isinstance(source, MultiStyleNet):
                state[key] = value
            elif not isinstance(source, MultiStyleNet):
                state[key] = value.expand_as(own[key]).clone()
            elif own[key].dim() == 1 or key not in self._norm_keys():
                state[key] = value
            else:
                rows = {name: value[i] for i, name in enumerate(source.style_names)}
                state[key] = torch.stack([rows.get(name, value.mean(0)) for name in self.style_names])
        self.load_state_dict(state)

    def _norm_keys(self) -> set[str]:
        return {
            f"{name}.{param}"
            for name, module in self.named_modules()
            if isinstance(module, ConditionalInstanceNorm)
            for param in ("weight", "bias")
        }
