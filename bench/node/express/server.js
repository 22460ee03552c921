// Express 5 app for the nexpress benchmark (bench/run.py).
// Run: NODE_ENV=production PORT=3000 HOST=127.0.0.1 [BENCH_ROUTES=1000] node server.js
// Express defaults are kept as they ship (ETag, X-Powered-By); NODE_ENV=production.
"use strict";

const express = require("express");

const app = express();

// BENCH_ROUTES=1000 adds /r0/:id/x .. /r999/:id/x and /s0 .. /s999 (bench/apps/_routes.py).
const extraCount = Number(process.env.BENCH_ROUTES) > 1 ? Number(process.env.BENCH_ROUTES) : 0;
if (extraCount > 0) {
  // Registered first: Express matches routes in registration order, so these sit
  // in front of the measured route, as they do for every app in the benchmark.
  const extra = (req, res) => {
    res.type("text/plain").send("ok");
  };
  for (let i = 0; i < extraCount; i++) app.get(`/r${i}/:id/x`, extra);
  for (let i = 0; i < extraCount; i++) app.get(`/s${i}`, extra);
}

app.get("/plaintext", (req, res) => {
  res.type("text/plain").send("Hello, World!");
});

// the Express-idiom case: exactly /plaintext's code (it is the idiom)
app.get("/express", (req, res) => {
  res.type("text/plain").send("Hello, World!");
});

app.get("/json", (req, res) => {
  res.json({ message: "Hello, World!" });
});

app.get("/users/:id", (req, res) => {
  res.json({ id: req.params.id });
});

const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || "127.0.0.1";
app.listen(port, host, (err) => {
  if (err) throw err;
  console.log(`express listening on http://${host}:${port}`);
});

