"""The benchmark suite: every CPU benchmark in one run, written to benchmarks/RESULTS.md.

    python benchmarks/suite.py                 # all benchmarks and the whole default workflow
    python benchmarks/suite.py --no-workflow   # without the workflow's wall time (~25 min less)
    python benchmarks/suite.py --workdir DIR   # keep the workflow's results in DIR
    python benchmarks/suite.py --small         # each benchmark at its smallest sizes, printed (a check only)

Each benchmark script measures our approach against a reference approach in the same
process run and prints a Markdown table; this script runs them one after another (so
they do not compete for the cores), adds what each measures and the command, times
the whole default workflow from scratch in a temporary directory, and appends the GPU
table last written by ``benchmarks/gpu.sh`` on a CUDA machine (benchmarks/gpu_results.md).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import rule_times

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

SECTIONS = [
    {
        "title": "Ingestion peak memory",
        "args": ["benchmarks/ingest_memory.py", "--sessions", "12", "--trials", "300"],
        "small": ["benchmarks/ingest_memory.py", "--sessions", "1", "--trials", "12", "--workdir", "{tmp}/ingest",
                  "--grid", "{tmp}/grid.npz"],
        "about": "A one-subject toy NSD on pycortex S1's grid (31 x 100 x 100 volume, 47,530 brain voxels), "
                 "ROIs early + ventral + whole brain; maximum resident set size of each mode in a fresh process. "
                 "Reference: loading every session's full volumes at once.",
        "read": "Ingestion holds one session of masked voxels plus one block of full-volume trials and streams "
                "training rows into memory-mapped .npy files (whose written pages count in the resident set "
                "until the kernel evicts them), so its peak does not grow with the number of sessions; at NSD "
                "scale the reference would need about 39 GB for the int16 betas alone.",
    },
    {
        "title": "Decoder fit",
        "args": ["benchmarks/decoder.py", "--sizes", "2498x700x6400", "8000x6000x6400"],
        "small": ["benchmarks/decoder.py", "--sizes", "60x8x4"],
        "about": "2,498 trials x 700 voxels -> 6,400 targets (NSD's early ROI -> z scaled by 1/10), and 8,000 "
                 "trials x 6,000 inputs -> 6,400 targets (as wide as NSD's ROIs and z), 11 alphas, 5-fold CV, "
                 "intercept. Reference: himalaya's numpy backend in float64 with a scikit-learn StandardScaler "
                 "pipeline. Ours: sdbrain.linear.ridge.fit with its default eigh solver (one eigendecomposition of the "
                 "Gram matrix per fold, formed and decomposed in float64; one float32 matrix product per alpha) "
                 "and with solver himalaya (RidgeCV on its torch backend). The last column compares the eigh "
                 "solver's float32 matrix-product work per second with the machine's measured float32 GEMM rate.",
        "read": "eigh decomposes the smaller Gram matrix once per fold and works in its eigenbasis, where "
                "himalaya takes a full SVD per fold and forms an (alphas x validation x training) hat matrix. "
                "At 6,000 inputs the float64 decompositions dominate eigh's time (about 35 s each on this CPU), "
                "so its share of the GEMM rate falls.",
    },
    {
        "title": "Encoding fit throughput",
        "args": ["benchmarks/encoding.py"],
        "small": ["benchmarks/encoding.py", "--trials", "50", "--features", "8", "--voxels", "20"],
        "about": "A synthetic subject at 1/10 of NSD's size: 2,498 training trials of 1,000 images, 640 features "
                 "after PCA -> 20,000 voxels in blocks of 5,000; 8 alphas, 5-fold CV; 98 test images. Both "
                 "columns run sdbrain.linear.encode.fit_voxels, with solver himalaya (reference) and the default eigh.",
        "read": "Test r differ only where the two solvers pick neighbouring alphas on near-ties of the CV score.",
    },
    {
        "title": "Validity analysis at NSD size",
        "args": ["benchmarks/validity.py", "--train", "9000", "--memory-mb", "2000"],
        "small": ["benchmarks/validity.py", "--train", "100", "--test", "50", "--memory-mb", "100"],
        "about": "982 test images against 9,000 training images (a subject's NSD training set; the searches are "
                 "linear in it, so 27,000 takes three times as long) in the late feature (768, CLIP ViT-L/14's "
                 "embedding), z (6,400) and c (59,136); training features memory-mapped from disk as the workflow's "
                 "feature files are; each search through sdbrain.evaluation.validity in a fresh process with "
                 "validity.memory_mb = 2,000. Peak = largest anonymous resident memory above its value on entry "
                 "(sampled every 2 ms), loading the 982 test (and decoded) vectors included.",
        "read": "Each search is one matrix product per block of training candidates, so memory stays at the budget "
                "(plus the test vectors: 232 MB each for c) whatever the number of training images; the time is "
                "reading and multiplying the training features once (c: 2.1 GB at 9,000 images), and the "
                "components of c read them once per pass of the randomised subspace iteration.",
    },
    {
        "title": "Banded ridge joint models",
        "args": ["benchmarks/banded.py"],
        "small": ["benchmarks/banded.py", "--trials", "40", "--features", "4", "--voxels", "10", "--nsd-trials", "60",
                  "--nsd-features", "4", "--nsd-voxels", "10"],
        "about": "Joint z + z_c models, concatenated (sdbrain.linear.encode.fit_voxels, eigh, one alpha per voxel) and "
                 "banded (sdbrain.linear.banded.fit_voxels: random search over n_iter band weights x the alphas, one alpha "
                 "per space and voxel) with each solver of encode.banded.solver, on the CPU. Toy size with "
                 "config/config.yaml's settings, a reduced size with config/nsd.yaml's. The NSD row is an estimate "
                 "from times measured on an NVIDIA H100 on 2026-11-28: torch.linalg.svd of a fold's 19,984 x 12,800 "
                 "float32 design 29.0 s; Gram matrix + eigh of 12,800 x 12,800 2.15 s in float64.",
        "read": "At NSD size himalaya's cost is its n_iter x (folds + 1) SVDs, redone in every voxel block; the eigh "
                "solver (the default, the same choices) takes at most n_iter x (folds + 1) Gram eigendecompositions "
                "once for all voxels, and then the per-voxel products dominate. The estimate this section gave "
                "before 2026-11-28 (47 min at 50 TFLOP/s) counted only himalaya's hat-matrix products and missed "
                "its SVDs. encode.joint: banded adds this cost per joint model; the default (concatenated) runs no "
                "banded fit.",
    },
    {
        "title": "Encoding fit peak memory at 200k voxels",
        "args": ["benchmarks/encoding_memory.py"],
        "small": ["benchmarks/encoding_memory.py", "--voxels", "100", "--trials", "40", "--features", "8", "--test", "10",
                  "--budgets", "256"],
        "about": "A synthetic subject at NSD's width (200,000 voxels) with 1,000 training trials, 256 features and "
                 "100 test images (8 alphas, 5 folds); training responses memory-mapped from disk as the ingested "
                 "betas are. sdbrain.linear.encode.fit_voxels in a fresh process per row, voxel blocks planned from the "
                 "budget (encode.memory_mb) by sdbrain.linear.encode.planned_block. Reference: all voxels as one block. "
                 "Peak = largest anonymous resident memory (sampled every 2 ms) above its value before the fit.",
        "read": "The planned blocks keep the fit within its budget whatever the number of voxels, at the same "
                "speed; one block grows with the brain (at NSD's 24,980 trials and 6,400 features the plan's "
                "estimate for 200k voxels in one block is about 120 GB).",
    },
    {
        "title": "Diffusion features peak memory",
        "args": ["benchmarks/feature_memory.py"],
        "small": ["benchmarks/feature_memory.py", "--images", "1"],
        "about": "The shipped toy model, toy stimuli with captions, sdbrain.sd.diffusion.extract as rule "
                 "diffusion_features runs it (noise level 0.5; z_c at three steps and five U-Net layers at three "
                 "steps: 19 spaces). Ours pools each activation to the configured 4 x 4 grid inside the forward "
                 "hook; the reference keeps every hooked activation at full resolution. Peak = largest anonymous "
                 "resident memory during extraction above its value before (sampled every 2 ms), fresh process "
                 "per cell; 400 images is the whole toy stimulus set.",
        "read": "Pooled features grow by a few KiB per image, so the peak is the working memory of one batch; "
                "kept at full resolution, the activations of every image pile up.",
    },
    {
        "title": "Reconstruction throughput",
        "args": ["benchmarks/reconstruction.py"],
        "small": ["benchmarks/reconstruction.py", "--images", "1", "--steps", "2", "--batch", "1"],
        "about": "8 test images, toy-sized random model, 64 px, 20 DDIM steps, img2img at strength 0.8, "
                 "guidance 5, one sample each, through sdbrain.reconstruction.reconstruct.run. Reference: one Python process "
                 "per image (load the model, reconstruct one image), as a job-per-image submission would.",
        "read": "Most of the reference's time is starting Python and loading the model for every image.",
    },
    {
        "title": "Identification after feature extraction",
        "args": ["benchmarks/identification.py"],
        "small": ["benchmarks/identification.py", "--images", "4", "--samples", "1", "--loop-images", "4"],
        "about": "Random features of each layer's real size (AlexNet, Inception v3, CLIP ViT-L/14 embedding and "
                 "hidden states, EfficientNet-B1, SwAV ResNet-50), 982 images x 5 samples. Ours: "
                 "sdbrain.evaluation.evaluate (one matrix product per layer and sample). Reference: a double loop "
                 "of np.corrcoef, timed on 40 images of one 4,096-wide layer and scaled by images squared.",
        "read": "The two CLIP hidden-state layers (263,168 values per image) take most of the vectorised time.",
    },
]


def machine() -> str:
    import torch
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), {mem:.0f} GiB memory, "
            f"{gpu}; Python {platform.python_version()}, torch {torch.__version__}; {date.today().isoformat()}")


def table(stdout: str) -> str:
    return "\n".join(line for line in stdout.splitlines() if line.startswith("|"))


def run_section(section: dict, log, args_key: str = "args", **fill) -> str:
    """Run a section's benchmark (``args_key``: 'args', or 'small' for its smallest sizes, whose ``{tmp}`` ``fill``
    gives) and return the section's Markdown."""
    section = {**section, "args": [arg.format(**fill) for arg in section[args_key]]}
    cmd = [PY, *section["args"]]
    log(f"running {' '.join(section['args'])}")
    t0 = time.time()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"benchmark {section['args'][0]} failed:\n{result.stderr[-3000:]}")
    log(f"  done in {time.time() - t0:.0f} s")
    return (f"## {section['title']}\n\nCommand: `python {' '.join(section['args'])}`. {section['about']}\n\n"
            f"{table(result.stdout)}\n\n{section['read']}\n")


def snakemake(args: list[str], work: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
                           "--workflow-profile", str(ROOT / "profiles/default"), *args],
                          cwd=work, capture_output=True, text=True)


def workflow_section(cores: int, log, keep: Path | None = None) -> str:
    """The default workflow from scratch (toy world, trained toy model) in a temporary
    directory, or in ``keep`` (which must be empty or absent) to look at its results after."""
    work = keep or Path(tempfile.mkdtemp(prefix="sdbrain_workflow_"))
    if keep:
        work.mkdir(parents=True, exist_ok=True)
        if any(work.iterdir()):
            raise SystemExit(f"--workdir {work} is not empty: the workflow must start from scratch")
    (work / "resources").symlink_to(ROOT / "resources")  # model_dir: resources/toy_sd, as in the repository
    try:
        plan = snakemake(["-n", "--quiet", "rules"], work)
        jobs = [line.split() for line in plan.stdout.splitlines()]
        total = next((int(p[1]) for p in jobs if len(p) == 2 and p[0] == "total"), None)
        log(f"running the default workflow ({total} jobs) in {work}")
        t0 = time.time()
        result = snakemake(["--cores", str(cores)], work)
        seconds = time.time() - t0
        if result.returncode != 0:
            raise SystemExit(f"the default workflow failed:\n{result.stderr[-3000:]}")
        per_rule = rule_times.markdown(rule_times.per_rule(rule_times.jobs(work)), None)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    log(f"  done in {seconds / 60:.1f} min")
    return ("## Whole default workflow\n\n"
            f"Command: `snakemake --cores {cores}` in an empty directory (the toy world generated from scratch, "
            "the trained toy model from resources/toy_sd; every rule of `rule all`).\n\n"
            "| jobs | cores | wall time |\n|---|---|---|\n"
            f"| {total} | {cores} | {seconds / 60:.1f} min |\n\n"
            "Per rule, from the jobs' benchmark files (`python benchmarks/rule_times.py WORKDIR`; summed over "
            "jobs, which run two at a time):\n\n" + per_rule + "\n")


def gpu_section() -> str:
    path, notes = ROOT / "benchmarks/gpu_results.md", ROOT / "benchmarks/gpu_notes.md"
    if not path.exists():
        return ("## GPU figures at NSD size\n\nNot measured yet: run `bash benchmarks/gpu.sh` on a CUDA machine; "
                "it writes benchmarks/gpu_results.md, which this suite copies here.\n")
    return ("## GPU figures at NSD size\n\nCommand: `bash benchmarks/gpu.sh` on a CUDA machine (decoder fit at full "
            "NSD size, encoding throughput, SD v1.4-shaped img2img and diffusion features with random weights of "
            "the real architecture in fp16); the table as it last printed (benchmarks/gpu_results.md, "
            f"{time.strftime('%Y-%m-%d', time.gmtime(path.stat().st_mtime))}):\n\n{path.read_text().strip()}\n"
            + (f"\n{notes.read_text().split('-->', 1)[-1].strip()}\n" if notes.exists() else ""))


def chosen_sections(names: list[str]) -> list[dict]:
    """The sections of the benchmark scripts ``names`` (e.g. encoding_memory.py), in suite order."""
    chosen = [sec for sec in SECTIONS if Path(sec["args"][0]).name in names]
    unknown = set(names) - {Path(sec["args"][0]).name for sec in chosen}
    if unknown:
        raise SystemExit(f"no benchmark named {sorted(unknown)}; the suite runs "
                         f"{[Path(sec['args'][0]).name for sec in SECTIONS]}")
    return chosen


def small_grid(path: Path) -> None:
    """A tiny functional grid for --small, in place of pycortex S1's: an ellipsoidal brain of 8 x 12 x 14 voxels
    with an early (streams 1) and a ventral (streams 5) ROI, as tests/conftest.py's."""
    import numpy as np
    z, y, x = np.meshgrid(np.arange(8), np.arange(12), np.arange(14), indexing="ij")
    mask = ((z - 3.5) / 4) ** 2 + ((y - 5.5) / 6) ** 2 + ((x - 6.5) / 7) ** 2 < 1
    streams = np.zeros(mask.shape, dtype=np.int16)
    streams[mask & (y < 4)] = 1
    streams[mask & (y >= 4) & (z < 2)] = 5
    np.savez(path, mask=mask, streams=streams, affine=np.diag([1.8, 1.8, 1.8, 1.0]))


def small_run(names: list[str] | None) -> None:
    """Run the benchmarks (all, or ``names``) at their smallest sizes and print their sections: a check that each
    runs with the package as it is, whose figures mean nothing; RESULTS.md is left as it is."""
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="suite_small_") as tmp:
        small_grid(Path(tmp) / "grid.npz")
        for section in chosen_sections(names) if names else SECTIONS:
            print(run_section(section, log, "small", tmp=tmp), flush=True)


def rerun_sections(args) -> None:
    """Rerun some benchmarks; their sections replace (or join, in suite order) those of ``args.out``."""
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    chosen = chosen_sections(args.sections)
    text = args.out.read_text()
    head, *blocks = text.split("\n## ")
    found = {block.split("\n", 1)[0].split(" (")[0]: "## " + block for block in blocks}
    for section in chosen:
        found[section["title"]] = run_section(section, log)
    found["GPU figures at NSD size"] = gpu_section()  # reads files only: always current
    order = [sec["title"] for sec in SECTIONS]
    ordered = sorted(found, key=lambda title: order.index(title) if title in order else len(order))
    args.out.write_text("\n".join([head.rstrip("\n") + "\n"] + [found[t].rstrip("\n") + "\n" for t in ordered]))
    log(f"updated {', '.join(sec['title'] for sec in chosen)} in {args.out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-workflow", action="store_true", help="skip the whole-workflow wall time")
    parser.add_argument("--workdir", type=Path, help="run the workflow here and keep its results")
    parser.add_argument("--sections", nargs="+", metavar="SCRIPT",
                        help="rerun only these benchmarks (e.g. encoding_memory.py) and replace their sections "
                             "in the existing RESULTS.md")
    parser.add_argument("--small", action="store_true",
                        help="each benchmark (or those of --sections) at its smallest sizes, without the workflow, "
                             "printed and not written: checks that they run (the figures mean nothing)")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/RESULTS.md")
    args = parser.parse_args()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    if args.small:
        return small_run(args.sections)

    grid = ROOT / "results/toy/grid.npz"
    if not grid.exists():  # the ingestion benchmark draws its toy NSD on S1's grid
        result = snakemake(["--cores", str(args.cores), "results/toy/grid.npz"], ROOT)
        if result.returncode != 0:
            raise SystemExit(f"could not build {grid}:\n{result.stderr[-2000:]}")
    if args.sections:
        return rerun_sections(args)
    parts = ["# Benchmark results\n",
             f"Written by `python benchmarks/suite.py` on: {machine()}.\n"
             "Each figure is measured against a reference approach in the same run; sizes are scaled to a "
             "2-core machine and stated with each table.\n"]
    parts += [run_section(section, log) for section in SECTIONS]
    if not args.no_workflow:
        parts.append(workflow_section(args.cores, log, args.workdir))
    history = ROOT / "benchmarks/history.md"  # before/after measurements of past speed-ups, kept as written
    if history.exists():
        parts.append(history.read_text())
    parts.append(gpu_section())
    args.out.write_text("\n".join(parts))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
