"""nexpress behind the middleware a production API usually has (the "stack" case):
``security_headers()`` (helmet), ``cors()`` and ``compress()`` in front of the same
routes as ``nexpress_app``, plus ``/items``, a 2 KB JSON list, measured with
``Accept-Encoding: gzip, br`` and an allowed ``Origin`` so every battery does its work
(headers set, origin checked, body compressed with brotli)."""

from nexpress_app import app

from nexpress.middleware import compress, cors, security_headers

ORIGIN = "https://app.example"
ITEMS = [{"id": i, "title": f"Item number {i}", "tags": ["bench", "json"], "price": i * 1.25} for i in range(24)]

app.use(security_headers())
app.use(cors(origins=[ORIGIN]))
app.use(compress())


@app.get("/items")
async def items(req):
    return ITEMS
