"""The rating app under hostile and careless use: every request a 4xx or a stored answer, the database private,
read-only archives readable, and edits made after answers exist refused with one line."""
import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from rate_helpers import PYTHON_ENV, Server, add_rater, make_trial_set, rate_cli, request
from sdbrain.errors import InputError
from sdbrain.rate import analysis


@pytest.fixture
def session(tmp_path):
    trials = make_trial_set(tmp_path, per_rater=6)
    database = tmp_path / "ratings.sqlite"
    alice = add_rater(trials, database, "alice")
    with Server(trials, database) as server:
        yield server, alice, database


def answers_in(database: Path) -> list[tuple]:
    con = sqlite3.connect(database)
    try:
        return con.execute("SELECT rater_id, trial, choice FROM answers ORDER BY rater_id, trial").fetchall()
    finally:
        con.close()


NESTED = b"[" * 2000 + b"]" * 2000  # 4,000 bytes, deeper than Python's recursion limit


@pytest.mark.parametrize("case, status, message", [
    # digits that str.isdigit accepts: superscript two, full-width one, Arabic-Indic one
    ("image/%C2%B2/original", 404, "by trial id only"),
    ("image/%EF%BC%91/original", 404, "by trial id only"),
    ("image/%D9%A1/left", 404, "by trial id only"),
    ("image/99999999999999999999/left", 404, "by trial id only"),
    ("trial 2^63", 422, "'trial'"),
    ("trial 2^80", 422, "'trial'"),
    ("nested", 400, "JSON object"),
    ("repeated key", 422, "'choice' is given twice"),
    ("text/plain", 415, "application/json"),
    ("form", 415, "application/json"),
    ("foreign origin", 403, "cross-site"),
    ("foreign port", 403, "cross-site"),
    ("cross-site fetch", 403, "cross-site"),
])
def test_hostile_requests_get_a_4xx_and_store_nothing(session, case, status, message):
    server, alice, database = session
    url = f"{server.url}/r/{alice}/answer"
    good = json.dumps({"trial": 1, "choice": "left"}).encode()
    if case.startswith("image/"):
        sent = request(f"{server.url}/r/{alice}/{case}")
    else:
        raw, headers = {
            "trial 2^63": (json.dumps({"trial": 2**63, "choice": "left"}).encode(), {}),
            "trial 2^80": (json.dumps({"trial": 2**80, "choice": "left"}).encode(), {}),
            "nested": (NESTED, {}),
            "repeated key": (b'{"trial": 1, "choice": "left", "choice": "right"}', {}),
            "text/plain": (good, {"Content-Type": "text/plain"}),
            "form": (b"trial=1&choice=left", {"Content-Type": "application/x-www-form-urlencoded"}),
            "foreign origin": (good, {"Origin": "http://evil.example"}),
            "foreign port": (good, {"Origin": "http://127.0.0.1:1"}),
            "cross-site fetch": (good, {"Sec-Fetch-Site": "cross-site"}),
        }[case]
        sent = request(url, "POST", raw=raw, headers=headers)
    code, reply = sent
    assert (code, message in reply.decode()) == (status, True), reply[:200]
    assert answers_in(database) == []
    # the server is unharmed: the same rater's plain answer is stored
    assert request(url, "POST", {"trial": 1, "choice": "left"})[0] == 200 and len(answers_in(database)) == 1


def raw_post(port: int, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
    """Send a POST's headers and the first part of its body, then read the reply (a server that waits for the
    whole body times this out)."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.encode() + body)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    return int(reply.split(b" ", 2)[1]), reply.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("how", ["declared", "chunked"])
def test_a_10_mb_body_gets_413_and_stores_nothing(session, how):
    """Declared (Content-Length: 10 MB): refused before any of it is read; sent in chunks without a length:
    refused once 4,096 bytes are in."""
    server, alice, database = session
    body = json.dumps({"trial": 1, "choice": "left", "pad": "x" * 10_000_000}).encode()
    json_type = {"Content-Type": "application/json"}
    if how == "declared":
        code, reply = raw_post(server.port, f"/r/{alice}/answer", {**json_type, "Content-Length": len(body)},
                               body[:65536])
    else:
        chunks = b"".join(b"%x\r\n%s\r\n" % (1024, body[k:k + 1024]) for k in range(0, 8192, 1024))
        code, reply = raw_post(server.port, f"/r/{alice}/answer", {**json_type, "Transfer-Encoding": "chunked"},
                               chunks)
    assert code == 413 and b"larger than 4096 bytes" in reply
    assert answers_in(database) == []
    assert request(f"{server.url}/r/{alice}/answer", "POST", {"trial": 1, "choice": "left"})[0] == 200


def test_the_pages_own_origin_is_accepted(session):
    """What Chromium sends from the trial page: Origin http://127.0.0.1:PORT and Sec-Fetch-Site same-origin."""
    server, alice, database = session
    code, _ = request(f"{server.url}/r/{alice}/answer", "POST", {"trial": 1, "choice": "right"},
                      headers={"Origin": server.url, "Sec-Fetch-Site": "same-origin"})
    assert code == 200 and answers_in(database) == [(1, 1, "right")]
    # the same page served as https by a proxy that ends TLS (the app sees http): the same host, accepted
    code, _ = request(f"{server.url}/r/{alice}/answer", "POST", {"trial": 2, "choice": "left"},
                      headers={"Origin": server.url.replace("http:", "https:")})
    assert code == 200 and len(answers_in(database)) == 2


def test_every_response_carries_the_security_headers(session):
    server, alice, _ = session
    replies = {"page": request(f"{server.url}/r/{alice}", with_headers=True),
               "image": request(f"{server.url}/r/{alice}/image/1/left", with_headers=True),
               "answer": request(f"{server.url}/r/{alice}/answer", "POST", {"trial": 1, "choice": "left"},
                                 with_headers=True),
               "refusal": request(f"{server.url}/r/nobody", with_headers=True),
               "router 404": request(f"{server.url}/etc/passwd", with_headers=True)}
    assert [code for code, _, _ in replies.values()] == [200, 200, 200, 404, 404]
    for what, (_, _, headers) in replies.items():
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY", what
        assert headers["Referrer-Policy"] == "no-referrer", what  # the token is in every URL
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'none'" in csp, what
        expected_cache = "private, max-age=3600" if what == "image" else "no-store"
        assert headers["Cache-Control"] == expected_cache, what
    # the page's one script and one style carry the response's nonce, and the policy allows nothing else
    _, page, headers = replies["page"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", headers["Content-Security-Policy"]).group(1)
    assert page.decode().count(f'nonce="{nonce}"') == 2 and "style=" not in page.decode()
    assert nonce != re.search(r"'nonce-([^']+)'", replies["answer"][2]["Content-Security-Policy"]).group(1)


def test_the_database_is_created_readable_by_its_owner_only(tmp_path):
    trials = make_trial_set(tmp_path, per_rater=4)
    database = tmp_path / "ratings.sqlite"
    old = os.umask(0o022)  # the usual umask, which leaves new files world-readable
    try:
        add_rater(trials, database, "alice")
    finally:
        os.umask(old)
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def as_another_user(args: list) -> list:
    """The command run by an unprivileged user where the tests run as root (root writes read-only files)."""
    if os.geteuid() != 0:
        return args
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a read-only file cannot be shown read-only")
    command = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", *args]
    probe = subprocess.run([*command[:-len(args)], sys.executable, "-c", "import sdbrain.rate.cli"], env=PYTHON_ENV,
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:  # e.g. the checkout or the interpreter in a folder only root may enter
        pytest.skip(f"user nobody cannot run this Python with the package: {probe.stderr.strip()[-200:]}")
    return command


def test_a_read_only_archive_is_listed_and_exported():
    """An archived session: the database and its folder read-only (as on a read-only mount)."""
    root = Path(tempfile.mkdtemp(prefix="rate_archive_"))  # not under pytest's tmp_path (readable by root only)
    try:
        root.chmod(0o755)
        trials = make_trial_set(root / "set", per_rater=4)
        database = root / "archive/ratings.sqlite"
        database.parent.mkdir()
        rate_cli("simulate", "--trials", trials, "--db", database, "--raters", "2", "--seed", "0")
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        database.chmod(0o444)
        database.parent.chmod(0o555)
        out = root / "out"
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        before = database.read_bytes()
        cli = [sys.executable, "-m", "sdbrain.rate.cli"]
        for command in (["raters"], ["export", "--out", out / "answers.tsv"]):
            result = subprocess.run(as_another_user([*cli, *command, "--trials", trials, "--db", database]),
                                    capture_output=True, text=True, env=PYTHON_ENV, timeout=300)
            assert result.returncode == 0, result.stderr
        assert len(pd.read_csv(out / "answers.tsv", sep="\t")) == 8
        assert database.read_bytes() == before and sorted(p.name for p in database.parent.iterdir()) == ["ratings.sqlite"]
    finally:
        for path in [root, *root.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(root)


def test_a_database_in_a_missing_folder_is_one_line(tmp_path):
    trials = make_trial_set(tmp_path, per_rater=4)
    result = rate_cli("add-rater", "alice", "--trials", trials, "--db", tmp_path / "missing_dir/x.sqlite", check=False)
    assert result.returncode == 1
    assert result.stderr == f"ERROR: {tmp_path / 'missing_dir/x.sqlite'}: its folder {tmp_path / 'missing_dir'} does not exist\n"
    assert not (tmp_path / "missing_dir").exists()


@pytest.mark.parametrize("name", ["ali\tce", "bob\nsmith", "carol\x1b[31m"])
def test_a_rater_name_with_control_characters_is_refused(tmp_path, name):
    trials = make_trial_set(tmp_path, per_rater=4)
    result = rate_cli("add-rater", name, "--trials", trials, "--db", tmp_path / "db.sqlite", check=False)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "control characters (tabs, newlines) are not allowed" in result.stderr


def test_an_edited_per_rater_count_is_refused(tmp_path):
    """trials_per_rater decides the later raters' trials: edited once raters exist, it is refused."""
    trials = make_trial_set(tmp_path, per_rater=4)
    database = tmp_path / "db.sqlite"
    add_rater(trials, database, "alice")
    session = trials.parent / "session.json"
    meta = json.loads(session.read_text())
    session.write_text(json.dumps({**meta, "trials_per_rater": 7}))
    for command in (["add-rater", "bob"], ["serve"], ["raters"], ["export", "--out", tmp_path / "a.tsv"]):
        result = rate_cli(*command, "--trials", trials, "--db", database, check=False)
        assert result.returncode == 1, command
        assert result.stderr == (f"ERROR: {session}: trials_per_rater is 7, but the raters of {database} were given 4 "
                                 "trials each; use a new database for a new session\n"), command
    assert not (tmp_path / "a.tsv").exists()


def exported(tmp_path) -> tuple[Path, Path]:
    trials = make_trial_set(tmp_path, per_rater=6)
    database = tmp_path / "db.sqlite"
    rate_cli("simulate", "--trials", trials, "--db", database, "--raters", "2")
    rate_cli("export", "--trials", trials, "--db", database, "--out", tmp_path / "answers.tsv")
    return trials, tmp_path / "answers.tsv"


def test_an_edited_foil_is_refused_by_the_analysis(tmp_path):
    trials, answers = exported(tmp_path)
    table = pd.read_csv(trials, sep="\t")
    analysis.check_trials(analysis.read_answers(answers), table, answers)
    first = table["trial"].isin(pd.read_csv(answers, sep="\t")["trial"]).idxmax()
    table.loc[first, "foil_nsd_id"] = table.loc[first, "foil_nsd_id"] + 1  # another foil, the same target
    with pytest.raises(InputError, match=rf"answers.tsv: \d+ answers do not match the trials file \(first: trial "
                                         rf"{table.loc[first, 'trial']}, foil_nsd_id\)"):
        analysis.check_trials(analysis.read_answers(answers), table, answers)


def test_a_correct_that_contradicts_choice_and_target_is_refused(tmp_path):
    _, answers = exported(tmp_path)
    table = pd.read_csv(answers, sep="\t")
    table.loc[0, "correct"] = 1 - table.loc[0, "correct"]
    table.to_csv(answers, sep="\t", index=False)
    with pytest.raises(InputError, match=r"answers.tsv: 1 answers have a 'correct' that contradicts their choice and "
                                         rf"target \(first: trial {table.loc[0, 'trial']}\)"):
        analysis.read_answers(answers)
