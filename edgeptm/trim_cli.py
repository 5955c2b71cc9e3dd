"""``edgeptm trim-vocab``: shrink a multilingual vocabulary to a corpus (see :mod:`edgeptm.trim`)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("trim-vocab")
@click.option("--model", required=True, type=click.Path(path_type=Path), help="A save_pretrained folder with a fast tokenizer.")
@click.option("--corpus", "corpus_specs", multiple=True, required=True, metavar="[LANG=]PATH",
              help="Text in the languages to keep, one text per line: FILE, LANG=FILE, or a folder of LANG.txt files (repeatable).")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--top-k", type=click.IntRange(min=1), default=None,
              help="Total vocabulary size: the special tokens plus the most frequent corpus tokens.")
@click.option("--keep-script", "keep_scripts", multiple=True, metavar="SCRIPT",
              help="Also keep every single-character token of this Unicode script, e.g. Latin (repeatable).")
@click.option("--oov-text", "oov_specs", multiple=True, metavar="[LANG=]PATH",
              help="A second text: report its out-of-vocabulary rate under the trimmed vocab (repeatable).")
@click.option("--max-unk-rate", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="Stop when a corpus language has a larger share of unknown tokens.")
@click.option("--verify-texts", default=256, show_default=True, type=click.IntRange(min=1),
              help="Corpus texts on which the logits are compared.")
def trim_vocab(model, corpus_specs, out, top_k, keep_scripts, oov_specs, max_unk_rate, verify_texts) -> None:
    """Keep only the tokens the corpus uses; slice the embeddings; verify tokens and logits."""
    from edgeptm.corpus import describe, read_corpus
    from edgeptm.report import text_table
    from edgeptm.trim import oov_rows, size_rows, trim_vocab as run_trim

    corpus = read_corpus(corpus_specs)
    oov = read_corpus(oov_specs, role="oov text") if oov_specs else None
    click.echo(f"corpus: {describe(corpus)}", err=True)
    report = run_trim(
        model, corpus, out, top_k=top_k, keep_scripts=keep_scripts, oov_texts=oov, max_unk_rate=max_unk_rate,
        verify_texts=verify_texts, log=lambda m: click.echo(m, err=True),
    )
    click.echo(text_table(*size_rows(report)))
    v = report["verification"]
    line = f"verified: same tokens on {v['same_tokens']} of {v['texts']} corpus texts"
    if v["changed_by_top_k"]:
        line += f" ({v['changed_by_top_k']} changed by --top-k)"
    click.echo(f"{line}; max |Δlogit| {v['max_abs_logit_diff']:.3g} on {v['logit_texts']} texts (tolerance {v['tolerance']:g})")
    if report["oov"]:
        click.echo("second text:")
        click.echo(text_table(*oov_rows(report)))
    click.echo(f"saved {out} ({report['vocab']['after']} tokens; trim-vocab.json inside)")
