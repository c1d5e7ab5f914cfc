// Builds the browser client into dist/ (committed, embedded in the server binary) and records a
// hash of its sources in dist/SOURCE_HASH, which a Rust test compares with web/src and the
// lockfile so that a change to the sources without a rebuild fails the tests.
//
//   npm run build     bundle and write dist/
//   npm run check     only compare the recorded hash with the sources (exit 1 if stale)

import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('.', import.meta.url))
const src = join(root, 'src')
const dist = join(root, 'dist')

function listFiles (dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? listFiles(path) : [path]
  })
}

// The hash the Rust test recomputes (server/src/http/web.rs): SHA-256 over every file of src/ and
// package-lock.json, in byte order of their '/'-separated paths relative to web/, each as
// "<path>\n<length>\n<bytes>".
export function sourceHash () {
  const files = [...listFiles(src), join(root, 'package-lock.json')]
    .map((path) => ({ path, rel: relative(root, path).split(sep).join('/') }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)))
  const hash = createHash('sha256')
  for (const { path, rel } of files) {
    const bytes = readFileSync(path)
    hash.update(`${rel}\n${bytes.length}\n`)
    hash.update(bytes)
  }
  return hash.digest('hex')
}

const hash = sourceHash()

if (process.argv.includes('--check')) {
  const recorded = readFileSync(join(dist, 'SOURCE_HASH'), 'utf8').trim()
  if (recorded !== hash) {
    console.error(`web/dist is stale (recorded ${recorded}, sources ${hash}): run npm run build`)
    process.exit(1)
  }
  console.log('web/dist matches its sources')
  process.exit(0)
}

const esbuild = await import('esbuild')
rmSync(dist, { recursive: true, force: true })
mkdirSync(dist, { recursive: true })
await esbuild.build({
  entryPoints: { app: join(src, 'main.js') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  outdir: dist,
  legalComments: 'none',
  logLevel: 'warning'
})
await esbuild.build({
  entryPoints: { app: join(src, 'style.css') },
  bundle: true,
  minify: true,
  outdir: dist,
  logLevel: 'warning'
})
// The page names its assets with a short hash so that they can be cached for good.
const short = hash.slice(0, 12)
const html = readFileSync(join(src, 'index.html'), 'utf8').replaceAll('{{VERSION}}', short)
writeFileSync(join(dist, 'index.html'), html)
writeFileSync(join(dist, 'SOURCE_HASH'), hash + '\n')
console.log(`web/dist built from sources ${short}`)
