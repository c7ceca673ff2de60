"""What a person sees in the MLflow and Airflow UIs after a real run, checked in a real browser.

`rnnflow run` fills its own RNNFLOW_HOME (SQLite Airflow DB, local MLflow store) as `make demo`
does; the MLflow server starts as `make mlflow-ui` starts it and the Airflow api-server as a user
would; Debian's chromium, driven by Selenium through Debian's chromedriver, opens the pages. The
screenshots are kept in test-artifacts/ui/ for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.services import ProcessGroup, free_port, http_ok, unavailable, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("services")]

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "ui"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
MODEL = "nsmc-sentiment"


def _browser():
    if not (CHROMIUM and CHROMEDRIVER):
        unavailable("Debian's chromium and chromium-driver are not installed (make test installs them as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1800"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _page_text(browser) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.TAG_NAME, "body").text


def _shows(browser, *needles: str, timeout: float = 60) -> str:
    """Wait until the rendered page shows every needle (the UIs render after load); its text."""
    from selenium.webdriver.support.ui import WebDriverWait

    def found(driver):
        text = _page_text(driver)
        return text if all(needle in text for needle in needles) else False

    try:
        return WebDriverWait(browser, timeout, poll_frequency=1).until(found)
    except Exception:
        missing = [needle for needle in needles if needle not in _page_text(browser)]
        raise AssertionError(f"{browser.current_url} does not show {missing}:\n{_page_text(browser)[:3000]}") from None


def _screenshot(browser, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def _run_pipeline(home: Path, corpus: Path) -> dict:
    """`rnnflow run` in its own RNNFLOW_HOME, as a user runs it (the test session's stores unset)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AIRFLOW", "MLFLOW_"))}
    env["RNNFLOW_HOME"] = str(home)
    result = subprocess.run(
        [str(VENV_BIN / "rnnflow"), "run", "nsmc", "--source", str(corpus), "--json",
         "--set", "train.models=[tfidf_logreg,tfidf_nb]", "--set", "model.baseline_min_df=1",
         "--set", "text.workers=1"],
        env=env, capture_output=True, text=True, timeout=900, cwd=home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_uis_show_the_runs_the_comparison_the_champion_and_the_dag_run(tmp_path, sample_corpus):
    import mlflow

    home = tmp_path / "home"
    home.mkdir()
    summary = _run_pipeline(home, sample_corpus)
    client = mlflow.MlflowClient(f"sqlite:///{home / '.mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(MODEL)
    [parent] = client.search_runs([experiment.experiment_id], "tags.`rnnflow.role` = 'parent'")
    winner = parent.data.tags["rnnflow.best_arch"]
    dag_run_id = parent.data.tags["rnnflow.dag_run_id"]

    mlflow_port, airflow_port = free_port(), free_port()
    group = ProcessGroup(tmp_path)
    env = {**os.environ, "RNNFLOW_HOME": str(home), "AIRFLOW_HOME": str(home / ".airflow"),
           "AIRFLOW__API__PORT": str(airflow_port),
           # No login page for the test: every user is an admin of this throwaway home.
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    # As `make mlflow-ui` starts it: rnnflow's app (pipeline/tracking/mlflow_app.py) on MLflow's server.
    group.start("mlflow", [str(VENV_BIN / "mlflow"), "server", "--app-name", "rnnflow", "--backend-store-uri",
                           f"sqlite:///{home / '.mlflow' / 'mlflow.db'}", "--host", "127.0.0.1",
                           "--port", str(mlflow_port), "--workers", "1"], env, cwd=home)
    group.start("airflow", [str(VENV_BIN / "airflow"), "api-server", "--port", str(airflow_port), "--workers", "1"],
                env, cwd=home)
    browser = None
    from selenium.webdriver.common.by import By

    try:
        wait_for(lambda: http_ok(f"http://127.0.0.1:{mlflow_port}/health"), 180, "the MLflow server", group)
        wait_for(lambda: http_ok(f"http://127.0.0.1:{airflow_port}/api/v2/monitor/health"), 180,
                 "the Airflow api-server", group)
        browser = _browser()
        mlflow_ui = f"http://127.0.0.1:{mlflow_port}"

        # A new user opens the bare address: the experiment's training runs, not a GenAI traces page.
        browser.get(mlflow_ui)
        # The experiment's description renders after the runs table: wait for it too.
        _shows(browser, "Model training", parent.info.run_name[:12], "Runs", "classification models trained by rnnflow")
        assert f"#/experiments/{experiment.experiment_id}/runs" in browser.current_url
        _screenshot(browser, "1-mlflow-landing")

        # The parent run's page says who won and what the registry did, above the "Show more" fold.
        browser.get(f"{mlflow_ui}/#/experiments/{experiment.experiment_id}/runs/{parent.info.run_id}")
        _shows(browser, f"nsmc: {winner} won (accuracy", "Registry:", f"{MODEL} version 1",
                      "@champion", "no champion yet")
        _screenshot(browser, "2-mlflow-parent-run")
        # Unfolded: the comparison table, the chart (served from the run's artifacts) and the data checks.
        browser.find_element(By.XPATH, "//*[normalize-space(text())='Show more']").click()
        _shows(browser, "Models on the same test split (30 rows)", "tfidf_nb", "tfidf_logreg",
                      "Data validation: ", "Promotion")
        chart = browser.find_element(By.CSS_SELECTOR, "img[src*='get-artifact']")  # MLflow's sanitizer drops alt
        wait_for(lambda: browser.execute_script("return arguments[0].naturalWidth", chart) > 0, 30,
                 "the comparison chart to load")
        browser.execute_script("arguments[0].scrollIntoView()", chart)
        _screenshot(browser, "2b-mlflow-parent-run-unfolded")

        # The registry page: the champion alias and a version description with metrics and lineage.
        browser.get(f"{mlflow_ui}/#/models/{MODEL}/versions/1")
        _shows(browser, "champion", f"{winner}, test split: accuracy", "DAG run", dag_run_id[:20])
        _screenshot(browser, "3-mlflow-version")
        browser.get(f"{mlflow_ui}/#/models/{MODEL}")
        _shows(browser, "Labels: negative, positive", "Promotion:")
        _screenshot(browser, "4-mlflow-model")

        # The Airflow UI: the DAG run that trained it, successful.
        browser.get(f"http://127.0.0.1:{airflow_port}/dags/nsmc_sentiment/runs/{dag_run_id}")
        _shows(browser, dag_run_id, "Success", "Ingest and validate", "tfidf_nb", timeout=90)
        _screenshot(browser, "5-airflow-dag-run")
    finally:
        if browser is not None:
            if not (SCREENSHOTS / "5-airflow-dag-run.png").exists():
                _screenshot(browser, "failed-last-page")
            browser.quit()
        leftovers = group.stop()
    assert leftovers == [], f"processes left after teardown: {leftovers}"
    assert summary["registered"]["alias"] == "champion"
