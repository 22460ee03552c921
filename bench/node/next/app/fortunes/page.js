// The SSR case of the nexpress benchmark (bench/run.py, see bench/apps/_fortunes.py):
// every row of the SQLite `fortune` table plus one added at request time, sorted by
// message (UTF-16 code-unit order: the same as Python's code-point order for these
// strings), rendered as a table. React escapes text.
import path from "node:path";
import Database from "better-sqlite3";

export const dynamic = "force-dynamic";
export const metadata = { title: "Fortunes" };

// One connection per process, opened on the first request (not at import: `next build`
// loads this module, and the database only exists while the benchmark runs).
let statement;

function query() {
  if (!statement) {
    const file =
      process.env.BENCH_FORTUNES_DB || path.join(process.cwd(), "..", "..", "results", "fortunes.db");
    statement = new Database(file, { fileMustExist: true }).prepare(
      "SELECT id, message FROM fortune",
    );
  }
  const rows = statement.all();
  rows.push({ id: 0, message: "Additional fortune added at request time." });
  rows.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  return rows;
}

export default function Fortunes() {
  const fortunes = query();
  return (
    <table>
      <tr>
        <th>id</th>
        <th>message</th>
      </tr>
      {fortunes.map((f) => (
        <tr key={f.id}>
          <td>{f.id}</td>
          <td>{f.message}</td>
        </tr>
      ))}
    </table>
  );
}
