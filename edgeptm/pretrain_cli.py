"""``edgeptm pretrain``: masked-LM pre-training from raw text (see :mod:`edgeptm.pretrain`)."""

from __future__ import annotations

from pathlib import Path

import click

from edgeptm.tinymodel import POSITION_EMBEDDINGS, SIZES


def _default(name: str):
    from edgeptm.pretrain import PretrainOptions

    return PretrainOptions.model_fields[name].default


@click.command()
@click.option("--corpus", "corpus_specs", multiple=True, required=True, metavar="[LANG=]PATH",
              help="Raw text, one text per line: LANG=FILE, or a folder of LANG.txt files (repeatable).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output save_pretrained folder.")
@click.option("--model", default=None, help="Continue masked-LM training from this checkpoint (domain adaptation) instead of from scratch.")
@click.option("--size", type=click.Choice(list(SIZES)), default=None, help="From scratch: model size (default mini).")
@click.option("--vocab-size", type=int, default=None, help="From scratch: WordPiece vocabulary size (default 30000).")
@click.option("--lowercase/--no-lowercase", default=None, help="From scratch: lower-case text (default: no).")
@click.option("--strip-accents/--no-strip-accents", default=None, help="From scratch: strip accents (default: no).")
@click.option("--split-cjk/--no-split-cjk", default=None, help="From scratch: one token per CJK character (default: yes).")
@click.option("--tie-embeddings/--no-tie-embeddings", default=None,
              help="From scratch: share the input embeddings with the MLM decoder (default: yes, as BERT).")
@click.option("--position-embedding", type=click.Choice(POSITION_EMBEDDINGS), default=None,
              help="From scratch: position encoding (default: relative_key_query, which small models learn far faster; "
              "absolute is BERT's original).")
@click.option("--max-length", default=_default("max_length"), show_default=True, type=int, help="Tokens per packed block.")
@click.option("--alpha", default=_default("alpha"), show_default=True, type=float, help="Language sampling exponent (p ∝ n^alpha).")
@click.option("--mlm-probability", default=_default("mlm_probability"), show_default=True, type=float)
@click.option("--whole-word-mask", is_flag=True, help="Mask whole words instead of single tokens.")
@click.option("--steps", default=_default("steps"), show_default=True, type=int)
@click.option("--batch-size", default=_default("batch_size"), show_default=True, type=int)
@click.option("--learning-rate", "--lr", default=_default("learning_rate"), show_default=True, type=float)
@click.option("--warmup-ratio", default=_default("warmup_ratio"), show_default=True, type=float)
@click.option("--weight-decay", default=_default("weight_decay"), show_default=True, type=float)
@click.option("--gradient-accumulation-steps", default=_default("gradient_accumulation_steps"), show_default=True, type=int)
@click.option("--heldout-fraction", default=_default("heldout_fraction"), show_default=True, type=float,
              help="Share of each language held out for perplexity (at most --heldout-max-lines).")
@click.option("--heldout-max-lines", default=_default("heldout_max_lines"), show_default=True, type=int)
@click.option("--save-steps", default=_default("save_steps"), show_default=True, type=int, help="Checkpoint and held-out evaluation interval.")
@click.option("--max-unk-rate", default=_default("max_unk_rate"), show_default=True, type=float,
              help="Stop when a language has a larger share of unknown tokens.")
@click.option("--seed", default=_default("seed"), show_default=True, type=int)
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint (same options only).")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def pretrain(corpus_specs, out, model, resume, no_progress, **kw) -> None:
    """Pre-train a masked language model on raw text and save it to OUT (for `edgeptm finetune --model`)."""
    from pydantic import ValidationError

    from edgeptm.corpus import describe, read_corpus
    from edgeptm.pretrain import PretrainOptions, perplexity_rows, pretrain as run_pretrain
    from edgeptm.report import text_table

    try:
        options = PretrainOptions(**kw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise click.BadParameter(err["msg"], param_hint=f"--{str(err['loc'][0]).replace('_', '-')}") from None
    corpus = read_corpus(corpus_specs)
    click.echo(f"corpus: {describe(corpus)}", err=True)
    metrics = run_pretrain(
        corpus, out, options, model=model, resume=resume, progress=not no_progress, log=lambda m: click.echo(m, err=True)
    )
    t = metrics["train"]
    click.echo(f"{t['steps']} steps in {t['runtime_s']:.0f} s on {t['device']}; {t['parameters']:,} parameters")
    click.echo("held-out:")
    click.echo(text_table(*perplexity_rows(metrics)))
    click.echo(f"saved {out} (metrics.json inside)")
