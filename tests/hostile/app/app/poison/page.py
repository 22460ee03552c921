revalidate = 60


def visitor(r):
    # read through a helper: start-up refuses direct per-visitor reads in data() of a
    # cached page; this checks the second line of defence, the bare request of renders
    return {"host": r.get("host"), "forwarded": r.get("x-forwarded-host"), "hostname": r.hostname, "url": r.original_url}


async def data(req):
    return visitor(req)
