metadata = {
    "title": "nexpress blog",
    "title_template": "%s | nexpress blog",
    "description": "A blog built with nexpress: Express routes and Next.js-style file routes.",
    "open_graph": {"site_name": "nexpress blog"},
}
