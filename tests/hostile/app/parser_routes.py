"""The parser routes both hostile apps expose (tests/hostile/app/server.py for
``make test-hostile``, the quick app tests/hostile/test_hostile.py writes): one route
per parser an attacker reaches first, answering what it parsed."""

from nexpress import App


def add_parser_routes(app: App) -> None:
    """Path parameters, one header, cookies, JSON, forms and raw bodies."""

    @app.get("/echo/:p")
    async def echo(req):
        return {"p": req.params["p"]}

    @app.get("/h")
    async def header(req):
        return {"x": req.get("x-test")}

    @app.get("/c")
    async def cookies(req):
        return dict(req.cookies)

    @app.post("/json")
    async def json_body(req):
        return {"data": await req.json()}

    @app.post("/form")
    async def form(req):
        data = await req.form()
        return {k: (v if isinstance(v, str) else v.filename) for k, v in data.items()}

    @app.post("/body")
    async def body(req):
        return {"n": len(await req.body())}
