"""Rating: the trial set, the app's refusals (each changes nothing), export, simulation and analysis."""
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from conftest import snakemake
from rate_helpers import Server, add_rater, make_trial_set, rate_cli, request
from sdbrain.errors import InputError
from sdbrain.maps import figures
from sdbrain.rate import analysis, db, simulate
from sdbrain.rate.trials import TrialSet


def test_trials_pair_each_image_with_a_foil_shuffled_and_deterministic(tmp_path):
    trials = make_trial_set(tmp_path / "a", subjects=("subj01", "subj02"), methods=("z", "zc0.8"), n_images=10,
                            per_rater=7)
    again = make_trial_set(tmp_path / "b", subjects=("subj01", "subj02"), methods=("z", "zc0.8"), n_images=10,
                           per_rater=7)
    table = pd.read_csv(trials, sep="\t")
    assert table.drop(columns=["left", "right"]).equals(pd.read_csv(again, sep="\t").drop(columns=["left", "right"]))
    assert len(table) == 2 * 2 * 10 and list(table["trial"]) == list(range(1, 41))
    assert (table.groupby(["subject", "method"])["nsd_id"].nunique() == 10).all()  # one trial per image
    assert (table["foil_nsd_id"] != table["nsd_id"]).all()
    assert 10 < (table["target"] == "left").sum() < 30  # both sides used
    own = np.where(table["target"] == "left", table["left"], table["right"])
    foil = np.where(table["target"] == "left", table["right"], table["left"])
    for row, own_path, foil_path in zip(table.itertuples(), own, foil):
        assert own_path == f"images/{row.subject}_{row.method}_{row.nsd_id}_{row.sample}.png"
        assert foil_path == f"images/{row.subject}_{row.method}_{row.foil_nsd_id}_{row.foil_sample}.png"
        assert (trials.parent / own_path).is_file() and (trials.parent / row.original).is_file()
    assert table["subject"].iloc[:8].nunique() == 2  # trial order mixes subjects and methods
    assert json.loads((trials.parent / "session.json").read_text())["trials_per_rater"] == 7
    # raters get consecutive windows of the set, wrapping at its end
    ts = TrialSet(trials)
    assert ts.assignment(0) == list(range(1, 8)) and ts.assignment(5) == list(range(36, 41)) + [1, 2]


@pytest.fixture
def session(tmp_path):
    trials = make_trial_set(tmp_path, per_rater=6)
    database = tmp_path / "ratings.sqlite"
    alice, bob = add_rater(trials, database, "alice"), add_rater(trials, database, "bob")
    with Server(trials, database) as server:
        yield server, alice, bob, database


def snapshot(database):
    con = sqlite3.connect(database)
    try:
        return con.execute("SELECT * FROM answers ORDER BY rater_id, trial").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("case", ["unknown token", "other rater's trial", "not json", "not an object", "trial missing",
                                  "trial not an integer", "trial out of range", "choice out of range",
                                  "rt negative"])
def test_a_bad_answer_is_refused_with_a_4xx_and_changes_nothing(session, case):
    server, alice, bob, database = session
    url = f"{server.url}/r/{alice}/answer"
    sent = {"unknown token": (f"{server.url}/r/not-a-token/answer", {"trial": 1, "choice": "left"}, 404, "Unknown rater"),
            "other rater's trial": (url, {"trial": 9, "choice": "left"}, 403, "not one of this rater's trials"),
            "not json": (url, b"choice=left", 400, "JSON object"),
            "not an object": (url, [1, "left"], 422, "JSON object"),
            "trial missing": (url, {"choice": "left"}, 422, "'trial'"),
            "trial not an integer": (url, {"trial": "1", "choice": "left"}, 422, "'trial'"),
            "trial out of range": (url, {"trial": 10_000, "choice": "left"}, 403, "not one of this rater's trials"),
            "choice out of range": (url, {"trial": 1, "choice": "middle"}, 422, "'choice'"),
            "rt negative": (url, {"trial": 1, "choice": "left", "rt_ms": -5}, 422, "'rt_ms'")}[case]
    target, body, status, message = sent
    before = snapshot(database)
    code, reply = request(target, "POST", raw=body) if isinstance(body, bytes) else request(target, "POST", body)
    assert code == status and message in reply.decode()
    assert snapshot(database) == before == []


def test_a_double_submit_is_idempotent_and_a_changed_answer_is_refused(session):
    server, alice, _, database = session
    url = f"{server.url}/r/{alice}/answer"
    assert request(url, "POST", {"trial": 2, "choice": "right"})[0] == 200
    code, reply = request(url, "POST", {"trial": 2, "choice": "right"})
    assert code == 200 and json.loads(reply)["status"] == "duplicate"
    code, reply = request(url, "POST", {"trial": 2, "choice": "left"})
    assert code == 409 and "first answer stands" in reply.decode()
    assert [row[1:3] for row in snapshot(database)] == [(2, "right")]


@pytest.mark.parametrize("path", ["image/..%2F..%2Fsession.json/left", "image/../trials.tsv",
                                  "image/images%2Foriginal_101.png/left", "image/1/..%2Ftrials.tsv",
                                  "image/1/trials", "image/9/left"])
def test_images_are_served_by_the_raters_trial_ids_only(session, path):
    server, alice, _, _ = session
    assert request(f"{server.url}/r/{alice}/image/1/left")[1][:4] == b"\x89PNG"
    code, reply = request(f"{server.url}/r/{alice}/{path}")
    assert code in (403, 404) and reply[:4] != b"\x89PNG" and b"trial" in reply


def test_the_page_shows_the_next_unanswered_trial_then_thanks(session):
    server, alice, _, _ = session
    for trial in range(1, 7):
        page = request(f"{server.url}/r/{alice}")[1].decode()
        assert f'data-trial="{trial}"' in page and f"{trial - 1} of 6 answered" in page
        assert request(f"{server.url}/r/{alice}/answer", "POST", {"trial": trial, "choice": "left"})[0] == 200
    assert "Thank you, alice" in request(f"{server.url}/r/{alice}")[1].decode()


def test_missing_trials_file_and_a_database_that_is_not_sqlite_are_refused(tmp_path):
    trials = make_trial_set(tmp_path, per_rater=4)
    missing = rate_cli("serve", "--trials", tmp_path / "none.tsv", "--db", tmp_path / "db.sqlite", check=False)
    assert missing.returncode == 1 and "none.tsv: trials file not found" in missing.stderr
    assert not (tmp_path / "db.sqlite").exists()
    junk = tmp_path / "junk.sqlite"
    junk.write_text("rater,trial\nalice,1\n")
    for command in (["serve"], ["add-rater", "carol"], ["export", "--out", tmp_path / "out.tsv"]):
        result = rate_cli(*command, "--trials", trials, "--db", junk, check=False)
        assert result.returncode == 1 and f"ERROR: {junk}: not an SQLite database" in result.stderr, command
        assert result.stderr.count("\n") == 1 and junk.read_text() == "rater,trial\nalice,1\n"
    assert not (tmp_path / "out.tsv").exists() and not list(tmp_path.glob("junk.sqlite-*"))


def test_a_database_of_another_trial_set_is_refused(tmp_path):
    first, second = make_trial_set(tmp_path / "a", seed=0), make_trial_set(tmp_path / "b", seed=1)
    add_rater(first, tmp_path / "db.sqlite", "alice")
    result = rate_cli("add-rater", "bob", "--trials", second, "--db", tmp_path / "db.sqlite", check=False)
    assert result.returncode == 1 and "belongs to another trials file" in result.stderr
    ts = TrialSet(first)
    assert [r[1] for r in db.raters(db.connect(tmp_path / "db.sqlite", ts.sha256, ts.per_rater))] == ["alice"]


def test_simulated_answers_give_the_accuracy_the_rule_implies(tmp_path):
    trials = make_trial_set(tmp_path, subjects=("subj01",), methods=("z", "c"), n_images=60, noise=150.0)
    database = tmp_path / "ratings.sqlite"
    rate_cli("simulate", "--trials", trials, "--db", database, "--raters", "6", "--error-rate", "0.2", "--seed", "3")
    rate_cli("export", "--trials", trials, "--db", database, "--out", tmp_path / "answers.tsv")
    answers = analysis.read_answers(tmp_path / "answers.tsv")
    assert len(answers) == 6 * 120 and set(answers["source"]) == {simulate.source(0.2)}
    table = analysis.accuracy(answers)
    ts = TrialSet(trials)
    for method in ("z", "c"):
        ids = list(ts.table.index[ts.table["method"] == method])
        expected = simulate.expected_accuracy(ts, ids, 0.2)
        assert 0.6 < expected <= 0.8  # 1 - e where the pixel rule is always right
        mean = table[(table["method"] == method) & (table["rater"] == analysis.MEAN)].iloc[0]
        assert mean["n_raters"] == 6 and mean["n"] == 360
        assert mean["ci_low"] <= expected <= mean["ci_high"] and mean["p_chance"] < 1e-6
    agree = analysis.agreement(answers)
    # the raters share every trial and the rule; they disagree where exactly one of two flips: 2 e (1 - e) = 0.32
    assert (agree["n_pairs"] == 15).all() and np.allclose(agree["pairwise_agreement"], 0.68, atol=0.06)
    note = analysis.simulated_note(answers)
    assert note in analysis.markdown(table, agree, note)
    assert note.startswith("SIMULATED raters (higher pixel correlation, error rate") and note.lower().count("simulated") == 1


def test_accuracy_interval_and_test_are_exact_binomial():
    answers = pd.DataFrame({"rater": ["a"] * 20 + ["b"] * 20, "source": "human", "trial": list(range(20)) * 2,
                            "subject": "subj01", "method": "z", "target": "left",
                            "choice": ["left"] * 15 + ["right"] * 5 + ["left"] * 10 + ["right"] * 10})
    answers["correct"] = (answers["choice"] == answers["target"]).astype(int)
    table = analysis.accuracy(answers).set_index("rater")
    assert table.loc["a", "accuracy"] == 0.75 and table.loc["b", "accuracy"] == 0.5
    assert np.isclose(table.loc["a", "ci_low"], 0.5089541, atol=1e-6)  # Clopper-Pearson, 15 of 20
    assert np.isclose(table.loc["a", "p_chance"], 0.0206947, atol=1e-6)  # P(X >= 15), X ~ Bin(20, 0.5)
    assert table.loc[analysis.MEAN, "accuracy"] == 0.625 and table.loc[analysis.MEAN, "n"] == 40
    agree = analysis.agreement(answers).iloc[0]
    assert agree["pairwise_agreement"] == 0.75 and agree["n_pairs"] == 1
    assert analysis.simulated_note(answers) == ""


def test_answers_of_another_trial_set_or_malformed_are_refused(tmp_path):
    bad = tmp_path / "answers.tsv"
    bad.write_text("rater\tchoice\nalice\tleft\n")
    with pytest.raises(InputError, match="answers.tsv: expected the columns"):
        analysis.read_answers(bad)
    with pytest.raises(InputError, match="answers file not found"):
        analysis.read_answers(tmp_path / "none.tsv")
    trials = pd.DataFrame({"trial": [1], "subject": ["subj01"], "method": ["z"], "nsd_id": [101], "sample": [0],
                           "foil_nsd_id": [102], "foil_sample": [1], "target": ["left"]})
    analysis.check_trials(trials, trials, bad)
    with pytest.raises(InputError, match=r"do not match the trials file \(first: trial 1, target\)"):
        analysis.check_trials(trials.assign(target="right"), trials, bad)
    with pytest.raises(InputError, match=r"do not match the trials file \(first: trial 1, foil_sample\)"):
        analysis.check_trials(trials.assign(foil_sample=0), trials, bad)


def test_the_analysis_joins_the_run_and_fig5_only_when_answers_are_given(tmp_path):
    (tmp_path / "answers.yaml").write_text("rate:\n  answers: lab/answers.tsv\n")
    plain = snakemake("-n", "--forceall", "results/figures/fig5.png", cwd=tmp_path)
    with_answers = snakemake("-n", "--configfile", str(tmp_path / "answers.yaml"), cwd=tmp_path)
    assert plain.returncode == 0 and "rate_analysis" not in plain.stdout, plain.stderr
    assert with_answers.returncode != 0 and "lab/answers.tsv" in with_answers.stdout + with_answers.stderr  # required
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab/answers.tsv").write_text("rater\n")
    with_answers = snakemake("-n", "--configfile", str(tmp_path / "answers.yaml"), cwd=tmp_path)
    assert with_answers.returncode == 0, with_answers.stderr
    assert "rule rate_analysis:" in with_answers.stdout and "results/rate/accuracy.tsv" in with_answers.stdout.split(
        "rule eval_summary:")[1].split("output:")[0]


def test_fig5_gets_a_subjective_panel_that_says_simulated(tmp_path):
    from PIL import Image
    summary = pd.DataFrame({"protocol": "takagi", "metric": ["alex5", "clip"] * 2, "method": ["z", "z", "c", "c"],
                            "subject": "subj01", "mean": 0.7, "sd": 0.1})
    answers = pd.DataFrame({"rater": ["a"] * 4 + ["b"] * 4, "source": simulate.source(0.1), "trial": [1, 2, 3, 4] * 2,
                            "subject": "subj01", "method": ["z", "z", "c", "c"] * 2, "target": "left",
                            "choice": ["left", "left", "left", "right"] * 2})
    answers["correct"] = (answers["choice"] == answers["target"]).astype(int)
    subjective = analysis.accuracy(answers).assign(note=analysis.simulated_note(answers))
    figures.identification_bars(summary, tmp_path / "plain.png")
    figures.identification_bars(summary, tmp_path / "fig5.png", "", subjective)
    assert Image.open(tmp_path / "fig5.png").width > Image.open(tmp_path / "plain.png").width  # one more panel
    import matplotlib.pyplot as plt
    seen = {}
    original = figures.save
    figures.save = lambda fig, path, note, top: seen.update(titles=[ax.get_title() for ax in fig.axes], note=note)
    try:
        figures.identification_bars(summary, tmp_path / "x.png", "", subjective)
    finally:
        figures.save = original
        plt.close("all")
    assert seen["titles"][-1] == "subjective: 2 SIMULATED raters" and seen["note"].startswith("SIMULATED raters")
