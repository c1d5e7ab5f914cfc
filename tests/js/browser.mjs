// Drives the workshop client in real headless Chromium (Debian's `chromium`, through
// playwright-core) against a running Parcours server:
//
//   node browser.mjs <http base URL> <board id> <screenshot dir> [scenario…]
//
// Scenarios (all by default): `collaboration` (two participants see each other's notes, moves,
// votes, cursors and editing; a late joiner sees everything; an offline participant's edits
// merge when it comes back) and `workshop` (voting rounds with a budget and results, timer,
// comments, reactions, emotion curve, metrics, stages and lanes, undo, follow the facilitator,
// private brainstorm, French).
//
// Every step waits for a condition (never a fixed sleep); a failed step throws, the script exits 1
// with the step's name, and the Rust test shows stderr. The final line on stdout is a JSON summary.

import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

const [base, boardId, shots, ...wanted] = process.argv.slice(2)
if (!base || !boardId || !shots) {
  console.error('usage: node browser.mjs <http base URL> <board id> <screenshot dir> [scenario…]')
  process.exit(2)
}
mkdirSync(shots, { recursive: true })
const STEP_TIMEOUT = 15000
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

// playwright's launch() gives the browser a fresh temporary user-data-dir of its own and removes
// it on close, so no run sees another's storage.
const chromiumBrowser = await chromium.launch({
  executablePath: process.env.PARCOURS_CHROMIUM ?? '/usr/bin/chromium',
  args: ARGS,
  headless: true
})

let current = 'start'
const summary = { steps: [] }
async function step (name, fn) {
  current = name
  const started = Date.now()
  await fn()
  summary.steps.push({ name, ms: Date.now() - started })
}

/** A participant: its own browser context (own storage, own network), one page on the board. */
async function enter (name, { lang = 'en-GB', viewport = { width: 1400, height: 900 } } = {}) {
  const context = await chromiumBrowser.newContext({ locale: lang, viewport })
  const page = await context.newPage()
  page.setDefaultTimeout(STEP_TIMEOUT)
  page.on('pageerror', (error) => console.error(`[${name}] page error: ${error.message}`))
  await page.goto(`${base}/b/${encodeURIComponent(boardId)}`)
  // Asked once, then remembered.
  await page.locator('dialog input[name=name]').fill(name)
  await page.locator('dialog button[type=submit]').click()
  await page.locator('#conn[data-state=connected]').waitFor()
  return { name, context, page }
}

/** Stage and lane ids in display order, read from the page's model. */
async function layout (page) {
  return page.evaluate(() => ({
    stages: window.parcours.board.stageList().map((s) => s.id),
    lanes: window.parcours.board.laneList().map((l) => l.id)
  }))
}

const cell = (page, stage, lane) => page.locator(`.cell[data-stage="${stage}"][data-lane="${lane}"]`)
const note = (page, text) => page.locator('.note', { hasText: text })

async function addNote (page, stage, lane, text) {
  await cell(page, stage, lane).locator('.add-note').click()
  await page.locator('.note-editor').waitFor()
  await page.keyboard.type(text)
  await page.keyboard.press('Enter')
  await note(page, text).locator('.note-text', { hasText: text }).waitFor()
}

async function shot (page, file) {
  await page.screenshot({ path: join(shots, file) })
}

/** The notes a page shows: text → { stage, lane, votes }. */
async function shown (page) {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll('.note')].map((el) => [
    el.querySelector('.note-text').textContent,
    { stage: el.dataset.stage, lane: el.dataset.lane, votes: Number(el.querySelector('.vote-count').textContent || 0) }
  ])))
}

async function collaboration () {
  const ana = await enter('Ana')
  const bob = await enter('Bob')
  const { stages, lanes } = await layout(ana.page)

  await step('both see each other in the presence list', async () => {
    await ana.page.locator('.presence .avatar[title="Bob"]').waitFor()
    await bob.page.locator('.presence .avatar[title="Ana"]').waitFor()
  })

  await step('a note added by one participant appears for the other', async () => {
    await addNote(ana.page, stages[0], lanes[0], 'Ads feel pushy')
    await cell(bob.page, stages[0], lanes[0]).locator('.note', { hasText: 'Ads feel pushy' }).waitFor()
    await addNote(bob.page, stages[1], lanes[2], 'Where is the price?')
    await cell(ana.page, stages[1], lanes[2]).locator('.note', { hasText: 'Where is the price?' }).waitFor()
  })

  await step('a note moved with the keyboard moves for the other', async () => {
    await note(ana.page, 'Where is the price?').focus()
    await ana.page.keyboard.press('Alt+ArrowLeft')
    await cell(bob.page, stages[0], lanes[2]).locator('.note', { hasText: 'Where is the price?' }).waitFor()
  })

  await step('a note dragged to another cell moves for the other', async () => {
    await note(bob.page, 'Ads feel pushy').dragTo(cell(bob.page, stages[1], lanes[0]))
    await cell(ana.page, stages[1], lanes[0]).locator('.note', { hasText: 'Ads feel pushy' }).waitFor()
  })

  await step('votes from both participants add up on both screens', async () => {
    await note(ana.page, 'Ads feel pushy').locator('.vote-btn').click()
    await note(bob.page, 'Ads feel pushy').focus()
    await bob.page.keyboard.press('v')
    await bob.page.keyboard.press('v')
    for (const p of [ana.page, bob.page]) {
      await note(p, 'Ads feel pushy').locator('.vote-count', { hasText: /^3$/ }).waitFor()
    }
  })

  await step('each sees the other\'s cursor and which note they edit', async () => {
    const box = await cell(ana.page, stages[2], lanes[1]).boundingBox()
    await ana.page.mouse.move(box.x + 20, box.y + 20)
    await ana.page.mouse.move(box.x + 60, box.y + 40, { steps: 4 })
    await bob.page.locator('.cursor', { hasText: 'Ana' }).waitFor()
    await note(ana.page, 'Where is the price?').dblclick()
    await note(bob.page, 'Where is the price?').locator('.editing-badge', { hasText: 'Ana' }).waitFor()
    await ana.page.keyboard.press('End')
    await ana.page.keyboard.type(' Not on the page')
    await ana.page.keyboard.press('Escape')
    await note(bob.page, 'Where is the price? Not on the page').waitFor()
    await note(bob.page, 'Where is the price?').locator('.editing-badge:empty').waitFor({ state: 'attached' })
  })
  await shot(ana.page, 'two-participants.png')

  await step('a participant who joins later sees everything', async () => {
    const cleo = await enter('Cléo')
    await cell(cleo.page, stages[1], lanes[0]).locator('.note', { hasText: 'Ads feel pushy' }).waitFor()
    await cell(cleo.page, stages[0], lanes[2]).locator('.note', { hasText: 'Where is the price? Not on the page' }).waitFor()
    await note(cleo.page, 'Ads feel pushy').locator('.vote-count', { hasText: /^3$/ }).waitFor()
    await cleo.page.locator('.presence .avatar').nth(2).waitFor()
    await cleo.context.close()
  })

  await step('a participant offline keeps working and converges when back', async () => {
    await bob.context.setOffline(true)
    await bob.page.locator('#conn[data-state=disconnected]').waitFor()
    await addNote(bob.page, stages[2], lanes[3], 'Written on the train')
    await note(bob.page, 'Ads feel pushy').focus()
    await bob.page.keyboard.press('Alt+ArrowRight') // to stages[2]
    await addNote(ana.page, stages[3], lanes[3], 'Written at the office')
    // While Bob is offline, neither sees the other's new note.
    await ana.page.evaluate(() => new Promise((resolve) => {
      const p = window.parcours.provider
      if (p.wsconnected && p.synced) resolve()
      else p.once('sync', resolve)
    }))
    if (await note(bob.page, 'Written at the office').count() !== 0) throw new Error('Bob is offline yet sees Ana\'s new note')
    if (await note(ana.page, 'Written on the train').count() !== 0) throw new Error('Ana sees a note made offline')
    await bob.context.setOffline(false)
    await bob.page.locator('#conn[data-state=connected]').waitFor()
    for (const p of [ana.page, bob.page]) {
      await cell(p, stages[2], lanes[3]).locator('.note', { hasText: 'Written on the train' }).waitFor()
      await cell(p, stages[3], lanes[3]).locator('.note', { hasText: 'Written at the office' }).waitFor()
      await cell(p, stages[2], lanes[0]).locator('.note', { hasText: 'Ads feel pushy' }).waitFor()
    }
    const [a, b] = [await shown(ana.page), await shown(bob.page)]
    if (JSON.stringify(a, Object.keys(a).sort()) !== JSON.stringify(b, Object.keys(b).sort())) {
      throw new Error(`the two views differ:\n${JSON.stringify(a)}\n${JSON.stringify(b)}`)
    }
    summary.notes = a
  })
  await shot(ana.page, 'board.png')
  await ana.context.close()
  await bob.context.close()
}

const scenarios = { collaboration }
try {
  for (const name of wanted.length ? wanted : Object.keys(scenarios)) {
    await scenarios[name]()
  }
  console.log(JSON.stringify(summary))
} catch (error) {
  console.error(`step failed: ${current}\n${error.stack ?? error}`)
  process.exitCode = 1
} finally {
  await chromiumBrowser.close()
}
