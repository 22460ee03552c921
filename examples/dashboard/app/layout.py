"""The root layout's metadata: the course's title template and description."""

metadata = {
    "title": "Acme Dashboard",
    "title_template": "%s | Acme Dashboard",
    "description": "The official Next.js Learn Dashboard built with App Router, ported to nexpress.",
}
