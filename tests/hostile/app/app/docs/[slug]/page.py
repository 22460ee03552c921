revalidate = 60


async def data(req):
    return {"slug": req.params["slug"]}
