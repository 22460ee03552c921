from db import list_posts


async def sitemap(req):
    base = f"{req.protocol}://{req.get('host') or 'localhost'}"
    posts = await list_posts()
    return [{"url": base + "/", "priority": 1.0}, {"url": base + "/blog"}] + [
        {"url": f"{base}/blog/{post['slug']}", "lastmod": post["created"][:10]} for post in posts
    ]
