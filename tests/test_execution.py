"""The execution engine: cell identity, resume, artefacts, cache damage, locks, executors.

Every test runs one shared tiny grid (toy discs, 24 x 24 x 4) with torch pinned to one
thread; ``WSBENCH_CACHE`` points the slice cache at the test's folder.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from wsbench.execution import Execution, Reporter, run_grid, schedule
from wsbench.execution.lock import OutLock, OutputLocked
from wsbench.grid import RunSpec, plan
from wsbench.store import Store


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("WSBENCH_CACHE", str(tmp_path / "slices"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def grid(tmp_path, **kw):
    """The shared tiny grid: toy-oracle x toy-threshold on toy discs, one seed."""
    base = dict(
        datasets=("toy",),
        labelers=("toy-oracle",),
        segmenters=("toy-threshold",),
        seeds=(0,),
        device="cpu",
        out=tmp_path / "out",
    )
    base.update(kw)
    return RunSpec(**base)


def ids(spec, registry):
    return [d.job.id for d in schedule(plan(spec, registry), spec, registry).decisions]


class Events(Reporter):
    def __init__(self):
        self.events, self.resumed_titles, self.notes = [], [], []

    def event(self, event):
        self.events.append(event)

    def resumed(self, title, record):
        self.resumed_titles.append(title)

    def note(self, message):
        self.notes.append(message)


# -- identity


def test_two_spellings_of_one_configuration_are_one_cell(tmp_path, toy_registry):
    base = ids(grid(tmp_path), toy_registry)
    assert ids(grid(tmp_path, sets={"train.epochs": "1"}), toy_registry) == base  # the default
    assert ids(grid(tmp_path, sets={"toy-threshold.epochs": "01"}), toy_registry) == base
    two = ids(grid(tmp_path, sets={"train.epochs": "2"}), toy_registry)
    assert ids(grid(tmp_path, sets={"train.epochs": "02"}), toy_registry) == two != base


def test_profile_version_and_data_make_new_cells(tmp_path, toy_registry, monkeypatch):
    from wsbench.testing import toy_plugins

    base = ids(grid(tmp_path), toy_registry)
    assert ids(grid(tmp_path, profile="paper"), toy_registry) != base
    assert ids(grid(tmp_path, sets={"toy.seed": "1"}), toy_registry) != base
    monkeypatch.setattr(toy_plugins.ToyThreshold, "version", "0.2.0")
    assert ids(grid(tmp_path), toy_registry) != base
    monkeypatch.undo()
    monkeypatch.setattr(toy_plugins.ToyDataset, "fingerprint", lambda self: "other files")
    assert ids(grid(tmp_path), toy_registry) != base


def test_changed_files_of_a_data_dir_make_a_new_cell(tmp_path):
    from wsbench.data.phantom import write_lits_layout
    from wsbench.plugins import load_registry

    registry = load_registry()
    data = tmp_path / "lits"
    small = {"size": 32, "n_slices": 6, "n_patients": 4}
    write_lits_layout(data, **small)
    spec = grid(
        tmp_path,
        datasets=("lits",),
        labelers=("box-fill",),
        segmenters=("unet",),
        data_dir=data,
        sets={"lits.test_fraction": "0.25", "lits.val_fraction": "0"},
    )
    before = ids(spec, registry)
    write_lits_layout(data, seed=7, force=True, **small)  # same names, new contents
    assert ids(spec, registry) != before


def test_a_changed_cell_keeps_the_old_row_and_latest_gives_the_newest(
    tmp_path, toy_registry, monkeypatch
):
    from wsbench.testing import toy_plugins

    (old,) = run_grid(grid(tmp_path), toy_registry)
    monkeypatch.setattr(toy_plugins.ToyThreshold, "version", "0.2.0")
    reporter = Events()
    spec = grid(tmp_path)
    (sched,) = schedule(plan(spec, toy_registry), spec, toy_registry).decisions
    assert sched.action == "run" and "segmenter.version 0.1.0 -> 0.2.0" in sched.why
    (new,) = run_grid(spec, toy_registry, reporter)
    assert new["id"] != old["id"] and new["config_id"] == old["config_id"]
    assert not new["resumed"] and not reporter.resumed_titles
    with Store(tmp_path / "out" / "results.sqlite") as store:
        assert {r["id"] for r in store.records()} == {old["id"], new["id"]}
        assert [r["id"] for r in store.records(latest=True)] == [new["id"]]


# -- resume and artefacts


def test_resumed_cells_are_announced(tmp_path, toy_registry):
    from wsbench.testing import toy_plugins

    run_grid(grid(tmp_path, seeds=(0, 1)), toy_registry)
    reporter = Events()
    again = run_grid(grid(tmp_path, seeds=(0, 1)), toy_registry, reporter)
    assert all(r["resumed"] for r in again) and toy_plugins.ToyThreshold.fits == 2
    assert len(reporter.resumed_titles) == 2


def test_deleted_artefacts_are_restored(tmp_path, toy_registry):
    from wsbench.testing import toy_plugins

    (first,) = run_grid(grid(tmp_path), toy_registry)
    cell_dir = tmp_path / "out" / "toy" / first["id"]
    preds = sorted(p.name for p in (cell_dir / "predictions").iterdir())
    (cell_dir / "summary.json").unlink()
    for p in (cell_dir / "predictions").iterdir():
        p.unlink()
    reporter = Events()
    (again,) = run_grid(grid(tmp_path), toy_registry, reporter)
    assert not again["resumed"] and toy_plugins.ToyThreshold.fits == 1  # from the checkpoint
    assert "predictions/, summary.json missing" in reporter.notes[0]
    assert sorted(p.name for p in (cell_dir / "predictions").iterdir()) == preds
    assert json.loads((cell_dir / "summary.json").read_text())["mean"] == first["metrics"]
    assert again["metrics"] == first["metrics"] and again["pseudo"] == first["pseudo"]

    (cell_dir / "model.pt").unlink()
    (third,) = run_grid(grid(tmp_path), toy_registry)
    assert toy_plugins.ToyThreshold.fits == 2 and (cell_dir / "model.pt").exists()
    assert third["metrics"] == first["metrics"]
    (fourth,) = run_grid(grid(tmp_path), toy_registry)
    assert fourth["resumed"]


def test_a_failed_rerun_never_replaces_a_finished_record(tmp_path, toy_registry, monkeypatch):
    from wsbench.testing import toy_plugins

    (done,) = run_grid(grid(tmp_path), toy_registry)

    def broken(self, cases, labels, ctx):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(toy_plugins.ToyThreshold, "fit", broken)
    (failed,) = run_grid(grid(tmp_path, resume=False), toy_registry)
    assert failed["status"] == "failed" and failed["id"] == done["id"]
    with Store(tmp_path / "out" / "results.sqlite") as store:
        kept = store.get(done["id"])
    assert kept["status"] == "done" and kept["metrics"] == done["metrics"]


# -- the pseudo-label cache


def test_damaged_cache_entry_is_reported_deleted_and_rebuilt(tmp_path, toy_registry):
    from wsbench.testing import toy_plugins

    (first,) = run_grid(grid(tmp_path), toy_registry)
    entry = tmp_path / "out" / "cache" / "pseudo" / first["provenance"]["pseudo_cache"]["key"][:2]
    (target,) = [p for p in entry.glob("*/t0.npy")]
    target.write_bytes(target.read_bytes()[:-7])  # truncated
    reporter = Events()
    (again,) = run_grid(grid(tmp_path, resume=False), toy_registry, reporter)
    (warning,) = [e for e in reporter.events if e.kind == "warning"]
    assert str(target.parent) in warning.message and "deleted" in warning.message
    assert again["status"] == "done" and toy_plugins.ToyOracle.calls == 2  # relabelled
    assert again["metrics"] == first["metrics"]
    (third,) = run_grid(grid(tmp_path, resume=False), toy_registry)
    assert third["provenance"]["pseudo_cache"]["hit"]  # the rebuilt entry verifies


def test_concurrent_cache_writers_do_not_collide(tmp_path):
    import numpy as np

    from wsbench.api import PseudoLabel
    from wsbench.pseudo_cache import PseudoLabelCache

    cache = PseudoLabelCache(tmp_path / "pseudo")
    labels = [PseudoLabel("a", np.ones((2, 4, 4), np.uint8), np.ones((2, 4, 4)), np.arange(2))]
    threads = [threading.Thread(target=cache.put, args=("k" * 24, labels, {})) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (got,) = cache.get("k" * 24)
    assert got.target.sum() == 32 and not got.weight.flags.writeable  # weight of ones: a view
    assert not list((tmp_path / "pseudo").rglob(".tmp-*"))


def _label_job(labeler_cls):
    from types import SimpleNamespace

    return SimpleNamespace(
        labeler=SimpleNamespace(build=lambda registry: labeler_cls()),
        segmenter=None,
        cell=SimpleNamespace(seed=0),
        cell_dir=Path("unused"),
        data=SimpleNamespace(split={}),  # no validation split
    )


def _weak_cases(n):
    import numpy as np

    from wsbench.api import FullLabel, WeakCase

    label = np.zeros((2, 4, 4), np.uint8)
    return [
        WeakCase(f"c{i}", f"p{i}", np.zeros((2, 4, 4), np.float32), (1.0, 1.0, 1.0),
                 FullLabel(label=label), ("fg",))
        for i in range(n)
    ]  # fmt: skip


def test_label_case_labelers_stream_each_label_into_the_cache(tmp_path):
    import numpy as np

    from wsbench.api import Labeler, PseudoLabel
    from wsbench.execution.stages import stream_pseudo_labels
    from wsbench.pseudo_cache import PseudoLabelCache

    log = []

    class PerCase(Labeler):
        name, consumes = "per-case", ("full",)

        def label_case(self, case, ctx):
            log.append(("made", case.id))
            return PseudoLabel(case.id, np.ones((2, 4, 4), np.uint8), np.ones((2, 4, 4)), [0])

    def stored(labels):
        for lab in labels:
            yield lab
            log.append(("stored", lab.case_id))

    stream = stream_pseudo_labels(_label_job(PerCase), _weak_cases(3), ("fg",), None, "cpu")
    cache = PseudoLabelCache(tmp_path / "pseudo")
    cache.put("k" * 24, stored(stream), {})
    assert log == [(kind, f"c{i}") for i in range(3) for kind in ("made", "stored")]
    assert [lab.case_id for lab in cache.get("k" * 24)] == ["c0", "c1", "c2"]


def test_a_streamed_labeler_with_a_bad_label_stores_nothing(tmp_path):
    import numpy as np

    from wsbench.api import Labeler, PseudoLabel
    from wsbench.errors import WsbenchError
    from wsbench.execution.stages import stream_pseudo_labels
    from wsbench.pseudo_cache import PseudoLabelCache

    class Short(Labeler):  # overrides label: all cases at once, one missing
        name, consumes = "short", ("full",)

        def label(self, cases, ctx):
            return [PseudoLabel(c.id, np.ones((2, 4, 4), np.uint8), np.ones((2, 4, 4)), [0])
                    for c in cases[1:]]  # fmt: skip

    class Flat(Labeler):  # label_case: a 2D map for a 3D case
        name, consumes = "flat", ("full",)

        def label_case(self, case, ctx):
            return PseudoLabel(case.id, np.ones((4, 4), np.uint8), np.ones((4, 4)), [0])

    cache = PseudoLabelCache(tmp_path / "pseudo")
    for cls, message in ((Short, "returned 2 pseudo labels for 3"), (Flat, "case .c0.: target")):
        stream = stream_pseudo_labels(_label_job(cls), _weak_cases(3), ("fg",), None, "cpu")
        with pytest.raises(WsbenchError, match=message):
            cache.put("k" * 24, stream, {})
        assert not cache.has("k" * 24) and not list((tmp_path / "pseudo").rglob(".tmp-*"))


# -- one writer per --out


def test_a_second_run_on_one_out_is_refused_and_wait_queues(tmp_path, toy_registry):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from wsbench.execution.lock import OutLock\n"
            f"with OutLock({str(tmp_path / 'out')!r}):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputLocked, match=f"pid {holder.pid}.*--wait"):
            run_grid(grid(tmp_path), toy_registry)
        assert not (tmp_path / "out" / "results.sqlite").exists()
    finally:
        holder.kill()
        holder.wait()
    lock = OutLock(tmp_path / "out")
    lock.acquire()
    threading.Timer(1.0, lock.release).start()
    (rec,) = run_grid(grid(tmp_path), toy_registry, execution=Execution(wait=True))
    assert rec["status"] == "done"


# -- executors and dying processes


def test_executors_give_identical_metrics(tmp_path, toy_registry):
    pytest.importorskip("ray")
    spec = dict(segmenters=("toy-threshold", "unet"))
    sets = {"train.epochs": "1", "unet.image_size": "32", "unet.batch_size": "4"}
    results = {}
    for name, execution in (
        ("serial", Execution(executor="serial")),
        ("local", Execution(executor="local", jobs=2, threads=1)),
        ("ray", Execution(executor="ray", jobs=2, threads=1)),
    ):
        recs = run_grid(
            grid(tmp_path, out=tmp_path / name, sets=sets, **spec),
            toy_registry,
            execution=execution,
        )
        assert all(r["status"] == "done" for r in recs), [r["error"] for r in recs]
        # JSON, so that NaN (a distance to an empty mask) compares equal to itself
        results[name] = json.dumps([(r["id"], r["metrics"], r["per_case"]) for r in recs])
    assert len(json.loads(results["serial"])) == 2
    assert results["serial"] == results["local"] == results["ray"]


def test_a_killed_worker_fails_only_its_cell(tmp_path, toy_registry):
    recs = run_grid(
        grid(tmp_path, sweeps={"toy-threshold.die": ["false", "true"]}),
        toy_registry,
        execution=Execution(executor="local", jobs=2, threads=1),
    )
    by_die = {r["sweep"]["toy-threshold.die"]: r for r in recs}
    assert by_die["false"]["status"] == "done"
    assert by_die["true"]["status"] == "failed"
    assert "died with signal SIGKILL" in by_die["true"]["error"]


def test_a_killed_driver_loses_no_finished_cell(tmp_path, toy_registry):
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from wsbench.testing import toy_plugins
        from wsbench.execution import run_grid
        from wsbench.grid import RunSpec
        from wsbench.plugins import load_registry
        run_grid(RunSpec(datasets=("toy",), labelers=("toy-oracle",),
                         segmenters=("toy-threshold",), seeds=(0, 1, 2, 3), device="cpu",
                         out={str(tmp_path / "out")!r}, sets={{"toy-threshold.sleep": "1"}}),
                 load_registry(extra=[toy_plugins]))
        """
    )
    driver = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    db = tmp_path / "out" / "results.sqlite"
    deadline = time.monotonic() + 120
    finished: list = []
    while time.monotonic() < deadline and len(finished) < 2:
        time.sleep(0.2)
        if db.exists():
            with Store(db) as store:
                finished = store.records(status="done")
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert len(finished) >= 2
    spec = grid(tmp_path, seeds=(0, 1, 2, 3), sets={"toy-threshold.sleep": "1"})
    recs = run_grid(spec, toy_registry)
    resumed = {r["id"] for r in recs if r["resumed"]}
    assert {r["id"] for r in finished} <= resumed
    assert all(r["status"] == "done" for r in recs) and len(recs) == 4


# -- the command line


TINY = [
    "--dataset", "synthetic", "--labeler", "box-fill,oracle,smile", "--segmenter", "unet",
    "--set", "synthetic.n_patients=3", "--set", "synthetic.size=32",
    "--set", "synthetic.n_slices=4", "--set", "synthetic.val_fraction=0",
    "--set", "synthetic.test_fraction=0.34", "--set", "train.epochs=1", "--device", "cpu",
]  # fmt: skip


def test_plan_and_a_piped_run(tmp_path):
    from click.testing import CliRunner

    from wsbench.cli import main

    out = ["--out", str(tmp_path / "out")]
    runner = CliRunner()
    planned = runner.invoke(main, ["plan", *TINY, *out, "--json"], catch_exceptions=False)
    summary = json.loads(planned.output)
    assert [c["action"] for c in summary["cells"]] == ["run", "run"]
    assert len(summary["groups"]) == 2
    assert [s["what"] for s in summary["skipped"]] == ["synthetic/smile"]

    ran = runner.invoke(main, ["run", *TINY, *out], catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    lines = ran.output.splitlines()
    for c in summary["cells"]:  # plain lines carry the cell id; the ids match the plan
        assert any(line.startswith(f"{c['id']} [main] train") for line in lines)
    assert "┃ labeler" in ran.output and "segmenter" in ran.output  # not squeezed

    again = runner.invoke(main, ["plan", *TINY, *out, "--json"], catch_exceptions=False)
    assert [c["action"] for c in json.loads(again.output)["cells"]] == ["resume", "resume"]
    rerun = runner.invoke(main, ["run", *TINY, *out], catch_exceptions=False)
    assert rerun.output.count("resumed ") == 2
