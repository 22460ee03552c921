"""/cached: the post, ISR: every measured request is a cache HIT."""

revalidate = 3600
