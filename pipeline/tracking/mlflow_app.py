"""The MLflow server app rnnflow starts (``mlflow server --app-name rnnflow``, see ``make mlflow-ui``):
MLflow's own app, whose landing page opens on the training runs of the latest pipeline run.

MLflow 3.17's UI ignores an experiment's ``mlflow.experimentKind`` tag: a browser-wide
"GenAI / Model training" switch (``localStorage['mlflow.workflowType_v1']``, GenAI unless set)
decides, so a new user lands on an empty traces page. The landing page here sets that switch to
"Model training" when the browser has no preference yet (a user who picks GenAI keeps it) and,
when the address names no page, opens the experiment of the newest rnnflow parent run.
Every other route is MLflow's, unchanged.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from flask import Response
from mlflow.server import app as flask_app
from mlflow.server.fastapi_app import app  # noqa: F401  (what the entry point names: uvicorn serves it)

from pipeline.names import LEGACY_RUN_ROLE_TAG, PARENT_ROLE, RUN_ROLE_TAG

log = logging.getLogger(__name__)

WORKFLOW_KEY = "mlflow.workflowType_v1"
MODEL_TRAINING = "machine_learning"


def newest_training_page() -> str | None:
    """``/experiments/<id>/runs`` of the experiment holding the newest rnnflow parent run."""
    from mlflow.entities import ViewType
    from mlflow.server.handlers import (
        _get_tracking_store,  # the store every MLflow handler uses
    )

    try:
        store = _get_tracking_store()
        experiments = [e.experiment_id for e in store.search_experiments(view_type=ViewType.ACTIVE_ONLY,
                                                                          max_results=1000)]
        runs = []
        for role_tag in (RUN_ROLE_TAG, LEGACY_RUN_ROLE_TAG):  # stores written before the rename: the old key
            runs = store.search_runs(experiments, f"tags.`{role_tag}` = '{PARENT_ROLE}'", ViewType.ACTIVE_ONLY, 1,
                                     ["attributes.start_time DESC"], None) if experiments else []
            if runs:
                break
    except Exception as exc:  # a landing page must never fail: without it, the plain list
        log.warning("no landing experiment: %s", exc)
        return None
    return f"/experiments/{runs[0].info.experiment_id}/runs" if runs else None


def landing_script(page: str | None) -> str:
    return ("<script>(function(){try{var s=window.localStorage;"
            f"if(!s.getItem({json.dumps(WORKFLOW_KEY)}))s.setItem({json.dumps(WORKFLOW_KEY)},"
            f"{json.dumps(json.dumps(MODEL_TRAINING))})}}catch(e){{}}"
            f"var page={json.dumps(page)},h=window.location.hash;"
            "if(page&&(!h||h==='#'||h==='#/'))window.location.replace('#'+page)})();</script>")


def landing_page() -> Response:
    index = Path(flask_app.static_folder) / "index.html"
    html = index.read_text(encoding="utf-8")
    # First in <head>: it must run before the app's bundle reads the switch.
    return Response(html.replace("<head>", "<head>" + landing_script(newest_training_page()), 1),
                    mimetype="text/html")


flask_app.view_functions["serve"] = landing_page
