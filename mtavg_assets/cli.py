"""Command line: `python -m mtavg_assets demo` runs the main job on the embedded default benchmark.
Dagster, pandas and the stage libraries are imported by the command that needs them, so `--help`
and argument errors answer at once."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from mtavg_assets.settings import DEFAULT_DATA_DIR, DataLayout, configured_data_dir
from mtavg_assets.task.status import RETRYABLE_STATUSES as RETRYABLE

# The printed leaderboard, most important first: as many as the terminal's width holds are shown
# (`leaderboard --all` prints every column; SELECT * FROM leaderboard has them all).
SUMMARY_COLUMNS = [
    "rank",
    "model",
    "accuracy [95% CI]",
    "tied_with_above",
    "chance",
    "balanced_accuracy",
    "kappa",
    "macro_accuracy",
    "temporal_miou",
    "drama_accuracy",
    "completeness",
    "baseline",
    "episode_consistency",
    "temporal_r1_at_0_5",
    "position_rstd",
    "unparseable_rate",
    "error_rate",
]
MIN_WIDTH = 60


WAIT_TIMEOUT_ENV = "MTAVG_WAIT_TIMEOUT_S"  # longest wait for a pool slot held by another live run


def _instance():
    """The persistent instance under DAGSTER_HOME (so `dagster dev` shows these runs), else ephemeral."""
    import dagster as dg

    from mtavg_assets.local_runs import open_instance

    home = os.environ.get("DAGSTER_HOME")
    return open_instance(Path(home)) if home else dg.DagsterInstance.ephemeral()


def ensure_registry(layout: DataLayout) -> None:
    """A data directory without models.yaml gets the default registry (the offline baselines)."""
    if not layout.models_file.exists():
        layout.root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEFAULT_DATA_DIR / "models.yaml", layout.models_file)
        print(f"wrote the default models registry (offline baselines) to {layout.models_file}")


def has_inputs(layout: DataLayout) -> bool:
    """A benchmark is there: QA files or a clip manifest."""
    qa = layout.qa_dir.is_dir() and any(p.suffix.lower() == ".jsonl" for p in layout.qa_dir.iterdir())
    return qa or layout.clip_manifest.exists()


def ensure_demo_data(layout: DataLayout, episodes: int, regenerate: bool) -> None:
    from mtavg_assets.demo.generate import generate_demo

    ensure_registry(layout)
    if layout.clip_manifest.exists() and not regenerate:
        print(f"demo benchmark present in {layout.root} (use --regenerate to rebuild it)")
        return
    started = time.monotonic()
    summary = generate_demo(layout, n_episodes=episodes)
    print(
        f"generated demo benchmark: {summary.clips} clips, {summary.episodes} episodes, "
        f"{summary.qa_instances} QA instances in {time.monotonic() - started:.1f}s"
    )


def run_pipeline(layout: DataLayout, instance, retry_failed: bool = False) -> int:
    """Prepare the benchmark, evaluate every runnable model partition, build metrics. Returns failures.
    retry_failed: also ask again the cells whose last answer is an error, timeout or rate limit."""
    from mtavg_assets.assets.metrics import DUCKDB_POOL
    from mtavg_assets.assets.models import registered_models
    from mtavg_assets.definitions import build_definitions
    from mtavg_assets.local_runs import cli_tags, reclaim_dead_runs, wait_for_pool

    defs = build_definitions(str(layout.root))
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the run log keeps everything
    tags = cli_tags()
    for run_id in reclaim_dead_runs(instance):
        print(f"run {run_id} had been killed: marked failed and its pool slots freed")
    prepare = defs.resolve_job_def("prepare_benchmark").execute_in_process(
        instance=instance, run_config=quiet, raise_on_error=False, tags=tags
    )
    if not prepare.success:
        print(f"preparing the benchmark failed: {failure_message(prepare)}", file=sys.stderr)
        return 1
    print_inputs_summary(layout)
    load = registered_models(layout)
    failures = 0
    for bad in load.invalid:
        if not isinstance(bad["name"], str):  # nothing names an entry: the whole file is unreadable
            print(f"{layout.models_file}: {bad['reason']}", file=sys.stderr)
            failures += 1
        else:
            print(f"models.yaml entry {bad['name']!r} ignored: {bad['reason']}", file=sys.stderr)
    if not load.entries:
        print(f"nothing to evaluate: {layout.models_file} has no valid model entry")
    evaluate = defs.resolve_job_def("evaluate_model")
    evaluate_config = quiet
    if retry_failed:
        evaluate_config = quiet | {"ops": {"predictions": {"config": {"mode": "missing_and_failed"}}}}
    for entry in load.entries:
        if entry.missing_key:
            print(f"skipped {entry.name}: set {entry.api_key_env} to evaluate it")
            continue
        result = evaluate.execute_in_process(
            partition_key=entry.name, instance=instance, run_config=evaluate_config, raise_on_error=False, tags=tags
        )
        if not result.success:
            failures += 1
            print(f"evaluation of {entry.name} failed: {failure_message(result)}", file=sys.stderr)
            continue
        meta = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
        print(
            f"{entry.name}: asked {meta['asked_now']} cells ({meta['already_answered']} already answered), "
            f"{meta['calls']} calls, statuses {meta['statuses_total']}"
        )
        failed_now = sum(v for k, v in (meta.get("statuses_total") or {}).items() if k in RETRYABLE)
        if failed_now:
            print(f"{entry.name}: {failed_now} cells got no answer (error, timeout, rate limit): `run --retry-failed`")
    from mtavg_assets.metrics.build import prediction_files

    if not prediction_files(layout):
        print("no predictions yet: no metric tables to build")
        return failures
    try:
        wait_for_pool(instance, DUCKDB_POOL, float(os.environ.get(WAIT_TIMEOUT_ENV, "900")), print)
    except TimeoutError as exc:
        print(f"metric build not started: {exc}", file=sys.stderr)
        return failures + 1
    metrics = defs.resolve_job_def("build_metrics").execute_in_process(
        instance=instance, run_config=quiet, raise_on_error=False, tags=tags
    )
    if not metrics.success:
        print(f"metric build failed: {failure_message(metrics)}", file=sys.stderr)
    return failures + (0 if metrics.success else 1)


def failure_message(result) -> str:
    """The first step failure of a run, in one line (the run log has the rest)."""
    for event in result.get_step_failure_events():
        error = event.event_specific_data.error
        if error is not None:
            causes = [error, *([error.cause] if error.cause else [])]
            return " <- ".join(f"{c.cls_name}: {c.message.strip().splitlines()[0][:300]}" for c in causes if c)
    return "see the run log"


def print_inputs_summary(layout: DataLayout) -> None:
    """What entered the benchmark and what was rejected (reasons are in clip_rejects / qa_rejects)."""
    clips, clip_rejects = (layout.read(n) for n in ("clip_catalog", "clip_rejects"))
    lines, valid, rejects = (layout.read(n) for n in ("qa_instances", "validated_qa", "qa_rejects"))
    total_clips = len(clips) + len(clip_rejects)
    print(f"clips: {total_clips} manifest lines = {len(clips)} catalogued + {len(clip_rejects)} rejected")
    print(f"QA: {len(lines)} lines = {len(valid)} valid + {len(rejects)} rejected")
    for reason, count in rejects["reason"].value_counts().head(5).items():
        print(f"  rejected x{count}: {reason}")
    registry = layout.read("model_registry")
    entries = registry[registry["status"] != "retired"]
    valid_models = int((entries["status"] == "active").sum())
    print(f"models: {len(entries)} entries = {valid_models} valid + {len(entries) - valid_models} invalid")


def fitting_columns(board, width: int) -> list[str]:
    """The leading SUMMARY_COLUMNS whose markdown table fits in `width` characters (at least rank,
    model and accuracy)."""
    shown = SUMMARY_COLUMNS[:3]
    for column in SUMMARY_COLUMNS[3:]:
        trial = shown + [column]
        if max(len(line) for line in board[trial].to_markdown(index=False).splitlines()) > width:
            break
        shown = trial
    return shown


def _interval(a, lo, hi) -> str:
    if a != a:
        return "–"
    return f"{a:.3f} [{lo:g}, {hi:g}]" if lo == lo and hi == hi else f"{a:.3f} [no interval]"


def print_leaderboard(layout: DataLayout, all_columns: bool = False) -> int:
    """Print the leaderboard; returns how many models are incomplete (each said why, on stderr)."""
    from mtavg_assets.metrics.build import read_table

    board = read_table(layout, "leaderboard")
    board["accuracy [95% CI]"] = [
        _interval(a, lo, hi) for a, lo, hi in zip(board["accuracy"], board["ci_low"], board["ci_high"], strict=True)
    ]
    width = max(MIN_WIDTH, shutil.get_terminal_size((120, 24)).columns)
    columns = list(board.columns) if all_columns else fitting_columns(board, width)
    print("\nMTAVG-Bench leaderboard (baseline = offline reference, not a model)")
    if not all_columns:
        print(f"{len(columns)} of {len(board.columns)} columns: `leaderboard --all`, or SELECT * FROM leaderboard")
    print(board[columns].to_markdown(index=False))
    incomplete = board[board["standing"] == "incomplete"]
    for row in incomplete.itertuples():
        print(
            f"{row.model}: incomplete, not ranked (completeness {row.completeness:.3f}): {row.incomplete_reason}",
            file=sys.stderr,
        )
    print(f"\nDuckDB: {layout.duckdb_file}")
    plots = sorted((layout.root / "plots").glob("*.png")) if (layout.root / "plots").is_dir() else []
    if plots:
        print(f"plots (PNG and SVG): {layout.root / 'plots'} ({', '.join(p.stem for p in plots)})")
    print(f"explore every answer: python -m mtavg_assets --data-dir {layout.root} explore --serve")
    return len(incomplete)


def run_import(args, layout: DataLayout) -> int:
    from mtavg_assets.importing.importer import REJECTS_FILE, import_mtavg, import_release
    from mtavg_assets.importing.mapping import MappingError, load_mapping, preset_path

    if args.into is None and not os.environ.get("MTAVG_DATA_DIR"):
        print("import: say where the benchmark goes: --into DIR (or set MTAVG_DATA_DIR)", file=sys.stderr)
        return 2
    into = (args.into or layout.root).resolve()
    source = args.source
    if args.hf_repo:
        from huggingface_hub import snapshot_download

        source = Path(
            snapshot_download(repo_id=args.hf_repo, repo_type="dataset", revision=args.revision, local_dir=source)
        )
    if source is None or not Path(source).is_dir():
        print(f"import: --source {source} is not a folder", file=sys.stderr)
        return 2
    try:
        if args.format == "mtavg" and not args.mapping:
            summary = import_mtavg(source, into)
        else:
            if args.format == "generic" and not args.mapping:
                raise MappingError("generic imports need --mapping FILE")
            summary = import_release(source, load_mapping(args.mapping or preset_path(args.format)), into)
    except (MappingError, ValueError) as exc:
        print(f"import: {exc}", file=sys.stderr)
        return 2
    print(
        f"rows: {summary.rows} = {summary.imported} imported + {summary.rejected} rejected "
        f"(reasons in {into / REJECTS_FILE}); {summary.clips} clips; QA in {summary.qa_file}"
    )
    if summary.files_rejected:
        print(f"{summary.files_rejected} clip or QA files refused whole (reasons in {into / REJECTS_FILE})")
    if summary.ignored:
        print(f"not brought in from the release: {', '.join(summary.ignored)}")
    print("clips are probed and spans checked against their durations at prepare: `run` prints QA valid + rejected")
    print(f"evaluate it: MTAVG_DATA_DIR={into} python -m mtavg_assets run")
    return 0


def run_estimate(layout: DataLayout) -> int:
    from mtavg_assets.predictions.estimate import estimate
    from mtavg_assets.registry import load_registry

    if not layout.derived("validated_qa").exists():
        print(
            f"estimate: no validated QA in {layout.root}: run `python -m mtavg_assets run` (or demo) first",
            file=sys.stderr,
        )
        return 2
    load = load_registry(layout.models_file)
    for bad in load.invalid:
        print(f"models.yaml: entry {bad['name'] or bad['index']} is invalid: {bad['reason']}", file=sys.stderr)
    table = estimate(layout, load.entries, layout.read("validated_qa"))
    print(table.to_markdown(index=False))
    known = table["cost_usd"].dropna()
    print(
        f"\ntotal: {int(table['to_ask'].sum())} cells to ask, estimated ${known.sum():.4f} for the entries with prices"
    )
    return 0


def run_explore(args, layout: DataLayout) -> int:
    from mtavg_assets.explore import build_explorer

    out = (args.out or layout.root / "explorer").resolve()
    try:
        counts = build_explorer(layout, out)
    except FileNotFoundError as exc:
        print(f"explore: {exc}", file=sys.stderr)
        return 2
    missing = f", {counts['clips_missing']} missing on disk" if counts["clips_missing"] else ""
    print(
        f"explorer of {counts['instances']} instances x {counts['models']} models written to {out} "
        f"({counts['clips']} clips{missing}) in {counts['seconds']:.1f}s; open index.html from any static file server"
    )
    if not args.serve:
        print(f"serve it on 127.0.0.1: python -m mtavg_assets --data-dir {layout.root} explore --out {out} --serve")
        return 0
    from mtavg_assets.explore.site import server

    httpd = server(out, args.port)
    print(f"serving on http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


def run_export(args, layout: DataLayout) -> int:
    from datetime import UTC, datetime
    from importlib.metadata import version

    from mtavg_assets.export.eee import export_eee

    if not layout.duckdb_file.exists():
        print(f"export: no metric build in {layout.root}: run `python -m mtavg_assets run` first", file=sys.stderr)
        return 2
    stamp = str(layout.duckdb_file.stat().st_mtime)  # the build's time: exporting it again gives the same files
    summary = export_eee(layout.duckdb_file, args.out.resolve(), stamp, version("mtavg"))
    built = datetime.fromtimestamp(float(stamp), UTC).isoformat(timespec="seconds")
    print(
        f"Every Eval Ever 0.3.0: {summary.models} ranked models, {summary.instances} instance rows, "
        f"{len(summary.files)} files under {args.out.resolve() / 'data'} (build of {built})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtavg", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="the benchmark directory (default: MTAVG_DATA_DIR, else ./data)")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="generate/load the demo benchmark, evaluate, build metrics, print leaderboard")
    demo.add_argument("--episodes", type=int, default=16, help="demo size: episodes of 3 clips each")
    demo.add_argument("--regenerate", action="store_true", help="re-render the demo benchmark")
    run = sub.add_parser("run", help="prepare, evaluate and build metrics for the benchmark in MTAVG_DATA_DIR as it is")
    run.add_argument(
        "--retry-failed", action="store_true", help="also ask again the cells whose answer is an error/timeout"
    )
    board = sub.add_parser("leaderboard", help="print the leaderboard from the DuckDB file")
    board.add_argument("--all", action="store_true", help="every column, whatever the terminal's width")
    sub.add_parser(
        "estimate", help="cells, tokens, cost and time each registered entry would take, before any call (no keys)"
    )
    explore = sub.add_parser("explore", help="write the static results explorer of the last build")
    explore.add_argument("--out", type=Path, help="where (default: <data dir>/explorer)")
    explore.add_argument("--serve", action="store_true", help="then serve it on 127.0.0.1")
    explore.add_argument("--port", type=int, default=8765, help="port for --serve (0: any free port)")
    export = sub.add_parser("export", help="write the last build in a standard format")
    export.add_argument("--format", required=True, choices=["eee"], help="eee: Every Eval Ever 0.3.0")
    export.add_argument("--out", type=Path, required=True, help="the folder to write")
    imp = sub.add_parser("import", help="convert a downloaded release into a benchmark directory")
    imp.add_argument("--format", required=True, help="preset: mtavg, videomme, worldsense, dailyomni, or generic")
    imp.add_argument("--source", type=Path, help="the release's folder (or where --hf-repo downloads it)")
    imp.add_argument("--mapping", type=Path, help="a mapping file (required for generic; overrides a preset)")
    imp.add_argument("--into", type=Path, help="the benchmark directory (default: MTAVG_DATA_DIR)")
    imp.add_argument("--hf-repo", help="download the release first: a Hugging Face dataset OWNER/NAME")
    imp.add_argument("--revision", help="the dataset revision to download")
    args = parser.parse_args(argv)
    if args.data_dir is not None:
        os.environ["MTAVG_DATA_DIR"] = str(args.data_dir.resolve())  # the runs read it too
    layout = DataLayout(configured_data_dir())
    if args.command == "leaderboard":
        if not layout.duckdb_file.exists():
            print(f"leaderboard: no metric build in {layout.root}", file=sys.stderr)
            return 2
        print_leaderboard(layout, all_columns=args.all)
        return 0
    if args.command == "import":
        return run_import(args, layout)
    if args.command == "estimate":
        return run_estimate(layout)
    if args.command == "explore":
        return run_explore(args, layout)
    if args.command == "export":
        return run_export(args, layout)
    os.environ.setdefault("MTAVG_PROGRESS_BAR", "1")
    started = time.monotonic()
    if args.command == "demo":
        ensure_demo_data(layout, args.episodes, args.regenerate)
    elif not has_inputs(layout):
        print(
            f"no benchmark in {layout.root}: no QA files in {layout.qa_dir} and no clip manifest (a typo in "
            "MTAVG_DATA_DIR / --data-dir?). `demo` creates the demo benchmark; `import` brings a release.",
            file=sys.stderr,
        )
        return 2
    failures = run_pipeline(layout, _instance(), retry_failed=getattr(args, "retry_failed", False))
    if layout.duckdb_file.exists():
        failures += print_leaderboard(layout)
    print(
        f"main job finished in {time.monotonic() - started:.1f}s with {failures} failed step(s) or incomplete model(s)"
    )
    return 1 if failures else 0
