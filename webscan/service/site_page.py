"""The site owners' pages: `/` to audit a page, `/audits/{id}` to watch it and read the verdict,
`/sites/{host}` for a site's audits, shared verdict and monitors; `/docs` and `/static`.

Server-rendered Jinja2 (templates/ beside this file) with one small script that polls
`GET /v1/audits/{id}`; everything a page loads is served here (no CDN), so it works offline.
The form queues audits through the API's own path (`ServiceHooks.submit_audit`: the same
target check, queue bound and rate limit as `POST /v1/audits`), and the verdict's evidence is
the ONE report macro of `webscan crawl --report` (webscan.output.html_report).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Path as PathParam, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import FileSystemLoader
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from webscan import __version__
from webscan.model import Audit, AuditStatus, Report, VerdictLabel, VerdictLookup
from webscan.output.html_report import REPORT_CSS, environment, sources
from webscan.service.monitors import monitor_of
from webscan.service.targets import TargetRefused, split_target

HERE = Path(__file__).parent
STATIC = HERE / "static"
ENV = environment(FileSystemLoader(HERE / "templates"))
AUDIT_ID = r"^[0-9a-f]{32}$"
HOST_PATTERN = r"^[A-Za-z0-9.\-\[\]:]{1,300}$"


def why_in_words(text: str, window_s: float, nav_timeout_s: float) -> tuple[str, str]:
    """(what happened, what to do) for an audit that gave no verdict, or a refused address, in
    words a site owner can act on; the service's own message is shown beside it."""
    low = text.lower()
    if any(w in low for w in ("loopback", "private", "link-local", "metadata", "non-public",
                              "internal name", "public sites")):
        return ("This address is not on the public internet (a loopback, private or internal "
                "address), and this service only checks public sites.",
                "Type the address people use to reach your site, such as "
                "https://www.example.com/.")
    if "no such host" in low or "name_not_resolved" in low or "name not resolved" in low:
        return ("No site answers to this name: it does not resolve to an address.",
                "Check the spelling of the address and try again.")
    if "did not finish loading" in low or "load-timeout" in low or "timed_out" in low \
            or "did not finish within" in low:
        return (f"The page never finished loading (we wait {nav_timeout_s:.0f} s for it).",
                "Check that the site is up and loads in your own browser, then try again.")
    if any(w in low for w in ("connection_refused", "unreachable", "connection refused",
                              "err_connection", "err_address", "refused by the egress",
                              "could not be reached", "err_tunnel_connection_failed")):
        return ("The site could not be reached: nothing answered at this address.",
                "Check that the address is right and the site is up, then try again.")
    if "control characters" in low or "absolute http" in low or "no usable host" in low \
            or "user names" in low or "backslash" in low:
        return ("This is not an address we can check.",
                "Type a full web address starting with http:// or https://.")
    return ("The check could not be completed.",
            f"Try again in a few minutes; each check watches the page for {window_s:.0f} s.")


HTTP_WORDS = {
    401: ("This service only runs checks for people with an API key.",
          "Type your API key in the field below, or ask the service's operator for one."),
    429: ("Too many checks were asked from your network just now.",
          "Wait {retry} seconds, then press the button again."),
    503: ("The queue of checks is full right now.",
          "Try again in a minute or two; nothing was queued."),
}


def verdict_words(report: Report, window_s: float) -> tuple[str, str | None]:
    """(headline, the script or thing to look at first) in plain words."""
    involved = sources(report)
    code = [s for s in involved if s.kind in ("script", "inline script", "frame", "worker")]
    # the code with the most evidence, a third party's first (how sites are usually hit)
    main = max(code, key=lambda s: (s.party_class == "third", len(s.rules)), default=None)
    culprit = f"{main.name} ({main.kind}, {main.party})" if main else None
    if report.verdict is VerdictLabel.miner:
        return ("This page mines cryptocurrency in its visitors' browsers.", culprit)
    if report.verdict is VerdictLabel.suspicious:
        return ("This page does some of what miners do, but not enough to say it mines.", culprit)
    if report.verdict is VerdictLabel.clean:
        window = report.runtime.window_s if report.runtime else window_s
        return (f"No mining found: the page was loaded and watched for {window:.0f} s.", None)
    return ("The page could not be checked.", None)


def mount_pages(app: FastAPI) -> None:
    """Add the pages, the offline API docs and the static files to the service."""
    hooks = app.state.hooks
    config = app.state.config
    store = app.state.store
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page(name: str, status: int = 200, **context: object) -> HTMLResponse:
        html = ENV.get_template(name).render(version=__version__, report_css=Markup(REPORT_CSS),
                                             keys_required=hooks.keys_required, **context)
        return HTMLResponse(html, status_code=status)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """Swagger UI from this service's own files (FastAPI's default loads it from a CDN)."""
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="webscan API",
                                   swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg",
                                   swagger_ui_parameters={"validatorUrl": None})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> HTMLResponse:
        return page("index.html", window=config.audit_window_s)

    @app.post("/", response_class=HTMLResponse, include_in_schema=False)
    async def check(request: Request) -> Response:
        form = await request.form()
        url = str(form.get("url", "")).strip()[:2048]
        if url and "://" not in url:
            url = "https://" + url  # what a person types: example.com
        try:
            if hooks.keys_required:
                hooks.require_key(request, key=str(form.get("api_key", "")).strip() or None)
            hooks.limit("audits", request)
            if not url:
                raise HTTPException(400, "the URL is empty")
            audit = await hooks.submit_audit(url, hooks.network_of_request(request))
        except HTTPException as e:
            return refused(url, e)
        return RedirectResponse(f"/audits/{audit.id}", status_code=303)

    def refused(url: str, e: HTTPException) -> HTMLResponse:
        detail = str(e.detail)
        if e.status_code in HTTP_WORDS:
            retry = (e.headers or {}).get("Retry-After", "30")
            what, todo = (w.format(retry=retry) for w in HTTP_WORDS[e.status_code])
        elif detail == "the URL is empty":
            what, todo = ("No address was given.", "Type the address of a page, such as "
                                                  "https://www.example.com/.")
        else:
            what, todo = why_in_words(detail, config.audit_window_s, config.audit_nav_timeout_s)
        return page("index.html", status=e.status_code, url=url, window=config.audit_window_s,
                    problem={"what": what, "todo": todo, "detail": detail})

    async def audit_or_404(audit_id: str) -> Audit:
        audit = await run_in_threadpool(store.get_audit, audit_id)
        if audit is None:
            raise HTTPException(404, f"no audit with id {audit_id}")
        return audit

    def result_context(audit: Audit) -> dict:
        report = audit.report
        finished = audit.status in (AuditStatus.done, AuditStatus.failed)
        context: dict = {"audit": audit, "report": report, "finished": finished}
        if not finished:
            return context
        if report is not None and report.verdict is not VerdictLabel.error:
            headline, culprit = verdict_words(report, config.audit_window_s)
            context.update(headline=headline, culprit=culprit)
        else:
            why = audit.error or (report.error if report else None) or "no report"
            what, todo = why_in_words(why, config.audit_window_s, config.audit_nav_timeout_s)
            context.update(problem={"what": what, "todo": todo, "detail": why})
        host = _host_of(audit.url)
        context["site"] = host
        return context

    @app.get("/audits/{audit_id}", response_class=HTMLResponse, include_in_schema=False)
    async def audit_page(audit_id: str = PathParam(pattern=AUDIT_ID)) -> HTMLResponse:
        audit = await audit_or_404(audit_id)
        return page("audit.html", window=config.audit_window_s, **result_context(audit))

    @app.get("/audits/{audit_id}/result", response_class=HTMLResponse, include_in_schema=False)
    async def audit_result(audit_id: str = PathParam(pattern=AUDIT_ID)) -> HTMLResponse:
        """The verdict part of the audit page, which its script puts in place when done."""
        audit = await audit_or_404(audit_id)
        html = ENV.get_template("_result.html").render(**result_context(audit))
        return HTMLResponse(html)

    @app.get("/sites/{host}", response_class=HTMLResponse, include_in_schema=False)
    async def site_page(request: Request,
                        host: str = PathParam(pattern=HOST_PATTERN)) -> HTMLResponse:
        hooks.limit("lookups", request)
        try:
            origin, domain, _, _ = split_target(f"https://{host}/")
        except TargetRefused as e:
            raise HTTPException(404, f"not a site name: {e}") from None
        shared = await hooks.lookup(f"https://{host}/", origin, domain)
        verdict = VerdictLookup.model_validate_json(shared.body)
        audits = await run_in_threadpool(store.site_audits, domain)
        monitors = await run_in_threadpool(lambda: store.monitor_rows(domain=domain))
        return page("site.html", host=host, domain=domain, shared=verdict, audits=audits,
                    monitors=[monitor_of(m) for m in monitors])


def _host_of(url: str) -> str | None:
    try:
        return split_target(url)[2]
    except TargetRefused:
        return None
