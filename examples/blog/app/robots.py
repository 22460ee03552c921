def robots(req):
    base = f"{req.protocol}://{req.get('host') or 'localhost'}"
    return {"rules": [{"user_agent": "*", "allow": "/", "disallow": "/api/"}], "sitemap": base + "/sitemap.xml"}
