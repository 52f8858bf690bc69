"""Six raters answer concurrently over HTTP while the server is killed (SIGKILL) and restarted:
no acknowledged answer is lost and none is duplicated."""
import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request

from rate_helpers import Server, add_rater, make_trial_set

RATERS, PER_RATER = 6, 210  # 1,260 answers


def rater_loop(url: str, token: str, trials: list[int], acknowledged: list, stop: float) -> None:
    """Answer every trial in turn; retry (the same answer) until the server acknowledges it."""
    for trial in trials:
        choice = "left" if trial % 2 else "right"
        body = json.dumps({"trial": trial, "choice": choice}).encode()
        while time.monotonic() < stop:
            req = urllib.request.Request(f"{url}/r/{token}/answer", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as reply:
                    if reply.status == 200:
                        acknowledged.append((token, trial, choice))
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)  # the server is down: try again


def test_six_raters_concurrently_with_a_kill_and_restart(tmp_path):
    trials = make_trial_set(tmp_path, subjects=("subj01", "subj02"), methods=("z", "c", "zc0.8"), n_images=120,
                            n_samples=1, size=4, per_rater=PER_RATER)
    database = tmp_path / "ratings.sqlite"
    tokens = [add_rater(trials, database, f"rater{k}") for k in range(RATERS)]
    con = sqlite3.connect(database)
    assigned = {tok: [t for (t,) in con.execute("SELECT a.trial FROM assignments a JOIN raters r ON r.id = a.rater_id "
                                                "WHERE r.token = ? ORDER BY position", (tok,))] for tok in tokens}
    con.close()
    server = Server(trials, database).start()
    acknowledged, stop = [], time.monotonic() + 240
    threads = [threading.Thread(target=rater_loop, args=(server.url, tok, assigned[tok], acknowledged, stop))
               for tok in tokens]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while len(acknowledged) < RATERS * PER_RATER // 2:
        time.sleep(0.01)
    server.kill()  # mid-session, while answers are in flight
    killed_at = len(acknowledged)
    time.sleep(0.5)
    server = Server(trials, database, port=server.port).start()
    for thread in threads:
        thread.join(timeout=max(1.0, stop - time.monotonic()))
    server.stop()
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "raters did not finish within the time bound"
    assert 0 < killed_at < RATERS * PER_RATER
    assert len(acknowledged) == RATERS * PER_RATER >= 1200 and elapsed < 240
    con = sqlite3.connect(database)
    stored = con.execute("SELECT r.token, a.trial, a.choice FROM answers a JOIN raters r ON r.id = a.rater_id").fetchall()
    con.close()
    assert len(stored) == len(set(stored)) == RATERS * PER_RATER  # none duplicated
    assert set(stored) == set(acknowledged)  # none lost, each as acknowledged
    print(f"{len(stored)} answers in {elapsed:.1f} s, server killed after {killed_at}")
