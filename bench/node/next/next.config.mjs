// Next.js config for the nexpress benchmark (bench/run.py). Defaults otherwise.
// BENCH_ROUTES=1000 builds into its own dist dir (.next-1000) so both route sets can
// stay built side by side; bench/run.py generates app/(bench1000)/ (1000 x
// /rN/[id]/x + 1000 x /sN) only while it builds that variant.
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const extra = Number(process.env.BENCH_ROUTES) > 1 ? Number(process.env.BENCH_ROUTES) : 0;

/** @type {import('next').NextConfig} */
const nextConfig = {
  distDir: extra ? `.next-${extra}` : ".next",
  outputFileTracingRoot: here,
  turbopack: { root: here },
};

export default nextConfig;
