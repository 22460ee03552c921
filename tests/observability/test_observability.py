"""nexpress.observability: OpenTelemetry server spans (checked with the SDK's
in-memory exporter) and Prometheus metrics (checked by scraping /metrics)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from helpers import client_for
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from nexpress import App, HTTPError
from nexpress.observability import metrics, tracing
from nexpress.observability.tracing import source_file, span_name

PARENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def traced_app(tmp_path: Path, exporter: InMemorySpanExporter, **options) -> App:
    route_file = tmp_path / "app" / "api" / "items" / "[id]" / "route.py"
    route_file.parent.mkdir(parents=True)
    route_file.write_text("async def GET(req):\n    return {'id': req.params['id']}\n")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = App(root=tmp_path, public=None)
    app.use(tracing(tracer_provider=provider, **options))

    @app.get("/blog/:slug")
    async def show_post(req):
        headers: dict[str, str] = {}
        propagate.inject(headers)  # what an outgoing call made here would carry
        return {"slug": req.params["slug"], "outgoing": headers.get("traceparent")}

    @app.get("/boom")
    async def boom(req):
        raise RuntimeError("kaboom")

    @app.get("/teapot")
    async def teapot(req):
        raise HTTPError(418, "short and stout")

    return app


def only_span(exporter: InMemorySpanExporter):
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, spans
    exporter.clear()
    return spans[0]


def test_a_server_span_per_request_named_by_the_route_pattern(tmp_path: Path, exporter) -> None:
    client = client_for(traced_app(tmp_path, exporter))
    assert client.get("/blog/hello?x=1", headers={"user-agent": "probe/1"}).status_code == 200
    span = only_span(exporter)
    assert span.name == "GET /blog/:slug"
    assert span.kind == SpanKind.SERVER
    attributes = dict(span.attributes)
    assert attributes["http.route"] == "/blog/:slug"
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == "/blog/hello" and attributes["url.query"] == "x=1"
    assert attributes["user_agent.original"] == "probe/1"
    source = attributes["nexpress.route.source"]  # relative to the app root (here a temp folder)
    assert source.startswith(__file__ + ":") and source.endswith(" traced_app.<locals>.show_post")
    assert attributes["code.file.path"] == __file__
    assert span.status.status_code == StatusCode.UNSET


def test_a_file_route_span_names_its_source_file(tmp_path: Path, exporter) -> None:
    client = client_for(traced_app(tmp_path, exporter))
    assert client.get("/api/items/7").json() == {"id": "7"}
    span = only_span(exporter)
    assert span.name == "GET /api/items/:id"
    assert span.attributes["code.file.path"] == "app/api/items/[id]/route.py"
    assert span.attributes["nexpress.route.kind"] == "api"


def test_traceparent_in_makes_a_child_span_and_flows_out(tmp_path: Path, exporter) -> None:
    client = client_for(traced_app(tmp_path, exporter))
    reply = client.get("/blog/hello", headers={"traceparent": TRACEPARENT})
    span = only_span(exporter)
    assert format(span.context.trace_id, "032x") == PARENT_TRACE
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_SPAN
    assert span.parent.is_remote
    outgoing = reply.json()["outgoing"]  # injected inside the handler: same trace, this span as parent
    assert outgoing == f"00-{PARENT_TRACE}-{span.context.span_id:016x}-01"


@pytest.mark.parametrize(
    "value",
    ["garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "ff-" + PARENT_TRACE + "-" + PARENT_SPAN + "-01", "00-\xff\xfe", "x" * 10_000],
)
def test_a_bad_traceparent_starts_a_new_trace(tmp_path: Path, exporter, value: str) -> None:
    client = client_for(traced_app(tmp_path, exporter))
    reply = client.get("/blog/hello", headers={"traceparent": value.encode("latin-1")})
    assert reply.status_code == 200
    span = only_span(exporter)
    assert span.parent is None
    assert format(span.context.trace_id, "032x") != PARENT_TRACE


def test_errors_mark_the_span(tmp_path: Path, exporter) -> None:
    client = client_for(traced_app(tmp_path, exporter))
    assert client.get("/boom").status_code == 500
    span = only_span(exporter)
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "RuntimeError"
    assert [event.name for event in span.events] == ["exception"]
    assert client.get("/teapot").status_code == 418
    teapot = only_span(exporter)
    assert teapot.status.status_code == StatusCode.UNSET  # a 4xx is the client's doing
    assert teapot.attributes["http.response.status_code"] == 418


def test_unmatched_requests_are_named_by_method_only(tmp_path: Path, exporter) -> None:
    client = client_for(traced_app(tmp_path, exporter))
    for path in ("/nope/1", "/nope/2", "/wp-admin.php"):
        assert client.get(path).status_code == 404
    spans = exporter.get_finished_spans()
    assert {span.name for span in spans} == {"GET"}
    assert all("http.route" not in span.attributes for span in spans)


def test_traceresponse_header_on_request(tmp_path: Path, exporter) -> None:
    client = client_for(traced_app(tmp_path, exporter, response_header=True))
    reply = client.get("/blog/x", headers={"traceparent": TRACEPARENT})
    span = only_span(exporter)
    assert reply.headers["traceresponse"] == f"00-{PARENT_TRACE}-{span.context.span_id:016x}-01"
    plain = client_for(traced_app(tmp_path / "other", exporter))
    assert "traceresponse" not in plain.get("/blog/x").headers


def test_the_global_tracer_provider_is_the_default(tmp_path: Path) -> None:
    app = App(root=tmp_path, pages=None, public=None)
    app.use(tracing())

    @app.get("/")
    async def home(req):
        return {"recording": trace.get_current_span().is_recording()}

    # no SDK provider installed globally: spans are no-ops, requests still work
    assert client_for(app).get("/").json() == {"recording": False}


def test_span_names_and_source_files() -> None:
    assert span_name("GET", "/blog/:slug") == "GET /blog/:slug"
    assert span_name("POST", None) == "POST"
    assert source_file("server.py:12 show_user") == "server.py"
    assert source_file("app/blog/[slug]/page.py") == "app/blog/[slug]/page.py"
    assert source_file("C:thing") == "C:thing"


# --- metrics -------------------------------------------------------------------------------------


def scrape(client) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}`` from /metrics."""
    reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


PAGE_PY = """\
import os

COUNT = [0]
revalidate = 60


async def data(req):
    if os.path.exists(os.path.join(os.path.dirname(__file__), "FAIL")):
        raise RuntimeError("database down")
    COUNT[0] += 1
    return {"n": COUNT[0]}
"""


def metered_app(tmp_path: Path, **options) -> App:
    pages = {
        "app/p/page.html": "<p>render {{ n }}</p>",
        "app/p/page.py": PAGE_PY,
    }
    for name, text in pages.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    app = App(root=tmp_path, public=None)
    app.use(metrics(**options))

    @app.get("/users/:id")
    async def user(req):
        if req.params["id"] == "0":
            raise HTTPError(404, "no user 0")
        return {"id": req.params["id"]}

    return app


def test_requests_are_counted_and_timed_by_route_pattern_and_status(tmp_path: Path) -> None:
    with client_for(metered_app(tmp_path)) as client:
        for user in ("1", "2", "3", "0"):
            client.get(f"/users/{user}")
        client.post("/users/1")  # 405
        samples = scrape(client)
    ok = (("method", "GET"), ("route", "/users/:id"), ("status", "200"))
    missing = (("method", "GET"), ("route", "/users/:id"), ("status", "404"))
    assert samples[("nexpress_http_requests_total", ok)] == 3
    assert samples[("nexpress_http_requests_total", missing)] == 1
    assert samples[("nexpress_http_request_duration_seconds_count", ok)] == 3
    assert samples[("nexpress_http_request_duration_seconds_sum", ok)] > 0
    assert samples[("nexpress_http_request_duration_seconds_bucket", tuple(sorted((*ok, ("le", "+Inf")))))] == 3
    not_allowed = (("method", "POST"), ("route", "(unmatched)"), ("status", "405"))
    assert samples[("nexpress_http_requests_total", not_allowed)] == 1
    assert samples[("nexpress_http_requests_in_flight", ())] == 1  # the scrape itself


def test_unmatched_paths_and_odd_methods_share_one_series(tmp_path: Path) -> None:
    with client_for(metered_app(tmp_path)) as client:
        for i in range(50):
            client.get(f"/scan/{i}/wp-login.php")
        client.request("PURGE", "/anything")
        reply = client.get("/metrics").text
    assert "/scan/" not in reply and "wp-login" not in reply
    samples = scrape(client_for(metered_app(tmp_path / "again")))
    assert all("/scan" not in str(key) for key in samples)
    assert 'nexpress_http_requests_total{method="GET",route="(unmatched)",status="404"} 50.0' in reply
    assert 'method="OTHER",route="(unmatched)"' in reply


def test_cache_states_and_isr_regenerations_are_counted(tmp_path: Path) -> None:
    app = metered_app(tmp_path)
    with client_for(app) as client:
        assert client.get("/p").headers["x-nexpress-cache"] == "MISS"
        assert client.get("/p").headers["x-nexpress-cache"] == "HIT"
        app.cache.store.get_now("page:/p").created -= 120  # stale: served old, regenerated once
        assert client.get("/p").headers["x-nexpress-cache"] == "STALE"
        client.run_async(app.cache.drain)
        assert "render 2" in client.get("/p").text
        samples = scrape(client)
    for state, count in (("MISS", 1), ("HIT", 2), ("STALE", 1)):
        assert samples[("nexpress_cache_responses_total", (("route", "/p"), ("state", state)))] == count
    assert samples[("nexpress_isr_regenerations_total", (("outcome", "regenerated"),))] == 1


def test_a_failed_regeneration_is_counted(tmp_path: Path) -> None:
    app = metered_app(tmp_path)
    with client_for(app) as client:
        client.get("/p")
        (tmp_path / "app/p/FAIL").write_text("")  # the next render raises
        app.cache.store.get_now("page:/p").created -= 120
        assert client.get("/p").headers["x-nexpress-cache"] == "STALE"
        client.run_async(app.cache.drain)
        samples = scrape(client)
    assert samples[("nexpress_isr_regenerations_total", (("outcome", "regeneration_failed"),))] == 1


def test_metrics_path_prefix_and_registry_options(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    app = App(root=tmp_path, pages=None, public=None)
    battery = metrics(path=None, registry=registry, namespace="blog")
    app.use(battery)

    @app.get("/")
    async def home(req):
        return "hi"

    client = client_for(app)
    client.get("/")
    assert client.get("/metrics").status_code == 404  # path=None: not served
    text = generate_latest(registry).decode()
    assert 'blog_http_requests_total{method="GET",route="/",status="200"} 1.0' in text
    assert battery.exposition() == generate_latest(registry)
    with pytest.raises(ValueError, match="path"):
        metrics(path="metrics")


def test_two_apps_in_one_process_do_not_clash(tmp_path: Path) -> None:
    first, second = metered_app(tmp_path / "a"), metered_app(tmp_path / "b")
    client_for(first).get("/users/1")
    assert 'route="/users/:id"' not in client_for(second).get("/metrics").text


METRICS_SERVER = """\
import os

from nexpress import App
from nexpress.observability import metrics

app = App(pages=None, public=None)
app.use(metrics())


@app.get("/pid")
async def pid(req):
    return {"pid": os.getpid()}
"""


def test_metrics_add_up_every_worker_in_multiprocess_mode(tmp_path: Path) -> None:
    from conftest import start_server

    (tmp_path / "server.py").write_text(METRICS_SERVER)
    (tmp_path / "prom").mkdir()
    server = start_server(tmp_path, None, "--workers", "2", env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")})
    try:
        pids = set()
        for _ in range(30):  # new connections: spread over both workers
            pids.add(httpx.get(server.url + "/pid", timeout=10).json()["pid"])
        assert len(pids) == 2, "expected both workers to answer"
        for _ in range(3):  # whichever worker answers the scrape, it counts them all
            text = httpx.get(server.url + "/metrics", timeout=10).text
            assert 'nexpress_http_requests_total{method="GET",route="/pid",status="200"} 30.0' in text
    finally:
        server.stop()
