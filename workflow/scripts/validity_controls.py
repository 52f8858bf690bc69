"""Rule validity_controls: the z and c that the generated controls (ceiling, mean) reconstruct from."""
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
        for target, values in targets.items():
            save_array(snakemake.output[f"{control}_{target}"], values)
            write_ids(snakemake.output[f"{control}_{target}_ids"], test_ids)
    log.info("controls ceiling and mean for %d test images (training mean over %d images)", len(test_ids),
             np.unique(train_ids).size)


job.run(main, snakemake)
