"""Home cards show what the benches measured (bench/cards.json), with date and machine; a chapter
without a measurement says so, in both languages."""
import datetime
import json

import pytest

from core import catalog
from core.i18n import translate
from tests.conftest import ROOT


def test_committed_cards_are_complete_and_name_real_chapters():
    cards = json.loads((ROOT / "bench" / "cards.json").read_text(encoding="utf-8"))
    assert cards, "no measured figure at all"
    for chapter_id, entry in cards.items():
        assert chapter_id in catalog.BY_ID
        assert entry["seconds"] > 0 and entry["what"]["en"] and entry["what"]["zh"]
        datetime.date.fromisoformat(entry["date"])
        assert entry["machine"]["device"] and entry["machine"]["cores"] >= 1
        m = catalog.BY_ID[chapter_id].measured
        assert m is not None and m.seconds == entry["seconds"]


def test_record_then_read_back_and_unmeasured_is_none(tmp_path):
    path = tmp_path / "cards.json"
    assert catalog.measured("ch12", path) is None
    what = {"en": "DCGAN to goal", "zh": "DCGAN 达标"}
    busy = {"device": "cpu", "cores": 2, "load": 11.3}
    assert catalog.record_measurement("ch12", 700.0, what, machine=busy, path=path) is None   # loaded: not a card
    assert catalog.measured("ch12", path) is None
    entry = catalog.record_measurement("ch12", 71.234, what, machine={**busy, "load": 0.4}, path=path)
    assert entry["seconds"] == 71.2 and entry["date"] == datetime.date.today().isoformat()
    assert catalog.record_measurement("ch12", 700.0, what, machine=busy, path=path, force=True)["seconds"] == 700.0
    assert catalog.machine_now()["cores"] >= 1
    catalog.record_measurement("ch05", 4.04, {"en": "digits", "zh": "数字"}, date="2026-01-02",
                               machine={"device": "cpu", "cores": 2, "load": "quiet"}, path=path)
    assert list(json.loads(path.read_text())) == ["ch05", "ch12"]           # book order
    m = catalog.measured("ch05", path)
    assert (m.seconds, m.date, m.machine["load"]) == (4.04, "2026-01-02", "quiet")
    with pytest.raises(ValueError):
        catalog.record_measurement("ch05", 1.0, {"en": "no Chinese"}, path=path)
    with pytest.raises(KeyError):
        catalog.record_measurement("ch99", 1.0, {"en": "x", "zh": "x"}, path=path)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_home_cards_show_the_measured_figures(app, monkeypatch, lang):
    cards = {"ch05": {"seconds": 4.0, "what": {"en": "digits to 97 %", "zh": "数字到 97 %"}, "date": "2026-11-29",
                      "machine": {"device": "cpu", "cores": 2, "load": "quiet", "cpu": ""}},
             "ch12": {"seconds": 75.3, "what": {"en": "DCGAN to goal", "zh": "DCGAN 达标"}, "date": "2026-12-02",
                      "machine": {"device": "cpu", "cores": 2, "load": 11.5, "cpu": ""}}}
    monkeypatch.setattr(catalog, "load_cards", lambda path=None: cards)
    app.session_state["lang"] = lang
    app.run()
    captions = " ".join(c.value for c in app.caption)
    what = "digits to 97 %" if lang == "en" else "数字到 97 %"
    assert what in [c.proto.help for c in app.caption] and "2026-11-29" in captions
    assert translate(lang, "home.cards.seconds", n="4") in captions
    assert translate(lang, "home.cards.minutes", m=1, s=15) in captions              # 75.3 s
    assert translate(lang, "home.cards.load", load=11.5) in captions and translate(lang, "home.cards.quiet") in captions
    built_unmeasured = [c for c in catalog.built_chapters() if c.id not in cards and c.id != "preface"]
    assert captions.count(translate(lang, "home.cards.not_measured")) >= len(built_unmeasured) > 0
    assert "≈" not in captions                                                          # no typed estimates
