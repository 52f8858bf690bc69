"""Rule validity_controls: the z and c that the generated controls (ceiling, mean) reconstruct from."""
from pathlib import Path

import numpy as np

from sdbrain.data.io import load_rows, read_ids, save_array, write_ids
from sdbrain.evaluation import controls
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    inp = snakemake.input
    z, z_ids = load_rows(inp.z, inp.z_ids)
    c, c_ids = load_rows(inp.c, inp.c_ids)
    test_ids = read_ids(inp.test_ids)
    train_ids = np.concatenate([read_ids(path) for path in inp.train_ids])
    for control, targets in controls.generated_inputs(z, z_ids, c, c_ids, test_ids, train_ids).items():
        out = Path(snakemake.output[0]).parents[1] / control  # results/validity/controls/<control>
        out.mkdir(parents=True, exist_ok=True)
        for target, values in targets.items():
            save_array(out / f"{target}_test.npy", values)
            write_ids(out / f"{target}_test_ids.tsv", test_ids)
    log.info("controls ceiling and mean for %d test images (training mean over %d images)", len(test_ids),
             np.unique(train_ids).size)


job.run(main, snakemake)
