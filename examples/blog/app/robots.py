from links import site_url


def robots(req):
    base = site_url(req)
    return {"rules": [{"user_agent": "*", "allow": "/", "disallow": "/api/"}], "sitemap": base + "/sitemap.xml"}
