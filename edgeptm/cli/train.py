"""``edgeptm finetune``, ``pretrain`` and ``trim-vocab``: making the models that get deployed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from edgeptm.cli.options import data_options, data_selection, force_option, training_options, training_options_from
from edgeptm.train.tinymodel import POSITION_EMBEDDINGS, SIZES


@click.command()
@click.option("--model", required=True, help="Hub id, local save_pretrained folder, or builtin:tiny-multilingual.")
@click.option("--train", "train_path", required=True, help="Training data: file or per-language folder.")
@click.option("--eval", "eval_path", required=True, help="Evaluation data (early stopping, best checkpoint).")
@click.option("--test", "test_path", default=None, help="Optional test data, reported in metrics.json.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output save_pretrained folder.")
@data_options
@training_options
@force_option
def finetune(model, train_path, eval_path, test_path, out, resume, no_progress, force, **kw) -> None:
    """Fine-tune MODEL for sequence classification and save it to OUT."""
    from edgeptm.data import describe
    from edgeptm.train.finetune import FinetuneOptions
    from edgeptm.train.finetune import finetune as run_finetune

    options = training_options_from(FinetuneOptions, kw)
    selection, _ = data_selection(kw)
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    train = selection.load(train_path, "train")
    eval_data = selection.selection_data(selection.load(eval_path, "eval"), log)
    test = selection.load(test_path, "test") if test_path else None
    main_process = os.environ.get("RANK", "0") == "0"  # under torchrun, only rank 0 reports
    if main_process:
        click.echo(f"train: {describe(train)}", err=True)
    metrics = run_finetune(
        model,
        train,
        eval_data,
        out,
        options,
        test=test,
        resume=resume,
        on_change="restart" if force else "refuse",
        progress=not no_progress,
        log=log,
        force=force,
    )
    if main_process:
        _print_finetune(metrics, out)


def print_split_tables(metrics: Any, splits: tuple[str, ...]) -> None:
    """One table per split present in ``metrics``: overall and per-language n, accuracy and macro-F1."""
    from edgeptm.recipes.stages.finetune import split_rows
    from edgeptm.report.tables import text_table

    for split in splits:
        if split in metrics:
            click.echo(f"{split.replace('_', ' ')}:")
            click.echo(text_table(["language", "n", "accuracy", "macro_f1"], split_rows(metrics[split])))


def _print_finetune(metrics: Any, out: Path) -> None:
    from edgeptm.measure.coverage import coverage_rows
    from edgeptm.report.tables import text_table

    click.echo("tokenizer coverage:")
    click.echo(text_table(*coverage_rows(metrics["coverage"])))
    print_split_tables(metrics, ("eval", "test"))
    click.echo(f"saved {out} (metrics.json inside)")


def _default(name: str):
    from edgeptm.train.pretrain import PretrainOptions

    return PretrainOptions.model_fields[name].default


@click.command()
@click.option(
    "--corpus",
    "corpus_specs",
    multiple=True,
    required=True,
    metavar="[LANG=]PATH",
    help="Raw text, one text per line: LANG=FILE, or a folder of LANG.txt files (repeatable).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output save_pretrained folder.")
@click.option(
    "--model",
    default=None,
    help="Continue masked-LM training from this checkpoint (domain adaptation) instead of from scratch.",
)
@click.option("--size", type=click.Choice(list(SIZES)), default=None, help="From scratch: model size (default mini).")
@click.option("--vocab-size", type=int, default=None, help="From scratch: WordPiece vocabulary size (default 30000).")
@click.option("--lowercase/--no-lowercase", default=None, help="From scratch: lower-case text (default: no).")
@click.option("--strip-accents/--no-strip-accents", default=None, help="From scratch: strip accents (default: no).")
@click.option(
    "--split-cjk/--no-split-cjk", default=None, help="From scratch: one token per CJK character (default: yes)."
)
@click.option(
    "--tie-embeddings/--no-tie-embeddings",
    default=None,
    help="From scratch: share the input embeddings with the MLM decoder (default: yes, as BERT).",
)
@click.option(
    "--position-embedding",
    type=click.Choice(POSITION_EMBEDDINGS),
    default=None,
    help="From scratch: position encoding (default: relative_key_query, which small models learn far faster; "
    "absolute is BERT's original).",
)
@click.option(
    "--max-length", default=_default("max_length"), show_default=True, type=int, help="Tokens per packed block."
)
@click.option(
    "--alpha",
    default=_default("alpha"),
    show_default=True,
    type=float,
    help="Language sampling exponent (p ∝ n^alpha).",
)
@click.option("--mlm-probability", default=_default("mlm_probability"), show_default=True, type=float)
@click.option("--whole-word-mask", is_flag=True, help="Mask whole words instead of single tokens.")
@click.option("--steps", default=_default("steps"), show_default=True, type=int)
@click.option("--batch-size", default=_default("batch_size"), show_default=True, type=int)
@click.option("--learning-rate", "--lr", default=_default("learning_rate"), show_default=True, type=float)
@click.option("--warmup-ratio", default=_default("warmup_ratio"), show_default=True, type=float)
@click.option("--weight-decay", default=_default("weight_decay"), show_default=True, type=float)
@click.option(
    "--gradient-accumulation-steps", default=_default("gradient_accumulation_steps"), show_default=True, type=int
)
@click.option(
    "--heldout-fraction",
    default=_default("heldout_fraction"),
    show_default=True,
    type=float,
    help="Share of each language held out for perplexity (at most --heldout-max-lines).",
)
@click.option("--heldout-max-lines", default=_default("heldout_max_lines"), show_default=True, type=int)
@click.option(
    "--save-steps",
    default=_default("save_steps"),
    show_default=True,
    type=int,
    help="Checkpoint and held-out evaluation interval.",
)
@click.option(
    "--max-unk-rate",
    default=_default("max_unk_rate"),
    show_default=True,
    type=float,
    help="Continuing a model: stop when its tokenizer makes a larger share of a language's tokens unknown. "
    "From scratch: warn.",
)
@click.option("--seed", default=_default("seed"), show_default=True, type=int)
@click.option("--threads", default=None, type=int, help="torch threads while training (default: the physical cores).")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run from its last complete checkpoint (same options and corpus only; "
    "with --force, a different run starts over).",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@force_option
def pretrain(corpus_specs, out, model, resume, no_progress, force, **kw) -> None:
    """Pre-train a masked language model on raw text and save it to OUT (for `edgeptm finetune --model`)."""
    from pydantic import ValidationError

    from edgeptm.data.corpus import describe, read_corpus
    from edgeptm.measure.coverage import coverage_rows
    from edgeptm.report.tables import text_table
    from edgeptm.train.pretrain import PretrainOptions, perplexity_rows
    from edgeptm.train.pretrain import pretrain as run_pretrain

    try:
        options = PretrainOptions(**kw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise click.BadParameter(err["msg"], param_hint=f"--{str(err['loc'][0]).replace('_', '-')}") from None
    corpus = read_corpus(corpus_specs)
    click.echo(f"corpus: {describe(corpus)}", err=True)
    metrics = run_pretrain(
        corpus,
        out,
        options,
        model=model,
        resume=resume,
        on_change="restart" if force else "refuse",
        progress=not no_progress,
        log=lambda m: click.echo(m, err=True),
        force=force,
    )
    t = metrics["train"]
    click.echo(f"{t['steps']} steps in {t['runtime_s']:.0f} s on {t['device']}; {t['parameters']:,} parameters")
    click.echo("tokenizer coverage (held-out text):")
    click.echo(text_table(*coverage_rows(metrics["coverage"])))
    click.echo("held-out:")
    click.echo(text_table(*perplexity_rows(metrics)))
    click.echo(f"saved {out} (metrics.json inside)")


@click.command("trim-vocab")
@click.option(
    "--model", required=True, type=click.Path(path_type=Path), help="A save_pretrained folder with a fast tokenizer."
)
@click.option(
    "--corpus",
    "corpus_specs",
    multiple=True,
    required=True,
    metavar="[LANG=]PATH",
    help="Text in the languages to keep, one text per line: FILE, LANG=FILE, or a folder of LANG.txt files (repeatable).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option(
    "--top-k",
    type=click.IntRange(min=1),
    default=None,
    help="Total vocabulary size: the special tokens plus the most frequent corpus tokens.",
)
@click.option(
    "--keep-script",
    "keep_scripts",
    multiple=True,
    metavar="SCRIPT",
    help="Also keep every single-character token of this Unicode script, e.g. Latin (repeatable).",
)
@click.option(
    "--oov-text",
    "oov_specs",
    multiple=True,
    metavar="[LANG=]PATH",
    help="A second text: report its out-of-vocabulary rate under the trimmed vocab (repeatable).",
)
@click.option(
    "--max-unk-rate",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Stop when a corpus language has a larger share of unknown tokens.",
)
@click.option(
    "--verify-texts",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Corpus texts on which the logits are compared.",
)
@force_option
def trim_vocab(model, corpus_specs, out, top_k, keep_scripts, oov_specs, max_unk_rate, verify_texts, force) -> None:
    """Keep only the tokens the corpus uses; slice the embeddings; verify tokens and logits."""
    from edgeptm.data.corpus import describe, read_corpus
    from edgeptm.report.tables import text_table
    from edgeptm.train.trim import oov_rows, size_rows
    from edgeptm.train.trim import trim_vocab as run_trim

    corpus = read_corpus(corpus_specs)
    oov = read_corpus(oov_specs, role="oov text") if oov_specs else None
    click.echo(f"corpus: {describe(corpus)}", err=True)
    report = run_trim(
        model,
        corpus,
        out,
        top_k=top_k,
        keep_scripts=keep_scripts,
        oov_texts=oov,
        max_unk_rate=max_unk_rate,
        verify_texts=verify_texts,
        log=lambda m: click.echo(m, err=True),
        force=force,
    )
    click.echo(text_table(*size_rows(report)))
    v = report["verification"]
    line = f"verified: same tokens on {v['same_tokens']} of {v['texts']} corpus texts"
    if v["changed_by_top_k"]:
        line += f" ({v['changed_by_top_k']} changed by --top-k)"
    click.echo(
        f"{line}; max |Δlogit| {v['max_abs_logit_diff']:.3g} on {v['logit_texts']} texts (tolerance {v['tolerance']:g})"
    )
    if report["oov"]:
        click.echo("second text:")
        click.echo(text_table(*oov_rows(report)))
    click.echo(f"saved {out} ({report['vocab']['after']} tokens; trim-vocab.json inside)")
