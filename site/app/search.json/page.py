"""/search.json: the full-text search index (every section of every page), built
with the pages by nexpress build and written as a file by nexpress export;
app/layout.js searches it in the browser, with no service behind it."""

from docs_content import load_site

from nexpress import Request, Response

static = True


def page(req: Request) -> Response:
    return Response(load_site().search_index())  # a list: sent as JSON
