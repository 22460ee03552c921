"""/ppr: the post, ISR, in a layout with one per-visitor hole: the shell is a HIT."""

revalidate = 3600
