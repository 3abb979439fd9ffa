"""/docs: the interactive API docs from the vendored swagger-ui, so they work offline."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

docs = Blueprint("docs", __name__, template_folder="templates")

# swagger-ui sets element styles from script and ships inline SVG styles: it needs
# 'unsafe-inline' for styles (never for scripts). Its scripts and the spec come from here.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@docs.route("/docs")
@docs.route("/docs/")
def swagger_ui() -> Response:
    response = Response(render_template("console/docs.html"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
