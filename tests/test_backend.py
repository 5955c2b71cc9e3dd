"""Runner.static_shape: every batch padded to (batch, seq), longer input truncated with a warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgeptm.backend import Runner
from edgeptm.encoding import Encoder, TruncationWarning
from edgeptm.manifest import read_manifest


class MaskedSum(Runner):
    """Logits that depend on the attended tokens only, recording the shapes it is given."""

    def __init__(self, model, static_shape=None):
        manifest = read_manifest(model)
        super().__init__(manifest, Encoder.from_dir(model, manifest.max_length))
        self.static_shape = static_shape
        self.shapes = []

    def run(self, encoded):
        self.shapes.append(encoded["input_ids"].shape)
        total = (encoded["input_ids"] * encoded["attention_mask"]).sum(1, dtype=np.float64)
        return np.stack([total, encoded["attention_mask"].sum(1), -total], axis=1)


@pytest.fixture(scope="module")
def texts(edgeptm_kit):
    return sorted(edgeptm_kit.texts(), key=len)[::14]


def test_batches_are_padded_to_the_static_shape(edgeptm_model, texts):
    dynamic, static = MaskedSum(edgeptm_model), MaskedSum(edgeptm_model, static_shape=(4, 40))
    got = static.predict(texts)
    assert len(texts) == 11 and static.shapes == [(4, 40)] * 3
    np.testing.assert_array_equal(got, dynamic.predict(texts))


def test_longer_input_is_truncated_with_a_warning(edgeptm_model, texts):
    static = MaskedSum(edgeptm_model, static_shape=(2, 8))
    with pytest.warns(TruncationWarning, match="fixed length 8"):
        got = static.predict(texts[-2:])
    assert static.shapes == [(2, 8)] and got[:, 1].tolist() == [8, 8]
    encoded = static.encode(["ok"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # padding alone is silent
        static.predict(encoded)
