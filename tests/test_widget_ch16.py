"""Chapter 16 widget: the attack is FGSM itself, flips the digit at a large ε, and bad ε is translated."""
import torch

from core import weights
from core.i18n import translate
from core.lessons.ch16_horizon import adversarial as adv
from widgets import ch16_horizon as w


def test_build_does_not_launch():
    assert w.build("zh") is not None


def test_attack_reports_the_models_own_predictions():
    status, fig = w.attack_digit(3, 0.3, "pgd", "en")
    assert fig is not None and len(fig.data) == 3
    model = weights.load("ch05_digits_cnn").model.eval()
    X, y, _ = adv.flat_eval_set(model, 4)
    with torch.no_grad():
        clean = int(model(X[3:4]).argmax())
    assert f"True {int(y[3])}: clean prediction {clean}" in status
    delta = fig.data[1].z
    assert abs(abs(float(torch.tensor(delta).abs().max())) - 0.3) < 1e-5   # PGD uses the whole budget


def test_fgsm_perturbation_is_eps_sign_of_the_gradient():
    _, fig = w.attack_digit(0, 0.05, "fgsm", "zh")
    model = weights.load("ch05_digits_cnn").model.eval()
    X, y, _ = adv.flat_eval_set(model, 1)
    expected = (adv.fgsm(model, X, y, 0.05) - X)[0].reshape(8, 8)
    assert torch.allclose(torch.tensor(fig.data[1].z, dtype=torch.float32), expected, atol=1e-6)


def test_bad_eps_and_index_are_translated_messages():
    status, fig = w.attack_digit(0, 1.5, "fgsm", "zh")
    assert fig is None and status == translate("zh", "errors.range", name="ε", value=1.5, low=0.0, high=1.0)
    status, fig = w.attack_digit(999, 0.1, "fgsm", "en")
    assert fig is None and "999" in status
