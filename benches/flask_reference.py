"""The serving side of the system netprophet replaces, as a reference for
the load comparison: a Flask app behind Gunicorn that reads the same
prediction cache file on every request and renders a small dashboard
(`/`) or returns it as JSON (`/api/prediction`). Written for this
comparison; it mirrors the shape of the original (Flask reading a JSON file
written by cron), not its code.

    gunicorn -w 3 -b 127.0.0.1:8081 'flask_reference:app'   (NETPROPHET_CACHE=path)
"""

import json
import os
import time

from flask import Flask, Response, render_template_string

CACHE = os.environ.get("NETPROPHET_CACHE", "prediction.json")
app = Flask(__name__)

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{{ refresh }}"><title>netprophet</title></head>
<body><h1>Will this path be degraded in 5 minutes?</h1>
<p class="{{ 'high' if p >= 0.4 else 'low' }}">Risk: {{ '%.1f' % (p * 100) }}%</p>
<p>Latency {{ latency }} ms, jitter {{ jitter }} ms</p>
<p>Updated {{ updated }} UTC{% if stale %} (stale){% endif %}</p>
<svg width="600" height="120"><polyline fill="none" stroke="#38bdf8" points="{{ points }}"/></svg>
</body></html>"""


def load():
    with open(CACHE) as f:
        return json.load(f)


@app.route("/api/prediction")
def prediction():
    try:
        return Response(json.dumps(load()), mimetype="application/json")
    except (OSError, ValueError):
        return Response('{"error":"no prediction yet"}', status=503, mimetype="application/json")


@app.route("/")
def dashboard():
    try:
        c = load()
    except (OSError, ValueError):
        return Response("no prediction yet", status=503)
    head = c["predictions"][0]
    inputs = dict((k, v) for k, v in head["inputs"])
    hist = c["history"][-120:]
    lat = [h["latency_ms"] or 0 for h in hist] or [0]
    lo, hi = min(lat), max(lat) or 1
    points = " ".join(
        "%.1f,%.1f" % (i * 600 / max(len(lat) - 1, 1), 110 - 100 * (v - lo) / max(hi - lo, 1e-9))
        for i, v in enumerate(lat))
    age = time.time() - c["generated_at"]
    return render_template_string(
        PAGE, p=head["probability"], latency=inputs.get("avg_latency"), jitter=inputs.get("jitter"),
        updated=time.strftime("%Y-%m-%d %H:%M", time.gmtime(c["generated_at"])),
        stale=age > 900, refresh=30 if age > 900 else 60, points=points)
