"""The results page (docs/results.md), the README's summary of it and the measured effects of the released code's
details (docs/departures.md), generated from runs' tables.

Every number these pages quote comes from the tables in docs/results/, copies of finished runs' own tables: the
default run (`snakemake --cores 2`) in docs/results/default/; the run with banded ridge joint models
(`--config 'encode={"joint": "banded", "joint_maps": "banded"}'`) in docs/results/banded/; and, for each detail of
the released code that the toy config does otherwise, a copy of the default run with that one key switched to the
released value (`SWITCHES`), rerun up to its identification table, in docs/results/<name>/. Statements that compare
numbers (above or below, within an interval, significant or not) are decided from the tables too, so a rerun that
changes them changes the words.

    python docs/results.py                      # write the pages from docs/results/
    python docs/results.py --copy-from WORKDIR  # first copy the tables of a finished default run in WORKDIR
    python docs/results.py --copy-banded-from WORKDIR
    python docs/results.py --copy-switch-from NAME WORKDIR   # a switched copy (NAME: a key of SWITCHES)
    python docs/results.py --copy-text-from WORKDIR   # the default run with method text (text.enabled: true)
    python docs/results.py --check              # exit 1 if a committed page differs from what this writes
"""
from __future__ import annotations

import argparse
import difflib
import shutil
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "docs/results"
PAGE = ROOT / "docs/results.md"
README = ROOT / "README.md"
DEPARTURES = ROOT / "docs/departures.md"
BEGIN, END = "<!-- results-summary:begin -->", "<!-- results-summary:end -->"
EFFECTS_BEGIN, EFFECTS_END = "<!-- departure-effects:begin -->", "<!-- departure-effects:end -->"
# the released code's details that the toy config does otherwise: name -> (config key, released value); each is
# measured in a copy of the default run with that key switched: snakemake results/evaluate/identification.tsv
# results/report/config.yaml --cores 2 --configfile switch.yaml (switch.yaml: that one key, e.g.
# 'decode: {fit_intercept: false}'; --config would pass false as the string 'false')
SWITCHES = {"intercept": ("decode.fit_intercept", False), "noise_start": ("reconstruct.noise_start", "compvis"),
            "x_z_resample": ("reconstruct.x_z_resample", "compvis")}

# the tables each run contributes, as paths under results/ ({subject} for each subject)
DEFAULT_TABLES = ["evaluate/identification.tsv", "evaluate/community_table.tsv", "validity/summary.tsv",
                  "decode/{subject}/z_scores_images.tsv", "decode/{subject}/c_scores_images.tsv",
                  "validity/{subject}/tests.tsv", "validity/{subject}/collapse.tsv",
                  "validity/{subject}/novelty.tsv", "encode/{subject}/roi_summary.tsv",
                  "encode/{subject}/unique_summary.tsv", "encode/{subject}/layer_summary.tsv",
                  "report/config.yaml", "report/provenance.yaml"]
BANDED_TABLES = ["encode/{subject}/joint_agreement.tsv", "encode/{subject}/joint_comparison.tsv",
                 "report/config.yaml", "report/provenance.yaml"]
# the default run with method text (a configfile with text: {enabled: true}): docs/text.md's results
TEXT_TABLES = ["text/summary.tsv", "text/{subject}/captions.tsv", "evaluate/identification.tsv", "validity/summary.tsv",
               "decode/{subject}/blip_scores_images.tsv", "decode/{subject}/blip_scores_targets.tsv",
               "report/config.yaml", "report/provenance.yaml"]
TEXT_PAGE = ROOT / "docs/text.md"
TEXT_BEGIN, TEXT_END = "<!-- text-results:begin -->", "<!-- text-results:end -->"
# the default run with methods text, gan and gan_text (text and gan enabled): docs/gan.md's results
GAN_LAYERS = ["conv1_2", "conv2_2", "conv3_4", "conv4_4", "conv5_4", "fc6", "fc7", "fc8"]
GAN_TABLES = ["evaluate/identification.tsv", "evaluate/community_table.tsv", "validity/summary.tsv",
              *(f"decode/{{subject}}/vgg19-{layer}_scores_images.tsv" for layer in GAN_LAYERS),
              "report/config.yaml", "report/provenance.yaml"]
GAN_PAGE = ROOT / "docs/gan.md"
GAN_BEGIN, GAN_END = "<!-- gan-results:begin -->", "<!-- gan-results:end -->"
SWITCH_TABLES = ["evaluate/identification.tsv", "decode/{subject}/z_scores_images.tsv",
                 "decode/{subject}/c_scores_images.tsv", "report/config.yaml", "report/provenance.yaml"]

TAKAGI = [("alexnet.features.5", "AlexNet features.5 (early)"), ("alexnet.features.12", "AlexNet features.12"),
          ("alexnet.classifier.5", "AlexNet classifier.5"), ("inception_v3.flatten", "Inception v3"),
          ("clip.hidden6", "CLIP hidden layer 6"), ("clip.hidden12", "CLIP hidden layer 12"),
          ("clip.embeds", "CLIP embedding (late)")]
CONTROL_ROWS = [("retrieval", "retrieval (the training image nearest to the decoded z and c)"),
                ("ceiling", "ceiling (the true z and c through X_zc)"),
                ("shuffled", "shuffled (other images' responses)"), ("mean", "mean (the training mean of z and c)")]


def summarise_vgg19_targets(workdir: Path, into: Path) -> None:
    """Write per subject the VGG19 decoders' mean r per value and their number of values, one row per layer (the
    per-value tables are 62,000 rows per subject in the toy world: only their means are shown)."""
    config = yaml.safe_load((workdir / "results/report/config.yaml").read_text())
    for subject in config["subjects"]:
        rows = []
        for layer in GAN_LAYERS:
            table = pd.read_csv(workdir / f"results/decode/{subject}/vgg19-{layer}_scores_targets.tsv", sep="\t")
            rows.append({"layer": layer, "values": len(table), "mean_r": table["r"].mean()})
        pd.DataFrame(rows).to_csv(into / f"decode/{subject}/vgg19_targets_summary.tsv", sep="\t", index=False)


def copy_run(workdir: Path, tables: list[str], into: Path) -> None:
    """Copy ``tables`` of the finished run in ``workdir`` into ``into`` (the subjects from its config)."""
    config = yaml.safe_load((workdir / "results/report/config.yaml").read_text())
    shutil.rmtree(into, ignore_errors=True)
    for pattern in tables:
        for name in {pattern.format(subject=s) for s in config["subjects"]}:
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(workdir / "results" / name, target)


class Run:
    """The tables of one run (a copy under docs/results/)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.config = yaml.safe_load((folder / "report/config.yaml").read_text())
        self.provenance = yaml.safe_load((folder / "report/provenance.yaml").read_text())
        rerun = folder / "validity/rerun.yaml"  # validity tables made again from the run's arrays
        self.validity_rerun = yaml.safe_load(rerun.read_text()) if rerun.is_file() else None
        self.subjects = list(self.config["subjects"])

    def table(self, name: str) -> pd.DataFrame:
        """One table; a per-subject one (``{subject}`` in the name) for every subject, with a subject column."""
        if "{subject}" not in name:
            return pd.read_csv(self.folder / name, sep="\t", keep_default_na=False, na_values=[""])
        return pd.concat([pd.read_csv(self.folder / name.format(subject=s), sep="\t", keep_default_na=False,
                                      na_values=[""]).assign(subject=s) for s in self.subjects], ignore_index=True)


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def both(values: dict, fmt=lambda v: f"{v:.3f}") -> str:
    """Values per subject as 'a / b' (the subjects' order)."""
    return " / ".join(fmt(v) for v in values.values())


class Page:
    """The results page: sections built from a default run and a banded run."""

    def __init__(self, run: Run, banded: Run):
        self.run, self.banded = run, banded
        self.subjects = run.subjects
        config = run.config
        self.zc = f"zc{config['reconstruct']['strengths'][0]:g}"
        self.strength = f"{config['reconstruct']['strengths'][0]:g}"
        self.methods = [("z", "X_z"), ("c", "X_c"), (self.zc, f"X_zc (s = {self.strength})")]
        novelty = run.table("validity/{subject}/novelty.tsv")
        one = novelty[novelty["subject"] == self.subjects[0]]
        self.n_test = len(one)
        self.n_novel = int((one["toy_novel"].fillna("") != "").sum())
        self.summary = run.table("validity/summary.tsv")
        self.tests = run.table("validity/{subject}/tests.tsv")

    # --- helpers over the validity tables ---
    def cell(self, subject, method, metric="twoway", group="all", space="late") -> pd.Series:
        s = self.summary
        rows = s[(s["subject"] == subject) & (s["space"] == space) & (s["method"] == method) & (s["metric"] == metric)
                 & (s["group"] == group)]
        return rows.iloc[0]

    def mean(self, method, metric="twoway", group="all", space="late") -> dict:
        return {s: self.cell(s, method, metric, group, space)["mean"] for s in self.subjects}

    def test(self, subject, metric, a, b) -> pd.Series:
        t = self.tests
        rows = t[(t["subject"] == subject) & (t["metric"] == metric) & (((t["method_a"] == a) & (t["method_b"] == b))
                                                                      | ((t["method_a"] == b) & (t["method_b"] == a)))]
        return rows.iloc[0]

    def versus(self, subject, method, control, metric="twoway") -> tuple[float, float]:
        """(method - retrieval, or ceiling - method) and the paired permutation p."""
        ours, theirs = self.cell(subject, method, metric)["mean"], self.cell(subject, control, metric)["mean"]
        gap = ours - theirs if control == "retrieval" else theirs - ours
        return gap, float(self.test(subject, metric, method, control)["p"])

    # --- sections ---
    def header(self) -> list[str]:
        config, prov = self.run.config, self.run.provenance
        return [
            "# What the default run shows (toy world, trained toy model)", "",
            "<!-- Generated by docs/results.py from the run's tables in docs/results/: edit the script, not this page. "
            "-->", "",
            f"`snakemake --cores 2` on the toy world with the shipped toy model (`{config['model_dir']}`), at workflow "
            f"commit `{prov['workflow_commit']}`; its tables are copied in `docs/results/default/` (the run's time, "
            "rule by rule: `benchmarks/RESULTS.md`)"
            + (f"; its validity tables were made again from its arrays at commit "
               f"`{self.run.validity_rerun['workflow_commit']}` ({self.run.validity_rerun['why']}; "
               "`docs/results/default/validity/rerun.yaml`)" if self.run.validity_rerun else "") + ". "
            f"{len(self.subjects)} simulated subjects, {self.n_test} test images (each the average of its repeats in "
            f"sessions {', '.join(map(str, config['sessions']))}), {self.n_novel} of them out of distribution by "
            "construction (the toy world's novel arm: a "
            f"{config['toy']['novel']['pair']['colour']} {config['toy']['novel']['pair']['shape']} or a "
            f"{config['toy']['novel']['background']} background, which no training scene has), "
            f"{config['reconstruct']['n_samples']} samples per image. The toy world is simulated, so these numbers say "
            "that the method and the code work as intended, not how they fare on NSD. A rerun with the same config "
            "and seed gives the same tables (tests/test_reliability.py checks it on a smaller run).", ""]

    def decoding(self) -> list[str]:
        scores = {t: self.run.table(f"decode/{{subject}}/{t}_scores_images.tsv").groupby("subject")["r"].mean()
                  for t in ("z", "c")}
        return ["## Decoding", "",
                f"Per test image, r between the decoded and the true features, mean over the {self.n_test} test "
                f"images ({' / '.join(self.subjects)}): z {both(scores['z'].to_dict(), lambda v: f'{v:.2f}')}, "
                f"c {both(scores['c'].to_dict(), lambda v: f'{v:.2f}')}.", ""]

    def identification(self) -> list[str]:
        ident = self.run.table("evaluate/identification.tsv")
        paper = ident[ident["protocol"] == "takagi"].groupby(["metric", "method"])["mean"].mean()
        lines = ["## Reconstruction and identification", "",
                 "Paper protocol (recipe `takagi`): two-way identification over the test images, chance 50 %, the "
                 f"mean of the {len(self.subjects)} subjects. The evaluation networks have seeded random weights (the "
                 "toy world ships none), so their deep layers are random projections of the image, not semantic "
                 "features.", "",
                 "| features of | " + " | ".join(label for _, label in self.methods) + " |",
                 "|---|" + "---|" * len(self.methods)]
        wins = {m: 0 for m, _ in self.methods}
        for metric, label in TAKAGI:
            values = [paper[(metric, m)] for m, _ in self.methods]
            best = max(values)
            wins[self.methods[values.index(best)][0]] += 1
            cells = [f"**{pct(v)}**" if v == best else pct(v) for v in values]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        over = {m: paper.xs(m, level="method").reindex([k for k, _ in TAKAGI]).mean() for m, _ in self.methods}
        order = sorted(over, key=over.get, reverse=True)
        names = dict(self.methods)
        community = ident[ident["protocol"] == "mindeye"].groupby(["metric", "method"])["mean"].mean()
        lines += ["", f"Mean over the {len(TAKAGI)} layers: "
                  + ", ".join(f"{names[m]} {pct(over[m])}" for m, _ in self.methods)
                  + f"; {names[order[0]]} is highest on the mean and on {wins[order[0]]} of the {len(TAKAGI)} layers"
                  + (f", {names[order[1]]} on {wins[order[1]]}" if wins[order[1]] else "") + ". "
                  + "In the community recipe `mindeye` (mean of the subjects): PixCorr "
                  + ", ".join(f"{names[m]} {community[('PixCorr', m)]:.2f}" for m, _ in self.methods)
                  + "; SSIM " + ", ".join(f"{names[m]} {community[('SSIM', m)]:.2f}" for m, _ in self.methods)
                  + "; CLIP two-way " + ", ".join(f"{names[m]} {pct(community[('CLIP', m)])}" for m, _ in self.methods)
                  + ". Fig. 3 shows the images (`results/figures/fig3_subj01.png`).", ""]
        return lines

    def validity(self) -> list[str]:
        lines = ["## Reconstruction or retrieval?", "",
                 "Rule `validity` (`results/validity/report.md`, `results/figures/validity.png`; after Shirakawa et al. "
                 "2024): each method and four controls are scored on the late feature (`validity.feature`: "
                 f"`{self.run.config['validity']['feature']}`, here with random weights), with bootstrap 95 % intervals "
                 "over the test images and paired permutation tests (every metric averages r over a "
                 "reconstruction's samples and counts a candidate within 1e-6 of the truth's r as a tie, which the "
                 "truth loses). Two-way identification, "
                 f"{' / '.join(self.subjects)}, on all {self.n_test} test images and on the {self.n_test - self.n_novel} "
                 f"familiar and {self.n_novel} novel scenes:", "",
                 "| method | all | familiar | novel | above retrieval (p) | below ceiling (p) |",
                 "|---|---|---|---|---|---|"]
        for method, label in self.methods + CONTROL_ROWS:
            cells = [both(self.mean(method, group=g)) for g in ("all", "toy:familiar", "toy:novel")]
            gaps = []
            for control in ("retrieval", "ceiling"):
                if method in dict(CONTROL_ROWS):
                    gaps.append("")
                    continue
                pairs = [self.versus(s, method, control) for s in self.subjects]
                gaps.append(" / ".join(f"{g:+.3f} ({p:.2g})" for g, p in pairs))
            lines.append(f"| {label} | " + " | ".join(cells + gaps) + " |")
        for statement in self.validity_statements():  # a paragraph each
            lines += ["", statement]
        lines.append("")
        return lines

    def validity_statements(self) -> list[str]:
        zc, names = self.zc, dict(self.methods)
        out = []
        ret_f, ret_n = self.mean("retrieval", group="toy:familiar"), self.mean("retrieval", group="toy:novel")
        c_f, c_n = self.mean("c", group="toy:familiar"), self.mean("c", group="toy:novel")
        c_vs = [self.versus(s, "c", "retrieval") for s in self.subjects]
        out.append(f"The retrieval baseline, which can only return a training image, scores {both(ret_f)} on the "
                   f"familiar scenes and {both(ret_n)} on the novel ones; X_c goes from {both(c_f)} to {both(c_n)}: "
                   "from the decoded c alone the generator draws a familiar scene, and X_c's difference from retrieval "
                   f"has p = {' / '.join(f'{p:.2g}' for _, p in c_vs)}.")
        zc_n = self.mean(zc, group="toy:novel")
        sentences = [f"{names[zc]} scores {both(zc_n)} on the novel scenes."]
        for metric, what in (("twoway", "two-way identification"), ("cplus1", "novel (C+1-way) identification")):
            parts = []
            for s in self.subjects:
                gap, p = self.versus(s, zc, "retrieval", metric)
                verdict = "above retrieval at p < 0.05" if gap > 0 and p < 0.05 else (
                    "above retrieval, not at p < 0.05" if gap > 0 else "not above retrieval")
                parts.append(f"{s} {gap:+.3f} ({verdict}: p = {p:.2g})")
            sentences.append(f"In {what} it is " + "; ".join(parts) + ".")
        inside = []
        for s in self.subjects:
            ceiling = self.cell(s, "ceiling", group="toy:novel")
            value = self.cell(s, zc, group="toy:novel")["mean"]
            where = "within" if ceiling["ci_low"] <= value <= ceiling["ci_high"] else "outside"
            inside.append(f"{s} {value:.3f}, {where} the ceiling's interval [{ceiling['ci_low']:.3f}, "
                          f"{ceiling['ci_high']:.3f}]")
        sentences.append("On the novel scenes: " + "; ".join(inside) + ". z, decoded from retinotopic voxels, "
                         "carries what c cannot.")
        out.append(" ".join(sentences))
        top = {g: self.mean("decoded", metric="top1", group=g, space="c") for g in ("toy:familiar", "toy:novel")}
        ret = {g: self.mean("retrieval", metric="top1", group=g, space="c") for g in ("toy:familiar", "toy:novel")}
        out.append(f"In c's own space the decoded c finds its image among the {self.n_test} (top-1) for "
                   f"{both(top['toy:familiar'], lambda v: f'{v:.2f}')} of the familiar scenes and "
                   f"{both(top['toy:novel'], lambda v: f'{v:.2f}')} of the novel ones ({' / '.join(self.subjects)}; "
                   f"retrieval {both(ret['toy:familiar'], lambda v: f'{v:.2f}')} and "
                   f"{both(ret['toy:novel'], lambda v: f'{v:.2f}')}).")
        chance = [v for m in ("shuffled", "mean") for v in self.mean(m).values()]
        out.append(f"The shuffled and mean controls score {min(chance):.2f}-{max(chance):.2f} (chance: 0.5).")
        collapse = self.run.table("validity/{subject}/collapse.tsv").set_index(["subject", "target", "features"])
        parts = []
        for target in ("z", "c"):
            share = {w: both({s: collapse.loc[(s, target, w), "share_in_top_k"] for s in self.subjects})
                     for w in ("decoded", "true")}
            ratio = {w: both({s: collapse.loc[(s, target, w), "participation_ratio"] for s in self.subjects},
                             lambda v: f"{v:.1f}") for w in ("decoded", "true")}
            k = int(collapse.loc[(self.subjects[0], target, "decoded"), "k"])
            parts.append(f"the decoded {target} keeps {share['decoded']} of its variance in the training {target}'s "
                         f"top {k} principal components against {share['true']} for the true test {target}, with a "
                         f"participation ratio of {ratio['decoded']} against {ratio['true']}")
        out.append("Collapse: " + "; ".join(parts) + ".")
        novelty = self.run.table("validity/{subject}/novelty.tsv")
        kinds = []
        for kind in sorted(novelty["toy_novel"].dropna().unique()):
            if not kind:
                continue
            part = novelty[novelty["toy_novel"] == kind]
            share = (part["tertile"] == "novel").groupby(part["subject"]).mean()
            kinds.append(f"{share.map(lambda v: f'{v:.2f}').str.cat(sep=' / ')} of the '{kind}' scenes")
        out.append("The novelty tertiles of the late feature (its nearest training image) put "
                   + " and ".join(kinds) + " in the novel tertile.")
        return out

    def encoding(self) -> list[str]:
        roi = self.run.table("encode/{subject}/roi_summary.tsv")
        levels = [f"zc{x:g}" for x in self.run.config["encode"]["noise_levels"]]
        rows = ["z", "c", *levels]
        mean = roi.groupby(["space", "roi"])[["mean_r", "significant_fraction"]].mean()
        lines = ["## Encoding", "",
                 f"Test r, mean over the voxels of each ROI and over the {len(self.subjects)} subjects, with the share "
                 "of voxels significant after BH-FDR in brackets. The toy world's early voxels have retinotopic "
                 "receptive fields over the image, its ventral voxels respond to the caption's attributes.", "",
                 "| model | early | ventral |", "|---|---|---|"]
        for space in rows:
            label = space if space in ("z", "c") else f"z_c, s = {space[2:]}"
            cells = [f"{mean.loc[(space, r), 'mean_r']:.2f} ({pct(mean.loc[(space, r), 'significant_fraction'])})"
                     for r in ("early", "ventral")]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        r = mean["mean_r"]
        z_pref = "better" if r[("z", "early")] > r[("z", "ventral")] else "no better"
        c_pref = "better" if r[("c", "ventral")] > r[("c", "early")] else "no better"
        unique = self.run.table("encode/{subject}/unique_summary.tsv")
        joint = [f"z+{x}" for x in levels]
        part = unique[unique["joint"].isin(joint)].groupby(["roi", "joint"])[["unique_z", "unique_other"]].mean()

        def span(roi_name, column):
            values = part.loc[roi_name][column]
            return f"{values.min():.2f} to {values.max():.2f}"
        layers = self.run.table("encode/{subject}/layer_summary.tsv")
        shares = layers.groupby("roi")[[c for c in layers.columns if c.startswith("share_")]].mean()
        best = {roi_name: shares.loc[roi_name].sort_values(ascending=False) for roi_name in ("early", "ventral")}
        lines += ["", f"z predicts early cortex {z_pref} than ventral cortex, and c predicts ventral cortex {c_pref} "
                  "than early cortex. In the joint z + z_c models (the noise levels above, mean of the subjects, "
                  "voxels significant in the joint model), the unique variance of z_c is "
                  f"{span('early', 'unique_other')} of r^2 in early cortex and {span('ventral', 'unique_other')} in "
                  f"ventral cortex; that of z is {span('early', 'unique_z')} in early and {span('ventral', 'unique_z')} "
                  "in ventral cortex (a negative value: beyond the other space the model only adds estimation noise). "
                  "Best U-Net layer (Fig. 9; shares of the significant voxels, mean over the steps and subjects): "
                  + "; ".join(f"{roi_name} voxels " + ", ".join(f"{k[6:]} {pct(v)}" for k, v in best[roi_name].head(2).items())
                              for roi_name in ("early", "ventral")) + ".", ""]
        return lines

    def banded_section(self) -> list[str]:
        agreement = self.banded.table("encode/{subject}/joint_agreement.tsv")
        comparison = self.banded.table("encode/{subject}/joint_comparison.tsv")
        lines = ["## Banded ridge beside the paper's joint models", "",
                 "`encode.joint: banded` (not part of the default run; measured with `snakemake --cores 2 --config "
                 "'encode={\"joint\": \"banded\", \"joint_maps\": \"banded\"}'`, tables in `docs/results/banded/`; "
                 "cost: `benchmarks/RESULTS.md`). Against the toy world's truth (significant voxels of the generator's "
                 "early, image-driven class should go to z, those of its ventral, caption-driven class to z_c; a voxel "
                 "goes to the space with the larger unique variance, or, for banded models, the larger split r^2), "
                 f"mean of the {len(self.subjects)} subjects:", "",
                 "| joint model | right space: concatenated (unique variance) | banded (split r^2) | early to z: "
                 "concatenated / banded | ventral to z_c: concatenated / banded | clearly negative unique variance "
                 "of z: concatenated / banded | of z_c |", "|---|---|---|---|---|---|---|"]
        # each approach by its own measure: unique variance (concatenated), split r^2 (banded)
        own = agreement[((agreement["approach"] == "concatenated") & (agreement["by"] == "unique"))
                        | ((agreement["approach"] == "banded") & (agreement["by"] == "split"))]
        by = own.groupby(["joint", "approach"])[["right", "early_to_z", "ventral_to_other"]].mean()
        unique = agreement[agreement["by"] == "unique"].groupby(["joint", "approach"])["right"].mean()
        drift = (unique.xs("banded", level="approach") - unique.xs("concatenated", level="approach")).abs().max()
        everything = comparison[comparison["roi"] == "all"].groupby(["joint", "approach"])[
            ["clearly_negative_z", "clearly_negative_other"]].mean()
        joints = list(dict.fromkeys(agreement["joint"]))
        for joint in joints:
            c, b = by.loc[(joint, "concatenated")], by.loc[(joint, "banded")]
            nc, nb = everything.loc[(joint, "concatenated")], everything.loc[(joint, "banded")]
            right = (f"**{b['right']:.2f}**" if b["right"] > c["right"] else f"{b['right']:.2f}")
            lines.append(f"| {joint} | {c['right']:.2f} | {right} | {c['early_to_z']:.2f} / {b['early_to_z']:.2f} | "
                         f"{c['ventral_to_other']:.2f} / {b['ventral_to_other']:.2f} | "
                         f"{nc['clearly_negative_z']:.2f} / {nb['clearly_negative_z']:.2f} | "
                         f"{nc['clearly_negative_other']:.2f} / {nb['clearly_negative_other']:.2f} |")
        rights = {a: by.xs(a, level="approach")["right"] for a in ("concatenated", "banded")}
        better = (rights["banded"] > rights["concatenated"]).sum()
        lines += ["", f"Banded ridge's split attributes more voxels to the right space than the concatenated model's "
                  f"unique variance in {better} of the {len(joints)} joint models ({rights['concatenated'].min():.2f}-"
                  f"{rights['concatenated'].max():.2f} against {rights['banded'].min():.2f}-"
                  f"{rights['banded'].max():.2f}). Unique variance by the paper's definition with the banded "
                  f"R2(z + z_c) attributes voxels as the concatenated model does (the share right differs by at most "
                  f"{drift:.3f}): the split is what moves them. (A model at the late step is the one at its noise "
                  "level: the late step's latent is the final z_c.)", ""]
        return lines

    def text(self) -> str:
        return "\n".join(self.header() + self.decoding() + self.identification() + self.validity() + self.encoding()
                         + self.banded_section())

    def summary_block(self) -> str:
        """The README's few lines: what the default run shows, with the link to the page."""
        ident = self.run.table("evaluate/identification.tsv")
        paper = ident[ident["protocol"] == "takagi"].groupby("method")["mean"].mean()
        names = dict(self.methods)
        ret_n, zc_n = self.mean("retrieval", group="toy:novel"), self.mean(self.zc, group="toy:novel")
        return (f"On the toy world ({len(self.subjects)} simulated subjects, {self.n_test} test images, "
                f"{self.n_novel} of them novel by construction), two-way identification in the paper's protocol "
                "(mean over its layers and the subjects; evaluation networks with random weights): "
                + ", ".join(f"{names[m]} {pct(paper[m])}" for m, _ in self.methods)
                + f". On the novel scenes {names[self.zc]} scores {both(zc_n)} where retrieval of the nearest "
                f"training image scores {both(ret_n)} ({' / '.join(self.subjects)}): it reconstructs, it does not "
                "retrieve. Every table, the encoding models and their maps: [docs/results.md](docs/results.md).")


def headline(run: Run) -> dict[str, float]:
    """A run's numbers that a departure can move: decoding r of z and c (mean over images and subjects), the
    paper protocol's identification (mean of its layers and the subjects) and the community recipe's PixCorr and
    SSIM (mean of the subjects), per method."""
    ident = run.table("evaluate/identification.tsv")
    out = {f"decode {t}": run.table(f"decode/{{subject}}/{t}_scores_images.tsv")["r"].mean() for t in ("z", "c")}
    for (protocol, metric, method), value in ident.groupby(["protocol", "metric", "method"])["mean"].mean().items():
        if protocol == "mindeye" and metric in ("PixCorr", "SSIM"):
            out[f"{metric} {method}"] = value
    for method, value in ident[ident["protocol"] == "takagi"].groupby("method")["mean"].mean().items():
        out[f"takagi {method}"] = value
    return out


def setting(config: dict, key: str):
    section, name = key.split(".")
    return config[section][name]


def moved(before: dict, after: dict, label: str, fmt: str | None) -> str:
    """'before -> after' of one headline number (``fmt`` a format, None for a percentage)."""
    show = pct if fmt is None else fmt.format
    return f"{show(before[label])} -> {show(after[label])}"


def effects_block(default: Run) -> str:
    """The measured effect of each released detail: the default run's numbers -> the switched run's."""
    base = headline(default)
    zc = f"zc{default.config['reconstruct']['strengths'][0]:g}"
    lines = [f"Measured on the toy world: the default run (the toy config, {len(default.subjects)} subjects, "
             f"{default.config['reconstruct']['n_samples']} samples per image; `docs/results/default/`) against a copy "
             "of it with one key switched to the released value and rerun up to its identification table "
             "(`docs/results/<name>/`, written by `docs/results.py`); identification: recipe `takagi`, mean of its "
             "7 layers and the subjects, chance 50 %; PixCorr and SSIM: recipe `mindeye`, mean of the subjects.", "",
             "| key: toy value -> released | decoding r: z, c | takagi: X_z, X_c, X_zc | PixCorr: X_z, X_zc | "
             "SSIM: X_z, X_zc |", "|---|---|---|---|---|"]
    for name, (key, released) in SWITCHES.items():
        run = Run(TABLES / name)
        if setting(run.config, key) != released:
            raise SystemExit(f"docs/results/{name}: its config has {key} = {setting(run.config, key)!r}, not {released!r}")
        after = headline(run)
        cells = [[moved(base, after, f"decode {t}", "{:.2f}") for t in ("z", "c")],
                 [moved(base, after, f"takagi {m}", None) for m in ("z", "c", zc)],
                 [moved(base, after, f"PixCorr {m}", "{:.3f}") for m in ("z", zc)],
                 [moved(base, after, f"SSIM {m}", "{:.3f}") for m in ("z", zc)]]
        lines.append(f"| `{key}`: `{str(setting(default.config, key)).lower()}` -> `{str(released).lower()}` | "
                     + " | ".join(", ".join(group) for group in cells) + " |")
    return "\n".join(lines)


def text_block(run: Run) -> str:
    """docs/text.md's results: caption scores with their ceiling and chance, identification of method text beside
    the CVPR methods, and the validity analysis's novel scenes with retrieval by the decoded caption."""
    if not run.config["text"]["enabled"]:
        raise SystemExit("docs/results/text: its config does not enable method text")
    zc = f"zc{run.config['reconstruct']['strengths'][0]:g}"
    scores = run.table("text/summary.tsv").set_index(["source", "subject"])
    sources = ["decoded", "ceiling", "chance"]
    cols = [("bleu4", "BLEU-4"), ("rouge_l", "ROUGE-L"), ("cider", "CIDEr-D"), ("clip", "CLIP similarity"),
            ("shape", "names the shape"), ("colour", "names the colour"), ("background", "names the background")]
    r = run.table("decode/{subject}/blip_scores_images.tsv").groupby("subject")["r"].mean()
    targets = run.table("decode/{subject}/blip_scores_targets.tsv").groupby("subject")["r"]
    lines = [f"Measured on the toy world: the default run with `text.enabled: true` ({len(run.subjects)} subjects, "
             f"{run.config['reconstruct']['n_samples']} samples per image; `docs/results/text/`, written by "
             f"`docs/results.py`). The BLIP decoder (from `{run.config['decode']['roi']['blip']}`) to the toy "
             f"captioner's {targets.size().iloc[0]:,} image-token values: test r per image (across the values) "
             f"{both(r.to_dict(), lambda v: f'{v:.2f}')}, per value (across the test images) "
             f"{both(targets.mean().to_dict(), lambda v: f'{v:.2f}')} ({' / '.join(run.subjects)}).", "",
             "Captions (per subject: " + " / ".join(run.subjects) + "; BLEU-4 over the test set, the others the mean "
             "over test images; the attribute columns: the share of captions that name the scene's value):", "",
             "| captions | " + " | ".join(name for _, name in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for source in sources:
        cells = []
        for key, _ in cols:
            values = {s: scores.loc[(source, s), key] for s in run.subjects}
            cells.append(both(values, pct) if key in ("shape", "colour", "background") else both(values, lambda v: f"{v:.2f}"))
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    ident = run.table("evaluate/identification.tsv")
    paper = ident[ident["protocol"] == "takagi"].groupby(["method", "subject"])["mean"].mean()
    names = [("z", "X_z"), ("c", "X_c"), (zc, f"X_zc (s = {zc[2:]})"), ("text", "text")]
    summary = run.table("validity/summary.tsv")
    counts = summary[(summary["method"] == "text") & (summary["metric"] == "twoway") & (summary["space"] == "late")]
    n_all, n_novel = (int(counts[counts["group"] == g]["n"].iloc[0]) for g in ("all", "toy:novel"))
    lines += ["", "Two-way identification in the paper's protocol (recipe `takagi`, mean of its 7 layers; evaluation "
              "networks with random weights; chance 50 %) and, from the validity analysis (late feature), two-way "
              f"identification on all {n_all} test images and on the {n_novel} novel scenes, beside the retrieval "
              "controls:", "", "| method | takagi | validity: all | validity: novel scenes |", "|---|---|---|---|"]

    def validity(method, group):
        rows = summary[(summary["space"] == "late") & (summary["method"] == method) & (summary["metric"] == "twoway")
                       & (summary["group"] == group)]
        return both(dict(zip(rows["subject"], rows["mean"])))
    for method, label in names:
        lines.append(f"| {label} | {both({s: paper[(method, s)] for s in run.subjects}, pct)} | "
                     f"{validity(method, 'all')} | {validity(method, 'toy:novel')} |")
    for method, label in [("caption_retrieval", "retrieval by the decoded caption (the training image whose caption "
                                                  "embedding is nearest)"),
                          ("retrieval", "retrieval by the decoded z and c")]:
        lines.append(f"| {label} | | {validity(method, 'all')} | {validity(method, 'toy:novel')} |")
    lines += ["", text_statements(run, scores, summary, zc)]
    captions = run.table("text/{subject}/captions.tsv")
    first = captions[captions["subject"] == run.subjects[0]].head(4)
    lines += ["", f"The first test images of {run.subjects[0]}:", "",
              "| 73k id | decoded caption | from the true tokens (ceiling) | first true caption |", "|---|---|---|---|"]
    for row in first.itertuples():
        lines.append(f"| {row.nsd_id} | {row.decoded} | {row.ceiling} | {yaml.safe_load(row.true)[0]} |")
    return "\n".join(lines)


def text_statements(run: Run, scores: pd.DataFrame, summary: pd.DataFrame, zc: str) -> str:
    """What the text tables show, each comparison decided from them (every subject must agree, else 'not in every
    subject')."""
    def every(a: dict, b: dict) -> str:
        if all(abs(a[s] - b[s]) < 1e-9 for s in run.subjects):
            return "as often as"
        above = [a[s] > b[s] for s in run.subjects]
        return "above" if all(above) else "below" if not any(above) else "not in every subject above"

    def attr(source, key):
        return {s: scores.loc[(source, s), key] for s in run.subjects}

    def twoway(method, group):
        rows = summary[(summary["space"] == "late") & (summary["method"] == method) & (summary["metric"] == "twoway")
                       & (summary["group"] == group)]
        return dict(zip(rows["subject"], rows["mean"]))
    parts = [f"The decoded captions name the background {every(attr('decoded', 'background'), attr('chance', 'background'))} "
             f"chance, the colour {every(attr('decoded', 'colour'), attr('chance', 'colour'))} chance and the shape "
             f"{every(attr('decoded', 'shape'), attr('chance', 'shape'))} chance (the captioner itself names the shape of "
             f"{both(attr('ceiling', 'shape'), pct)} of these test scenes from their true tokens: its ceiling).",
             f"Method text identifies its images {every(twoway('text', 'all'), twoway('caption_retrieval', 'all'))} the "
             "retrieval by its own caption on all test images and "
             f"{every(twoway('text', 'toy:novel'), twoway('caption_retrieval', 'toy:novel'))} it on the novel scenes, "
             f"and {every(twoway('text', 'toy:novel'), twoway(zc, 'toy:novel'))} X_zc there."]
    return " ".join(parts)


def gan_block(run: Run) -> str:
    """docs/gan.md's results: the VGG19 decoders per layer, and methods gan and gan_text beside the others in
    identification (both protocols), PixCorr, SSIM and the validity analysis's familiar and novel scenes."""
    if not (run.config["gan"]["enabled"] and run.config["text"]["enabled"]):
        raise SystemExit("docs/results/gan: its config does not enable methods text and gan")
    zc = f"zc{run.config['reconstruct']['strengths'][0]:g}"
    lines = [f"Measured on the toy world: the default run with `text.enabled: true` and `gan.enabled: true` "
             f"({len(run.subjects)} subjects, {run.config['reconstruct']['n_samples']} samples per image for the "
             "diffusion methods, one iCNN image per test image; `docs/results/gan/`, written by `docs/results.py`).", "",
             f"The decoders (from `{run.config['decode']['roi']['vgg19']}`, on per-image averaged betas), test r per "
             "image (across a layer's values) and per value (across the test images), " + " / ".join(run.subjects) + ":",
             "", "| layer | values per image | r per image | r per value |", "|---|---|---|---|"]
    targets = run.table("decode/{subject}/vgg19_targets_summary.tsv").set_index(["layer", "subject"])
    for layer in GAN_LAYERS:
        images = run.table(f"decode/{{subject}}/vgg19-{layer}_scores_images.tsv").groupby("subject")["r"].mean()
        per_value = {s: targets.loc[(layer, s), "mean_r"] for s in run.subjects}
        lines.append(f"| {layer} | {targets.loc[(layer, run.subjects[0]), 'values']:,} | "
                     f"{both(images.to_dict(), lambda v: f'{v:.2f}')} | {both(per_value, lambda v: f'{v:.2f}')} |")
    ident = run.table("evaluate/identification.tsv")
    paper = ident[ident["protocol"] == "takagi"].groupby(["method", "subject"])["mean"].mean()
    community = run.table("evaluate/community_table.tsv")
    community = community[community["recipe"] == "mindeye"].set_index("row")
    summary = run.table("validity/summary.tsv")

    def validity(method, group):
        rows = summary[(summary["space"] == "late") & (summary["method"] == method) & (summary["metric"] == "twoway")
                       & (summary["group"] == group)]
        return dict(zip(rows["subject"], rows["mean"]))

    def pixel(method, metric):
        return {s: community.loc[f"this run: {s} ({method})", metric] for s in run.subjects
                if f"this run: {s} ({method})" in community.index}
    names = [("z", "X_z"), ("c", "X_c"), (zc, f"X_zc (s = {zc[2:]})"), ("text", "text"), ("gan", "gan (iCNN)"),
             ("gan_text", "gan_text")]
    lines += ["", "Two-way identification in the paper's protocol (recipe `takagi`, mean of its 7 layers) and in the "
              "community's (recipe `mindeye`, mean of Alex2, Alex5, Incep and CLIP), evaluation networks with random "
              "weights, chance 50 %; PixCorr and SSIM (recipe `mindeye`; the community table has them for the main "
              "X_zc and the technical report's methods); and the validity analysis's two-way identification (late "
              "feature) on the familiar and the novel test scenes:", "",
              "| method | takagi | community | PixCorr | SSIM | validity: familiar | validity: novel |",
              "|---|---|---|---|---|---|---|"]
    for method, label in names:
        cells = [both({s: paper[(method, s)] for s in run.subjects}, pct)]
        two_way = {s: sum(pixel(method, m)[s] for m in ("Alex2", "Alex5", "Incep", "CLIP")) / 400
                   for s in pixel(method, "Alex2")}
        cells += [both(two_way, pct) if two_way else ""]
        cells += [both(pixel(method, m), lambda v: f"{v:.3f}") if pixel(method, m) else "" for m in ("PixCorr", "SSIM")]
        cells += [both(validity(method, g)) for g in ("toy:familiar", "toy:novel")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for method, label in [("retrieval", "retrieval by the decoded z and c")]:
        lines.append(f"| {label} | | | | | {both(validity(method, 'toy:familiar'))} | {both(validity(method, 'toy:novel'))} |")

    def every(a: dict, b: dict) -> str:
        above = [a[s] > b[s] for s in run.subjects]
        return "above" if all(above) else "below" if not any(above) else "not in every subject above"
    takagi = lambda m: {s: paper[(m, s)] for s in run.subjects}  # noqa: E731
    lines += ["", f"Method gan identifies its images {every(takagi('gan'), {s: 0.5 for s in run.subjects})} chance "
              f"and {every(takagi('gan'), takagi('z'))} X_z in the paper's protocol, its PixCorr is "
              f"{every(pixel('gan', 'PixCorr'), pixel(zc, 'PixCorr'))} X_zc's; gan_text identifies "
              f"{every(takagi('gan_text'), takagi('gan'))} gan and {every(takagi('gan_text'), takagi('text'))} text, "
              f"and on the novel scenes {every(validity('gan_text', 'toy:novel'), validity('text', 'toy:novel'))} text."]
    return "\n".join(lines)


def replace_block(path: Path, begin: str, end: str, text: str) -> str:
    """The file's text with the part between the markers replaced."""
    current = path.read_text()
    if begin not in current or end not in current:
        raise SystemExit(f"{path}: no {begin} ... {end} block")
    head, rest = current.split(begin, 1)
    return head + begin + "\n" + text + "\n" + end + rest.split(end, 1)[1]


def write(check: bool) -> int:
    default = Run(TABLES / "default")
    page = Page(default, Run(TABLES / "banded"))
    wanted = {PAGE: page.text() + "\n", README: replace_block(README, BEGIN, END, page.summary_block()),
              DEPARTURES: replace_block(DEPARTURES, EFFECTS_BEGIN, EFFECTS_END, effects_block(default)),
              TEXT_PAGE: replace_block(TEXT_PAGE, TEXT_BEGIN, TEXT_END, text_block(Run(TABLES / "text"))),
              GAN_PAGE: replace_block(GAN_PAGE, GAN_BEGIN, GAN_END, gan_block(Run(TABLES / "gan")))}
    failed = 0
    for path, text in wanted.items():
        if check:
            current = path.read_text() if path.exists() else ""
            if current != text:
                diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(path), "generated", lineterm="")
                print(f"{path.relative_to(ROOT)} differs from what docs/results.py generates from docs/results/",
                      *list(diff)[:20], sep="\n", file=sys.stderr)
                failed = 1
        else:
            path.write_text(text)
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--copy-from", type=Path, help="a finished default run's working directory")
    parser.add_argument("--copy-banded-from", type=Path, help="a finished banded run's working directory")
    parser.add_argument("--copy-switch-from", nargs=2, metavar=("NAME", "WORKDIR"),
                        help="a switched copy of the default run (NAME: one of " + ", ".join(SWITCHES) + ")")
    parser.add_argument("--copy-text-from", type=Path, help="a finished default run with method text")
    parser.add_argument("--copy-gan-from", type=Path, help="a finished default run with methods text and gan")
    args = parser.parse_args()
    if args.copy_text_from:
        copy_run(args.copy_text_from, TEXT_TABLES, TABLES / "text")
    if args.copy_gan_from:
        copy_run(args.copy_gan_from, GAN_TABLES, TABLES / "gan")
        summarise_vgg19_targets(args.copy_gan_from, TABLES / "gan")
    if args.copy_from:
        copy_run(args.copy_from, DEFAULT_TABLES, TABLES / "default")
    if args.copy_banded_from:
        copy_run(args.copy_banded_from, BANDED_TABLES, TABLES / "banded")
    if args.copy_switch_from:
        name, workdir = args.copy_switch_from
        copy_run(Path(workdir), SWITCH_TABLES, TABLES / name)
    return write(args.check)


if __name__ == "__main__":
    sys.exit(main())
