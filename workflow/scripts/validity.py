"""Rule validity: reconstruction or retrieval, for one subject (sdbrain.evaluation.validity_tables)."""
import numpy as np
import pandas as pd

from sdbrain.data.io import align_rows, load_rows, read_ids
from sdbrain.evaluation import validity_tables as vt
from sdbrain.workflow import job, paths
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    inp, p, subject = snakemake.input, snakemake.params, snakemake.wildcards.subject
    settings = vt.Settings.pick(p.validity)
    late = vt.LateFeatures.load(inp.features)
    test_ids = read_ids(inp.test_ids)
    train_ids = np.unique(read_ids(inp.train_ids))
    decoded, true_test, true_train = {}, {}, {}
    for target in ("z", "c"):
        decoded[target], _ = load_rows(inp[f"decoded_{target}"], inp[f"decoded_{target}_ids"], expected_ids=test_ids)
        # every stimulus: read the rows used
        true, ids = load_rows(inp[f"true_{target}"], inp[f"true_{target}_ids"], mmap=True)
        true_test[target] = align_rows(true, ids, test_ids, inp[f"true_{target}"])
        true_train[target] = align_rows(true, ids, train_ids, inp[f"true_{target}"])
    data = vt.Subject(
        test_ids=test_ids, originals=align_rows(late.originals, late.test_ids, test_ids, inp.features),
        train=align_rows(late.train, late.train_ids, train_ids, inp.features), train_ids=train_ids,
        recon={m: late.reconstructions(subject, m, test_ids, inp.features) for m in p.methods},
        decoded=decoded, true_test=true_test, true_train=true_train)
    generated = {c: late.reconstructions(c, p.zc, test_ids, inp.features) for c in p.generated}
    caption_c = None
    if "caption_c" in inp.keys():  # method text: the retrieval by the decoded caption
        caption_c, _ = load_rows(inp.caption_c, inp.caption_c_ids, expected_ids=test_ids)
    methods, order, retrieved = vt.with_controls(data, generated, p.zc, settings, caption_c)
    skipped = [n for n in settings.n_way if n > len(test_ids)]
    if skipped:
        log.warning("N-way identification for N = %s skipped: only %d test images", skipped, len(test_ids))
    flags = None
    if inp.truth:  # the toy world's scenes say which test images are novel by construction
        flags = pd.read_csv(paths.TOY_SCENES, sep="\t", keep_default_na=False).set_index("nsd_id")["novel"]
    novelty = vt.novelty(data, settings, flags)
    long = vt.scores(data, methods, order, retrieved, settings)
    summary = vt.summary(long, novelty, settings)
    out = snakemake.output
    novelty.to_csv(out.novelty, sep="\t", index=False)
    long.to_csv(out.scores, sep="\t", index=False)
    summary.to_csv(out.summary, sep="\t", index=False)
    vt.tests(long, settings).to_csv(out.tests, sep="\t", index=False)
    vt.collapse(data, settings).to_csv(out.collapse, sep="\t", index=False)
    overall = summary[(summary["space"] == "late") & (summary["group"] == "all")]
    log.info("%s: %d test, %d training images\n%s", subject, len(test_ids), len(train_ids),
             overall.pivot(index="method", columns="metric", values="mean").round(3).to_string())


job.run(main, snakemake)
