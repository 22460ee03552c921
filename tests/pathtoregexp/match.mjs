// path-to-regexp 8.4.2 (Express 5's matcher) answering a batch of patterns and
// paths for tests/test_pattern.py's differential test: one process per batch.
//
// stdin:  [{"pattern": "/users/:id", "paths": ["/users/42", ...]}, ...]
// stdout: [{"error": "..."} | {"results": [false | {"params": {...}} | {"error": "..."}]}, ...]
//
// Options as nexpress matches: case-sensitive, a single trailing slash allowed
// (nexpress redirects "/x/" to "/x", then matches).
import { match } from "path-to-regexp";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const { pattern, paths } of JSON.parse(input)) {
  let matcher;
  try {
    matcher = match(pattern, { sensitive: true, trailing: true });
  } catch (error) {
    out.push({ error: String(error.message) });
    continue;
  }
  const results = paths.map((path) => {
    try {
      const found = matcher(path);
      return found ? { params: { ...found.params } } : false;
    } catch (error) {
      return { error: String(error.message) };
    }
  });
  out.push({ results });
}
process.stdout.write(JSON.stringify(out));
