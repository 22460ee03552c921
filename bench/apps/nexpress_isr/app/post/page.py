"""/post: an ISR page (revalidate = 3600) served from nexpress's cache under load."""

revalidate = 3600
metadata = {"title": "A cached post"}


async def data(req):
    return {
        "post": {
            "title": "A cached post <with markup>",
            "paragraphs": [f"Paragraph {i}: served from the cache, rendered once." for i in range(12)],
        }
    }
