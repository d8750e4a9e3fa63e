"""The ``wsbench`` command: a thin click layer over the Python API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from wsbench import __version__, safejson
from wsbench.errors import ParameterError, WsbenchError

_err = Console(stderr=True)


class _Group(click.Group):
    """Turns every WsbenchError into one red line on stderr and its exit code: 2 for usage
    and configuration errors, 1 for data errors (``WsbenchError.exit_code``)."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):  # type: ignore[override]
        """Click's own usage errors (bad option, bad choice) also become one line, exit 2."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `wsbench`: the help
            click.echo(exc.ctx.get_help(), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) else ""
            line = " ".join(f"{exc.format_message()}{where}".split())
            _err.print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            _err.print("aborted", highlight=False)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except WsbenchError as exc:
            line = " ".join(str(exc).split())  # one line, whatever a plugin put in it
            _err.print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="wsbench")
def main() -> None:
    """Benchmark weakly-supervised medical image segmentation."""


def _csv(value: str | None, option: str = "") -> tuple[str, ...]:
    """Comma list -> names; an option given with no name in it (``--labeler ,``) is an error,
    never 'every one' (leave the option out for that)."""
    if value is None:
        return ()
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names:
        raise ParameterError(
            f"{option} {value!r} names nothing; give names separated by commas, or leave "
            f"{option} out to use every compatible one"
        )
    return names


SEED_MAX = 2**63 - 1  # SQLite's integer, and what numpy and torch accept


def _seeds(value: str) -> tuple[int, ...]:
    names = _csv(value, "--seeds")
    try:
        seeds = tuple(int(v) for v in names)
    except ValueError:
        raise ParameterError(
            f"--seeds {value!r}: give integers separated by commas, e.g. 0,1,2"
        ) from None
    for seed in seeds:
        if not 0 <= seed <= SEED_MAX:
            raise ParameterError(
                f"--seeds {seed}: a seed must lie in 0..{SEED_MAX} (SQLite's integer); "
                "give a smaller one"
            )
    return seeds


def _grid_options(f):
    """The options that say which grid to run (shared by ``run`` and ``plan``)."""
    options = [
        click.option("--labeler", help="Comma list of labelers (default: every compatible one)."),
        click.option("--segmenter", help="Comma list of segmenters (default: all)."),
        click.option("--dataset", help="Comma list of datasets (default: the built-in phantom)."),
        click.option("--data-dir", type=click.Path(path_type=Path), help="Folder of the dataset."),
        click.option("--target", help="What to segment, e.g. tumor, liver, organs."),
        click.option("--weak", help="Weak-label protocol (box, recist, tags, partial, native)."),
        click.option("--seeds", default="0", show_default=True, help="Comma list of seeds."),
        click.option(
            "--profile", type=click.Choice(["quick", "paper"]), default="quick", show_default=True
        ),
        click.option(
            "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N, mps."
        ),
        click.option(
            "--out", type=click.Path(path_type=Path), default=Path("wsbench-out"), show_default=True
        ),
        click.option(
            "--set",
            "sets",
            multiple=True,
            metavar="KEY=VALUE",
            help="Parameter, e.g. acol.delta=0.5, weak.alpha=0.7, train.epochs=3.",
        ),
        click.option(
            "--sweep",
            "sweeps",
            multiple=True,
            metavar="KEY=V1,V2",
            help="Run the grid at each value, e.g. weak.alpha=0,0.5,0.9.",
        ),
        click.option(
            "--preset",
            metavar="NAME",
            help="A documented configuration (its --set values; yours win), e.g. tumour-cpu.",
        ),
        click.option("--no-resume", is_flag=True, help="Re-run cells that are already finished."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _spec(
    labeler,
    segmenter,
    dataset,
    data_dir,
    target,
    weak,
    seeds,
    profile,
    device,
    out,
    sets,
    sweeps,
    no_resume,
    preset=None,
):
    from wsbench.grid import RunSpec, parse_sets, parse_sweeps
    from wsbench.presets import get_preset, with_preset

    if data_dir is not None and not data_dir.is_dir():
        raise WsbenchError(f"--data-dir {data_dir}: no such folder; point it at the dataset root")
    datasets = _csv(dataset, "--dataset")
    return RunSpec(
        datasets=datasets,
        labelers=_csv(labeler, "--labeler"),
        segmenters=_csv(segmenter, "--segmenter"),
        weak=weak,
        seeds=_seeds(seeds),
        profile=profile,
        device=device,
        out=out,
        target=target or (get_preset(preset).target if preset else None),
        data_dir=data_dir,
        sets=with_preset(preset, parse_sets(sets), datasets or ("synthetic",)),
        sweeps=parse_sweeps(sweeps),
        resume=not no_resume,
    )


def _console() -> Console:
    """A terminal console, or one that does not squeeze tables to 80 columns in logs."""
    console = Console()
    return console if console.is_terminal else Console(width=240, soft_wrap=True)


@main.command()
@_grid_options
@click.option(
    "--executor",
    type=click.Choice(["serial", "local", "ray"]),
    help="serial: one process; local: one worker process per device or --jobs; ray: a Ray "
    "cluster. Default: local when there are several workers, else serial.",
)
@click.option("--jobs", default=1, show_default=True, help="CPU workers (they split the cores).")
@click.option(
    "--devices", help="Comma list of worker devices, e.g. cuda:0,cuda:1 (default: all GPUs)."
)
@click.option(
    "--ray-address", help="Ray cluster to join: auto or HOST:PORT (default: a local one)."
)
@click.option("--wait", is_flag=True, help="Wait for another run on the same --out to finish.")
def run(executor, jobs, devices, ray_address, wait, **grid) -> None:
    """Run a labeler x segmenter grid and print the leaderboard."""
    from wsbench import leaderboard
    from wsbench.execution import Execution, run_plan
    from wsbench.grid import plan
    from wsbench.paths import prepare_out_dir
    from wsbench.plugins import load_registry
    from wsbench.progress import make_reporter
    from wsbench.training.device import select_device

    spec = _spec(**grid)
    out = spec.out
    registry = load_registry()
    _warn_failures(registry)
    the_plan = plan(spec, registry)
    console = _console()
    if not the_plan.cells:
        for what, why in the_plan.skipped:
            console.print(f"[yellow]skipped[/] {what}: {why}", soft_wrap=True)
        raise WsbenchError(
            "nothing to run: no compatible labeler x segmenter x dataset cell; "
            "see the skipped lines above"
        )
    execution = Execution(
        executor=executor,
        jobs=jobs,
        devices=_csv(devices, "--devices"),
        ray_address=ray_address,
        wait=wait,
    )
    select_device(spec.device)  # a bad --device fails here, before --out is made
    prepare_out_dir(out)
    with make_reporter(console) as reporter:
        records = run_plan(the_plan, spec, registry, reporter, execution)
    from wsbench.store import Store

    with Store(out / "results.sqlite") as store:
        everything = store.records(latest=True)
    rows = leaderboard.build_rows(everything, registry.reported())
    leaderboard.write(rows, everything, out / "leaderboard", registry.reported())
    for ds in sorted({r.dataset for r in records}):
        console.print(_rich_table([r for r in rows if r["dataset"] == ds], ds))
    console.print(f"results: {out / 'results.sqlite'}  tables: {out / 'leaderboard'}")
    failed = [r for r in records if r.status == "failed"]
    if failed:
        _err.print(
            f"[red]{len(failed)} of {len(records)} cells failed[/]; first: "
            + escape(
                f"{failed[0].labeler} x {failed[0].segmenter}: "
                + " ".join(str(failed[0].error).split())
            ),
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


@main.command("plan")
@_grid_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plan_cmd(as_json: bool, **grid) -> None:
    """Say what `wsbench run` would do with the same options, running nothing: the cells,
    the label groups, what resumes and why, what is skipped and why."""
    from wsbench.execution import plan_summary, schedule
    from wsbench.grid import plan
    from wsbench.plugins import load_registry

    spec = _spec(**grid)
    registry = load_registry()
    summary = plan_summary(schedule(plan(spec, registry), spec, registry))
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return
    console = _console()
    table = Table(
        title=f"wsbench plan — {len(summary['cells'])} cells, {len(summary['groups'])} label groups"
    )
    for col in ("group", "cell", "id", "action", "why"):
        table.add_column(col)
    for c in summary["cells"]:
        style = {"resume": "dim", "restore": "yellow"}.get(c["action"])
        group = "" if c["group"] is None else str(c["group"])
        table.add_row(group, c["title"], c["id"], c["action"], c["why"], style=style)
    console.print(table)
    for g in summary["groups"]:
        if g["labels_with_segmenter"]:
            how = "labels and trains its segmenter in one task"
        else:
            how = f"labels once, then {len(g['cells'])} cell(s) train in parallel"
        console.print(f"group {g['group']}: {g['labeler']} {how}")
    for s in summary["skipped"]:
        console.print(f"[yellow]skipped[/] {s['what']}: {s['why']}", soft_wrap=True)


@main.command("leaderboard")
@click.option(
    "--results",
    "results",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A run's --out folder, its results.sqlite, or a published leaderboards/<grid> "
    "folder (repeat for several grids). Default: wsbench-out.",
)
@click.option(
    "--to",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for <dataset>.md, .csv, .json, records.json, figures and gallery overlays "
    "(default: <first --results run folder>/leaderboard, else wsbench-out/leaderboard; never "
    "the published leaderboards/; none when only --site or --check is given).",
)
@click.option(
    "--site",
    type=click.Path(path_type=Path),
    default=None,
    help="Build the static HTML site into this folder.",
)
@click.option(
    "--check",
    "check_dir",
    is_flag=False,
    flag_value="leaderboards",
    default=None,
    type=click.Path(path_type=Path),
    help="Fail when the published leaderboards (default folder: leaderboards) no longer "
    "match what the current code and plugin versions would publish.",
)
def leaderboard_cmd(
    results: tuple[Path, ...], to: Path | None, site: Path | None, check_dir: Path | None
) -> None:
    """Write leaderboard tables, figures and the static site from stored results."""
    from wsbench import leaderboard
    from wsbench.leaderboard.publish import plain_name
    from wsbench.plugins import load_registry

    registry = load_registry()
    console = Console()
    if check_dir is not None:
        problems = leaderboard.check(check_dir, registry)
        for line in problems:
            click.echo(f"stale: {line}", err=True)
        if problems:
            sys.exit(1)
        console.print(f"{check_dir}: up to date")
        if not results and to is None and site is None:
            return
    sources = [leaderboard.load_source(p) for p in (results or (Path("wsbench-out"),))]
    reported = registry.reported()
    info = leaderboard.plugin_info(registry)
    if to is None and site is None:
        to = default_tables_dir(results[0] if results else Path("wsbench-out"))
        console.print(f"tables go to {to} (the default; --to DIR chooses)", highlight=False)
    for src in sources:
        rows = leaderboard.build_rows(src.records, reported, info)
        if to is not None:
            dest = to if len(sources) == 1 else to / plain_name(src.name)
            for path in leaderboard.write(rows, src.records, dest, reported, src.roots, info):
                console.print(f"wrote {path}", highlight=False)
        for ds in sorted({r["dataset"] for r in rows}):
            console.print(_rich_table([r for r in rows if r["dataset"] == ds], ds))
    if site is not None:
        pages = leaderboard.build_site(sources, site, reported, info)
        console.print(f"site: {pages[0]} ({len(pages) - 1} pages)", highlight=False)


@main.command()
@click.option("--params", "params_of", metavar="NAME", help="Show one plugin's parameters.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(params_of: str | None, as_json: bool) -> None:
    """List installed plugins: name, kind, version, source package, parameters."""
    from wsbench.errors import UnknownPluginError
    from wsbench.plugins import load_registry

    registry = load_registry()
    entries = []
    for kind, cls in registry.all_plugins():
        info = cls.describe()
        info["package"] = registry.source(kind, cls.name)
        entries.append(info)
    if params_of:
        entries = [e for e in entries if e["name"] == params_of]
        if not entries:
            raise UnknownPluginError(
                "plugin", params_of, {c.name for _, c in registry.all_plugins()}
            )
    if as_json:
        click.echo(
            json.dumps({"plugins": entries, "failures": registry.failures}, indent=1, default=str)
        )
        return
    console = Console()
    if params_of:
        for e in entries:
            table = Table(title=f"{e['kind']} {e['name']} {e['version']} ({e['package']})")
            for col in ("parameter", "default", "quick", "paper", "valid", "doc"):
                table.add_column(col)
            for p in e["params"]:
                table.add_row(
                    p["name"],
                    repr(p["default"]),
                    repr(e["profiles"].get("quick", {}).get(p["name"], "")),
                    repr(e["profiles"].get("paper", {}).get(p["name"], "")),
                    p.get("valid", "/".join(map(str, p.get("choices", [])))),
                    p["doc"],
                )
            console.print(table)
            if e["citation"]:
                console.print(f"cite: {e['citation']}")
        return
    table = Table(title="wsbench plugins")
    for col in ("kind", "name", "version", "package", "parameters"):
        table.add_column(col)
    for e in entries:
        table.add_row(
            e["kind"],
            e["name"],
            e["version"],
            e["package"],
            ", ".join(p["name"] for p in e["params"]),
        )
    console.print(table)
    _warn_failures(registry)


@main.group()
def data() -> None:
    """Make and check datasets."""


@data.command("synth")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--profile", type=click.Choice(["quick", "paper"]), default="quick", show_default=True
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Phantom parameter as <plugin>.<param>, e.g. synthetic.n_patients=10.",
)
@click.option("--force", is_flag=True, help="Overwrite phantom files already in OUT.")
def synth(out: Path, profile: str, sets: tuple[str, ...], force: bool) -> None:
    """Write the phantom in the LiTS layout (volume-N.nii, segmentation-N.nii, organs-N.nii).

    Files already in OUT are never replaced unless --force is given."""
    from wsbench.data.phantom import write_lits_layout
    from wsbench.grid import parse_sets
    from wsbench.params import scoped_sets

    overrides = scoped_sets(parse_sets(sets), {"synthetic"}).get("synthetic", {})
    paths = write_lits_layout(out, profile=profile, force=force, **overrides)
    click.echo(f"wrote {len(paths)} files to {out}")


@data.command("check")
@click.option("--dataset", required=True)
@click.option("--data-dir", type=click.Path(path_type=Path), required=True)
@click.option("--target", help="Target whose labels are counted (default: the dataset's default).")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Dataset parameter as <plugin>.<param>, e.g. folder.patient_regex=^(p\\d+)_.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout.")
def check(
    dataset: str, data_dir: Path, target: str | None, sets: tuple[str, ...], as_json: bool
) -> None:
    """Validate every file of a dataset; exit 1 with one line per bad file."""
    from wsbench.data.check import check_dataset
    from wsbench.grid import parse_sets
    from wsbench.params import scoped_sets
    from wsbench.plugins import load_registry

    if not data_dir.is_dir():
        raise WsbenchError(f"--data-dir {data_dir}: no such folder; point it at the dataset root")
    cls = load_registry().get("dataset", dataset)
    overrides = scoped_sets(parse_sets(sets), {dataset}).get(dataset, {})
    records, errors = check_dataset(cls(data_dir=data_dir, **overrides), target)
    if as_json:
        for rec in records:
            click.echo(safejson.dumps(rec, default=str))
    else:
        table = Table(title=f"{dataset}: {len(records)} valid case(s)")
        for col in ("id", "patient", "split", "shape", "spacing", "voxels per label"):
            table.add_column(col)
        for rec in records:
            table.add_row(
                str(rec["id"]),
                str(rec["patient"]),
                str(rec["split"]),
                "x".join(map(str, rec["shape"])),
                " x ".join(f"{s:.3g}" for s in rec["spacing"]),
                ", ".join(f"{k}: {v}" for k, v in rec["voxels"].items()),
            )
        Console().print(table)
    for line in errors:
        click.echo(line, err=True)
    sys.exit(1 if errors else 0)


def default_tables_dir(results: Path) -> Path:
    """Where ``wsbench leaderboard`` writes without ``--to``: beside the run's results, as
    ``wsbench run`` does, and never over the published ``leaderboards/`` of a checkout."""
    run_dir = results.parent if results.suffix == ".sqlite" else results
    if (run_dir / "results.sqlite").is_file():
        return run_dir / "leaderboard"
    return Path("wsbench-out") / "leaderboard"


def _rich_table(rows: list[dict], dataset: str) -> Table:
    from wsbench import leaderboard

    return leaderboard.rich_table(rows, dataset)


def _warn_failures(registry) -> None:
    for line in registry.failures.values():
        _err.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
