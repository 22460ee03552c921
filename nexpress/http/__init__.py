"""The HTTP protocol layer: requests, responses, headers, cookies, the ASGI writer.

It imports nothing else of nexpress (tests/test_architecture.py)."""
