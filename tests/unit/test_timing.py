"""Where the time goes: phases, their sums, the progress tally and `labctl --verbose`."""

import threading
import time

import pytest
from click.testing import CliRunner

from labctl import timing
from labctl.cli.main import cli


@pytest.fixture(autouse=True)
def fresh():
    timing.clear()
    yield
    timing.clear()


def test_phases_sum_in_the_order_they_first_ran():
    timing.record("seat: personalise", 2.0)
    with timing.phase("seat: save the pristine state"):
        time.sleep(0.02)
    timing.record("seat: personalise", 5.0)
    rows = timing.summary()
    assert [r.name for r in rows] == ["seat: personalise", "seat: save the pristine state"]
    first = rows[0]
    assert (first.count, first.total, first.longest, first.mean) == (2, 7.0, 5.0, 3.5)
    assert rows[1].count == 1 and rows[1].total >= 0.02


def test_a_phase_that_raises_is_still_timed():
    @timing.timed("fault: inject playbook")
    def boom():
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        boom()
    assert [(r.name, r.count) for r in timing.summary()] == [("fault: inject playbook", 1)]


def test_parallel_threads_each_count():
    def work():
        for _ in range(100):
            timing.record("checks: run", 0.5)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (row,) = timing.summary()
    assert row.count == 800 and row.total == pytest.approx(400.0)


def test_render_is_a_table_with_the_wall_time():
    timing.record("seat: warm start (restore the image's saved guest)", 3.25)
    text = timing.render(4.0)
    lines = text.splitlines()
    assert lines[0].startswith("time breakdown")
    assert "3.2s" in lines[2] and lines[2].split()[-4] == "1"
    assert lines[-1].split() == ["wall", "time", "4.0s"]
    timing.clear()
    assert "nothing timed" in timing.render(1.0)


def test_tally_draws_a_bar_per_item_done():
    said = []
    tally = timing.Tally(4, "seats ready", said.append)
    tally.step()
    tally.step(ok=False)
    assert said[0].startswith("[#####...............] 1/4 seats ready (")
    assert said[1].startswith("[##########..........] 2/4 seats ready, 1 failed (")
    tally.step()
    tally.step()
    assert said[-1].startswith("[####################] 4/4 seats ready, 1 failed")


def test_verbose_prints_the_breakdown_even_when_the_command_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABCTL_CACHE_DIR", str(tmp_path / "cache"))
    res = CliRunner().invoke(cli, ["--verbose", "fault", "list"])
    assert res.exit_code == 0, res.output
    assert "time breakdown: nothing timed" in res.output
    res = CliRunner().invoke(cli, ["-v", "image", "build", "no-such-image"])
    assert res.exit_code == 3
    assert "unknown image" in res.output and "time breakdown" in res.output
    res = CliRunner().invoke(cli, ["fault", "list"])
    assert "time breakdown" not in res.output
