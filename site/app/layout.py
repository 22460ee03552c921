metadata = {"title_template": "%s · nexpress docs", "description": "Documentation of nexpress, a Python web framework"}
