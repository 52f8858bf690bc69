"""Rule encode: whole-brain voxel-wise ridge from one feature space; r, p and FDR maps."""
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from sdbrain import encode, maps, nsd
from sdbrain.errors import guarded
from sdbrain.ingest import valid_columns
from sdbrain.io import load_rows
from sdbrain.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, out, w = snakemake.params, snakemake.output, snakemake.wildcards
    betas_dir = Path(snakemake.input.train_ids).parent
    y_train, train_ids, voxels, valid = valid_columns(betas_dir, "brain", "train", mmap=True)  # read in voxel blocks
    y_test, test_ids, _, _ = valid_columns(betas_dir, "brain", "test", mmap=False)
    features, feature_ids = load_rows(snakemake.input.features, snakemake.input.feature_ids, mmap=True)
    train_images, train_rows = np.unique(train_ids, return_inverse=True)
    reduced = encode.reduce(features, feature_ids, train_images, test_ids, p.encode["pca_components"],
                            p.encode["seed"], snakemake.input.features)
    log.info("%s %s: %d features (PCA: %s) -> %d voxels; %d train trials of %d images, %d test images", w.subject,
             w.space, reduced.train.shape[1], "yes" if reduced.explained_variance.size else "no", int(valid.sum()),
             len(train_ids), len(train_images), len(test_ids))
    result = encode.fit_voxels(reduced.train, train_rows, reduced.test, y_train, y_test, p.encode,
                               columns=np.flatnonzero(valid))
    log.info("backend %s; r: median %.3f, max %.3f; %d of %d voxels significant (BH-FDR q=%g)", result.backend,
             np.nanmedian(result.r), np.nanmax(result.r), result.significant.sum(), len(result.r), p.encode["fdr_q"])
    reference = nib.load(nsd.Layout(p.nsd_root).roi(w.subject, "brainmask"))
    shape = tuple(reversed(reference.shape[:3]))
    index = voxels["voxel"].to_numpy()
    for path, values in ((out.r, result.r), (out.p, result.p), (out.fdr, result.significant.astype(np.float32))):
        maps.save_nifti(maps.to_volume(values, index, shape), reference.affine, path)
    pd.DataFrame({"voxel": index, "r": result.r, "p": result.p, "significant": result.significant.astype(int),
                  "alpha": result.alphas}).to_csv(out.table, sep="\t", index=False)
    pd.DataFrame({"component": np.arange(1, reduced.explained_variance.size + 1),
                  "explained_variance_ratio": reduced.explained_variance}).to_csv(out.pca, sep="\t", index=False)
    thresholded = np.where(result.significant, result.r, np.nan)
    maps.slices_png(maps.to_volume(thresholded, index, shape), out.png,
                    f"{w.subject}: r of the {w.space} model, significant voxels (BH-FDR q={p.encode['fdr_q']})",
                    underlay=maps.to_volume(np.ones(len(index)), index, shape, fill=0))


guarded(main, snakemake.log[0])
