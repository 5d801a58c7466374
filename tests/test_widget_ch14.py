"""Chapter 14 widget: a real collective between spawned ranks streams a status, then the drawn tensors."""
from widgets import ch14_distributed as w


def test_all_reduce_runs_between_processes_and_matches_numpy():
    outputs = list(w.run("all_reduce_sum", 2, 4, 0, "en"))
    assert len(outputs) >= 2                                # streamed: running first, then the result
    status, figure = outputs[-1]
    assert "matches NumPy: ✓" in status and figure is not None
    assert len(figure.data) == 2                            # before and after heatmaps


def test_bad_world_size_is_translated():
    status, figure = list(w.run("broadcast", 99, 4, 0, "zh"))[-1]
    assert "world size 99" in status and "进程" in status and figure is None


def test_widget_builds():
    assert w.build("zh") is not None
