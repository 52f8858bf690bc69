"""Rule caption_scores: a subject's decoded captions scored against the true ones, with ceiling and chance rows.

In the toy world, also whether each caption names the scene's shape, colour and background (the generator's truth).
"""
import json

import numpy as np
import pandas as pd

from sdbrain.errors import InputError
from sdbrain.sd import pipeline
from sdbrain.text import scores
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup

ATTRIBUTES = ("shape", "colour", "background")


def main():
    log = setup(snakemake.log[0])
    p, out = snakemake.params, snakemake.output
    table = pd.read_csv(snakemake.input.captions, sep="\t", keep_default_na=False)
    references = [json.loads(t) for t in table["true"]]
    empty = table["nsd_id"][[not refs for refs in references]].tolist()
    if empty:
        raise InputError(f"{snakemake.input.captions}: no true caption for test image(s) {empty[:5]}")
    pipe = pipeline.load_pipeline(p.model_dir, "cpu")
    each, summary = scores.score(pipe, table["decoded"].tolist(), table["ceiling"].tolist(), references, p.seed)
    ids = table["nsd_id"].to_numpy()
    each.insert(2, "nsd_id", ids[each["image"]])
    each["scored_against"] = ids[each["scored_against"]]
    each.insert(4, "caption", [table.at[k, "ceiling" if s == "ceiling" else "decoded"]
                               for s, k in zip(each["source"], each["image"])])
    if p.scenes:
        named_attributes(each, summary, pd.read_csv(p.scenes, sep="\t").set_index("nsd_id"))
    each.drop(columns="image").to_csv(out.images, sep="\t", index=False)
    summary.insert(0, "subject", snakemake.wildcards.subject)
    summary.to_csv(out.summary, sep="\t", index=False, float_format="%.4f")
    log.info("%s caption scores:\n%s", snakemake.wildcards.subject, summary.to_string(index=False))


def named_attributes(each: pd.DataFrame, summary: pd.DataFrame, scenes: pd.DataFrame) -> None:
    """Add, per caption, whether it names the shape, colour and background of the scene it is scored against."""
    from sdbrain.toy.captioner import named_attributes as named
    said = [named(c) for c in each["caption"]]
    for head in ATTRIBUTES:
        truth = scenes.loc[each["scored_against"], head].to_numpy()
        each[head] = np.array([s[head] for s in said], dtype=object) == truth
    means = each.groupby("source", sort=False)[list(ATTRIBUTES)].mean()
    for head in ATTRIBUTES:
        summary[head] = summary["source"].map(means[head])


job.run(main, snakemake)
