"""Rule validity: reconstruction or retrieval, for one subject (sdbrain.validity_tables)."""
from pathlib import Path

import numpy as np
import pandas as pd

from sdbrain.data.io import align_rows, load_rows, read_ids
from sdbrain.errors import InputError
from sdbrain.evaluation import validity_tables as vt
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def rows_for(features, key: str, ids: np.ndarray, source: str) -> np.ndarray:
    """The late features of the reconstructions ``key`` for the test images ``ids``."""
    if f"recon__{key}" not in features:
        raise InputError(f"{source}: no reconstructions '{key}' (rerun rule validity_features)")
    return align_rows(features[f"recon__{key}"], features[f"ids__{key}"], ids, f"{source} ({key})")


def main():
    log = setup(snakemake.log[0])
    inp, p, subject = snakemake.input, snakemake.params.validity, snakemake.wildcards.subject
    features = np.load(inp.features)
    test_ids = read_ids(inp.test_ids)
    train_ids = np.unique(read_ids(inp.train_ids))
    decoded, true_test, true_train = {}, {}, {}
    for k, target in enumerate(("z", "c")):
        values, _ = load_rows(inp.decoded[2 * k], inp.decoded[2 * k + 1], expected_ids=test_ids)
        decoded[target] = values
        true, ids = load_rows(inp.true[2 * k], inp.true[2 * k + 1], mmap=True)  # every stimulus: read the rows used
        true_test[target] = align_rows(true, ids, test_ids, inp.true[2 * k])
        true_train[target] = align_rows(true, ids, train_ids, inp.true[2 * k])
    data = vt.Subject(
        test_ids=test_ids, originals=align_rows(features["originals"], features["test_ids"], test_ids, inp.features),
        train=align_rows(features["train"], features["train_ids"], train_ids, inp.features), train_ids=train_ids,
        recon={m: rows_for(features, f"{subject}__{m}", test_ids, inp.features) for m in snakemake.params.methods},
        decoded=decoded, true_test=true_test, true_train=true_train)
    zc = snakemake.params.zc
    generated = {c: rows_for(features, f"{c}__{zc}", test_ids, inp.features) for c in snakemake.params.generated}
    methods, order, retrieved = vt.with_controls(data, generated, zc, p)
    skipped = [n for n in p["n_way"] if n > len(test_ids)]
    if skipped:
        log.warning("N-way identification for N = %s skipped: only %d test images", skipped, len(test_ids))
    flags = None
    if inp.truth:  # the toy world's scenes say which test images are novel by construction
        flags = pd.read_csv(Path(inp.truth[0]) / "scenes.tsv", sep="\t", keep_default_na=False).set_index("nsd_id")["novel"]
    novelty = vt.novelty(data, p, flags)
    long = vt.scores(data, methods, order, retrieved, p)
    summary = vt.summary(long, novelty, p)
    out = snakemake.output
    novelty.to_csv(out.novelty, sep="\t", index=False)
    long.to_csv(out.scores, sep="\t", index=False)
    summary.to_csv(out.summary, sep="\t", index=False)
    vt.tests(long, p).to_csv(out.tests, sep="\t", index=False)
    vt.collapse(data, p).to_csv(out.collapse, sep="\t", index=False)
    overall = summary[(summary["space"] == "late") & (summary["group"] == "all")]
    log.info("%s: %d test, %d training images\n%s", subject, len(test_ids), len(train_ids),
             overall.pivot(index="method", columns="metric", values="mean").round(3).to_string())


job.run(main, snakemake)
