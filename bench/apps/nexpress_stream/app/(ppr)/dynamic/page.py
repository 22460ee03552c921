"""/dynamic: the same page rendered per request, its hole in place."""

dynamic = True
