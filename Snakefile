# Reconstructing seen images from fMRI with Stable Diffusion, and explaining the
# diffusion model with voxel-wise encoding models (Takagi & Nishimoto, CVPR 2023).
# The rules are thin; the logic lives in the package under workflow/sdbrain.
import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# This Snakefile's folder: the workflow's scripts, envs, captions, schema and shipped toy model are found there,
# also where a lab's own Snakefile uses the workflow as a module (workflow.basedir is then the lab's folder).
WORKFLOW_DIR = workflow.current_basedir.get_path_or_uri(secret_free=True)
# The package is importable here, and in every script through the link
# workflow/scripts/sdbrain (Snakemake puts a script's folder on its path).
sys.path.insert(0, os.path.join(WORKFLOW_DIR, "workflow"))

from sdbrain.errors import InputError
from sdbrain.workflow import job
from sdbrain.workflow.config import check_data_paths, locate_shipped_model, validate_config

job.prepare_environment()  # the jobs inherit it: no model load reaches a hub, glibc keeps freed memory


configfile: os.path.join(WORKFLOW_DIR, "config/config.yaml")


try:
    validate_config(config, workflow.source_path("config/schema.yaml"))  # a local copy, also of a remote module
    locate_shipped_model(config, WORKFLOW_DIR)
    check_data_paths(config)
except InputError as err:
    sys.exit(f"ERROR: {err}")


include: "workflow/rules/common.smk"
include: "workflow/rules/toy.smk"
include: "workflow/rules/fmri.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/decode.smk"
include: "workflow/rules/text.smk"
include: "workflow/rules/gan.smk"
include: "workflow/rules/reconstruct.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/validity.smk"
include: "workflow/rules/rate.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/flatmaps.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


# Rules that only list, gather or summarise small tables run where Snakemake runs, not as
# cluster jobs: each would wait in the queue and start Snakemake twice for a second's work.
localrules:
    run_config,
    run_logs,
    reconstruct_manifest,
    eval_summary,
    validity_summary,
    rate_trials,


# A local run must bound how many GPU jobs run at once (every GPU rule declares gpu=1):
# profiles/default sets gpu=1, `--resources gpu=N` allows N. On a cluster the scheduler
# hands out GPUs. (Checked here: the executor is known only once the run starts.)
onstart:
    from snakemake_interface_executor_plugins.settings import ExecMode

    if workflow.exec_mode == ExecMode.DEFAULT and workflow.local_exec and "gpu" not in workflow.global_resources:
        sys.exit(
            "ERROR: the profile sets no 'gpu' resource, so every GPU job would start at once: "
            "use --workflow-profile profiles/default (gpu=1) or pass --resources gpu=N"
        )


rule all:
    default_target: True
    input:
        all_outputs(),
