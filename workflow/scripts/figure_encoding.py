"""Rules fig6-fig9: encoding maps on flatmaps, laid out as in the paper (subjects side by side).

params.panels: rows of panels; each panel names a subject, a map and the FDR mask that
thresholds it (or none for best-layer maps). params.style: colormap and scale (sdbrain.workflow.plan).
"""

from sdbrain.maps import figures, flatmaps
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params
    mappers = flatmaps.streams_mappers(p.pycortex_dir, p.nsd_root, p.cx_subjects, p.xfm, p.height, p.outline_labels)
    volumes = [[flatmaps.panel_volume(panel["map"], panel["mask"], panel["zero_is_empty"]) for panel in row]
               for row in p.panels]
    style, colorbar, legend = flatmaps.figure_style(p.style, volumes)
    panels = [[{"mapper": mappers[panel["subject"]], "volume_zyx": v, **style} for panel, v in zip(row, vols)]
              for row, vols in zip(p.panels, volumes)]
    figures.flatmap_grid(panels, p.row_labels, p.column_labels, snakemake.output.png, p.title, p.note, colorbar,
                         legend)
    log.info("%s: %d x %d flatmaps", snakemake.output.png, len(panels), max(len(r) for r in panels))


job.run(main, snakemake)
