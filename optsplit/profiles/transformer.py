"""Shape tracing of transformer encoders (BERT, Devlin et al. 2019) over a (tokens, width) tensor.

Conventions, as for CNNs (optsplit.profiles.tracer): FLOPs = 2 × multiply-accumulates of
the matrix products — per encoder layer of L tokens, width d and feed-forward width f:
Q, K, V and output projections 4·2·L·d², attention scores QKᵀ and the weighted sum of V
2·2·L²·d (all heads together), feed-forward 2·2·L·d·f; one per element for each residual
addition (2·L·d) and for summing the token, position and segment embeddings (2·L·d).
Softmax, scaling, LayerNorm, GELU and bias additions are not counted (as batch-norm and
ReLU are not); embedding look-ups cost nothing. Tensors are float32 (4 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optsplit.instance.model import Layer
from optsplit.profiles.tracer import BlockCutter


@dataclass(frozen=True)
class EncoderConfig:
    """A BERT-style encoder: layers, hidden width, heads, feed-forward width, vocabulary."""

    layers: int
    width: int
    heads: int
    ffn: int
    vocab: int = 30522
    positions: int = 512
    segments: int = 2


# Turc et al. 2019 ("Well-Read Students Learn Better"), the BERT miniatures released with
# google-research/bert: BERT-Small is L=4, H=512, A=8 (feed-forward 4H); BERT-Base is
# Devlin et al. 2019's L=12, H=768, A=12.
BERT_SMALL = EncoderConfig(layers=4, width=512, heads=8, ffn=2048)
BERT_BASE = EncoderConfig(layers=12, width=768, heads=12, ffn=3072)


@dataclass
class TokenTracer(BlockCutter):
    """Follows a (tokens, width) tensor through embedding, encoder and linear layers."""

    tokens: int
    width: int
    layers: list[Layer] = field(default_factory=list)
    _flops: float = 0.0
    _params: float = 0.0

    @property
    def elements(self) -> int:
        return self.tokens * self.width

    def embed(self, config: EncoderConfig) -> TokenTracer:
        """Token ids → sum of token, position and segment embeddings, then LayerNorm."""
        d = config.width
        if self.tokens > config.positions:
            raise ValueError(f"{self.tokens} tokens exceed the {config.positions} positions of the encoder")
        self._params += (config.vocab + config.positions + config.segments) * d + 2 * d
        self.width = d
        self._flops += 2.0 * self.elements
        return self

    def linear(self, out: int) -> TokenTracer:
        """The same dense layer (with bias) applied to every token."""
        self._flops += 2.0 * self.tokens * self.width * out
        self._params += self.width * out + out
        self.width = out
        return self

    def encoder_layer(self, heads: int, ffn: int) -> TokenTracer:
        """Post-LN encoder layer: multi-head self-attention and feed-forward, each with residual."""
        n, d = self.tokens, self.width
        if d % heads:
            raise ValueError(f"width {d} is not divisible by {heads} heads")
        self._flops += 4 * 2.0 * n * d * d + 2 * 2.0 * n * n * d + 2 * 2.0 * n * d * ffn + 2.0 * n * d
        self._params += 4 * (d * d + d) + (d * ffn + ffn) + (ffn * d + d) + 2 * 2 * d
        return self

    def concat(self, tokens: int) -> TokenTracer:
        """Append ``tokens`` tokens of the same width from another tensor (no arithmetic)."""
        self.tokens += tokens
        return self

    def first_token(self) -> TokenTracer:
        """Keep the first ([CLS]) token only."""
        self.tokens = 1
        return self


def build_bert(t: TokenTracer, config: EncoderConfig, prefix: str = "", pooler: bool = False) -> None:
    """Trace a BERT encoder: one layer for the embeddings, one per encoder layer, then the
    pooler ([CLS] token → dense d×d with tanh) when ``pooler``."""
    t.embed(config).cut(f"{prefix}embed")
    for i in range(config.layers):
        t.encoder_layer(config.heads, config.ffn).cut(f"{prefix}layer{i}")
    if pooler:
        t.first_token().linear(config.width).cut(f"{prefix}pooler")
