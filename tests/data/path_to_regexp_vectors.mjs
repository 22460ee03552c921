// Regenerates path_to_regexp_vectors.json: the match cases of path-to-regexp 8
// (src/cases.spec.ts of github.com/pillarjs/path-to-regexp, MIT licence), answered by
// the real library with nexpress's matching rules: case-sensitive, and a single
// trailing slash allowed (nexpress redirects "/x/" to "/x", then matches).
//
//   npm install path-to-regexp@8.4.2
//   node path_to_regexp_vectors.mjs path/to/cases.spec.ts > path_to_regexp_vectors.json
import { readFileSync } from "node:fs";
import { match, TokenData } from "path-to-regexp";

const source = readFileSync(process.argv[2], "utf8");
const body = source.slice(source.indexOf("export const MATCH_TESTS"));
const js = body.replace(/export const MATCH_TESTS: MatchTestSet\[\] =/, "return");
const sets = new Function("TokenData", js)(TokenData);
const out = [];
for (const set of sets) {
  if (typeof set.path !== "string") continue; // arrays of paths and TokenData: not Express route strings
  const extra = Object.keys(set.options || {}).filter((k) => !["sensitive", "trailing"].includes(k));
  if (extra.length) continue; // decode/delimiter/end options: not how Express uses the library
  let matcher;
  try {
    matcher = match(set.path, { sensitive: true, trailing: true });
  } catch (error) {
    out.push({ path: set.path, error: String(error.message) });
    continue;
  }
  const tests = [];
  for (const { input } of set.tests) {
    let result;
    try {
      result = matcher(input);
    } catch (error) {
      result = { error: String(error.message) };
    }
    tests.push({ input, expected: result ? (result.error ? result : { params: result.params }) : false });
  }
  out.push({ path: set.path, tests });
}
const seen = new Set();
const unique = out.filter((s) => {
  const key = JSON.stringify(s);
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
});
console.log(JSON.stringify({ source: "path-to-regexp 8.4.2 src/cases.spec.ts (MIT)", options: { sensitive: true, trailing: true }, sets: unique }, null, 1));
