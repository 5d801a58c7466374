import numpy as np
import pytest

from core import data
from core.data.toy import TOY_KINDS
from core.errors import HeroError


@pytest.mark.parametrize("kind", TOY_KINDS)
def test_toy_sets_deterministic_and_shaped(kind):
    a = data.load("toy", kind=kind, n=200, noise=0.1, seed=1)
    b = data.load("toy", kind=kind, n=200, noise=0.1, seed=1)
    assert a.X.shape == (200, 2) and a.X.dtype == np.float32 and a.y.shape == (200,)
    np.testing.assert_array_equal(a.X, b.X)
    assert set(np.unique(a.y)) == set(range(a.n_classes))
    c = data.load("toy", kind=kind, n=200, noise=0.1, seed=2)
    assert not np.array_equal(a.X, c.X)


def test_toy_rejects_bad_input():
    with pytest.raises(HeroError) as e:
        data.load("toy", kind="moons", n=10**7)
    assert e.value.code == "data.bad_size"
    with pytest.raises(HeroError):
        data.load("toy", kind="nope")
    with pytest.raises(HeroError):
        data.load("no_such_dataset")


def test_real_digit_sets():
    d = data.load("digits")
    assert d.X.shape == (1797, 64) and d.image_shape == (8, 8)
    assert 0 <= d.X.min() and d.X.max() <= 1
    m = data.load("mnist5k")
    assert m.X.shape == (5000, 784) and np.bincount(m.y).tolist() == [500] * 10


def test_split_is_stratified_and_disjoint():
    d = data.load("digits")
    s = data.split(d, 0.2, seed=0)
    assert len(s.y_train) + len(s.y_val) == len(d)
    val_share = np.bincount(s.y_val.numpy(), minlength=10) / np.bincount(d.y, minlength=10)
    assert np.all(np.abs(val_share - 0.2) < 0.02)
    rows_train = {r.tobytes() for r in s.X_train.numpy()}
    assert sum(r.tobytes() in rows_train for r in s.X_val.numpy()) <= 5  # digits has a few exact duplicate images
    with pytest.raises(HeroError):
        data.split(d, 1.5)
