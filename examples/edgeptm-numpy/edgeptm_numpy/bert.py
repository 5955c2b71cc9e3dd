"""BERT for sequence classification in numpy (the ``transformers`` weight names)."""

from __future__ import annotations

from typing import Any

import numpy as np

Weights = dict[str, np.ndarray]


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf."""
    sign, x = np.sign(x), np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


ACTIVATIONS = {
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0))),
    "gelu_new": lambda x: 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3))),
    "relu": lambda x: np.maximum(x, 0.0),
}


def _w(weights: Weights, name: str) -> np.ndarray:
    return weights[name].astype(np.float32, copy=False)


def _linear(weights: Weights, prefix: str, x: np.ndarray) -> np.ndarray:
    return x @ _w(weights, f"{prefix}.weight").T + _w(weights, f"{prefix}.bias")


def _layer_norm(weights: Weights, prefix: str, x: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * _w(weights, f"{prefix}.weight") + _w(weights, f"{prefix}.bias")


def forward(weights: Weights, config: dict[str, Any], encoded: dict[str, np.ndarray]) -> np.ndarray:
    """Logits ``[batch, labels]`` for ``input_ids``/``attention_mask``/``token_type_ids``."""
    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    types = encoded.get("token_type_ids", np.zeros_like(ids))
    batch, seq = ids.shape
    heads, eps = config["num_attention_heads"], config["layer_norm_eps"]
    act = ACTIVATIONS[config["hidden_act"]]
    e = "bert.embeddings"
    x = (
        _w(weights, f"{e}.word_embeddings.weight")[ids]
        + _w(weights, f"{e}.position_embeddings.weight")[np.arange(seq)]
        + _w(weights, f"{e}.token_type_embeddings.weight")[types]
    )
    x = _layer_norm(weights, f"{e}.LayerNorm", x, eps)
    hidden = x.shape[-1]
    size = hidden // heads
    masked = (1.0 - mask[:, None, None, :].astype(np.float32)) * np.finfo(np.float32).min

    def split(t: np.ndarray) -> np.ndarray:
        return t.reshape(batch, seq, heads, size).transpose(0, 2, 1, 3)

    for i in range(config["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}"
        q, k, v = (split(_linear(weights, f"{p}.attention.self.{n}", x)) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + masked
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = _layer_norm(
            weights,
            f"{p}.attention.output.LayerNorm",
            x + _linear(weights, f"{p}.attention.output.dense", context),
            eps,
        )
        inner = act(_linear(weights, f"{p}.intermediate.dense", x))
        x = _layer_norm(weights, f"{p}.output.LayerNorm", x + _linear(weights, f"{p}.output.dense", inner), eps)
    pooled = np.tanh(_linear(weights, "bert.pooler.dense", x[:, 0]))
    return _linear(weights, "classifier", pooled).astype(np.float32)
