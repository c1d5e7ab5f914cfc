// Drives the workshop client in real headless Chromium (Debian's `chromium`, through
// playwright-core) against a running Parcours server:
//
//   node browser.mjs <http base URL> <board id> <screenshot dir> [scenario…]
//
// Scenarios (all by default): `home` (the board list creates a board from a template),
// `collaboration` (two participants see each other's notes, moves,
// votes, cursors and editing; a late joiner sees everything; an offline participant's edits
// merge when it comes back) and `workshop` (voting rounds with a budget and results, timer,
// comments, reactions, emotion curve, metrics, stages and lanes, undo, follow the facilitator,
// private brainstorm, French) and `history` (the history panel: timeline and its pages, milestones,
// a past version read-only with its differences, fork, restore, and what each role is offered).
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
async function enter (name, { lang = 'en-GB', viewport = { width: 1400, height: 900 }, token } = {}) {
  const context = await chromiumBrowser.newContext({ locale: lang, viewport })
  const page = await context.newPage()
  page.setDefaultTimeout(STEP_TIMEOUT)
  page.on('pageerror', (error) => console.error(`[${name}] page error: ${error.message}`))
  page.on('dialog', (dialog) => dialog.accept()) // confirm() before deleting
  const query = token ? `?token=${encodeURIComponent(token)}` : ''
  await page.goto(`${base}/b/${encodeURIComponent(boardId)}${query}`)
  // Without a token naming the participant, the name is asked once, then remembered.
  if (!token) {
    await page.locator('dialog input[name=name]').fill(name)
    await page.locator('dialog button[type=submit]').click()
  }
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

/** Waits until `fn` (run in the page) returns something truthy. */
async function until (page, fn, arg) {
  await page.waitForFunction(fn, arg, { timeout: STEP_TIMEOUT })
}

async function workshop () {
  const tokens = JSON.parse(process.env.PARCOURS_BROWSER_TOKENS ?? '{}')
  const fay = await enter('Fay', { token: tokens.facilitator })
  const pat = await enter('Pat', { token: tokens.participant })
  const { stages, lanes } = await layout(fay.page)

  await step('roles come from the token: the participant sees no facilitator controls', async () => {
    await pat.page.locator('.role', { hasText: 'participant' }).waitFor()
    if (await pat.page.locator('.stage-head .tools').count() !== 0) throw new Error('stage tools shown to a participant')
    await fay.page.locator('summary', { hasText: 'Workshop' }).waitFor()
  })

  await step('the facilitator scores emotions and both see the emotion curve', async () => {
    const scores = [1, -1, -2, 0, 1, 2]
    for (const [i, score] of scores.entries()) {
      await fay.page.locator(`.stage-head[data-stage="${stages[i]}"] .emotion select`).selectOption(String(score))
    }
    await until(pat.page, (n) => document.querySelectorAll('.curve circle').length === n, scores.length)
    await until(pat.page, () => document.querySelector('.curve polyline')?.getAttribute('points').split(' ').length === 6)
  })

  await step('the facilitator enters a metric, edits a stage and adds a persona', async () => {
    await fay.page.locator(`.stage-head[data-stage="${stages[0]}"] .metric`).first().click()
    await fay.page.locator('dialog input[name=value]').fill('1250')
    await fay.page.locator('dialog button[type=submit]').click()
    await pat.page.locator(`.stage-head[data-stage="${stages[0]}"] .metric`, { hasText: '1250' }).waitFor()
    await fay.page.locator(`.stage-head[data-stage="${stages[1]}"] button[aria-label^="Edit"]`).click()
    await fay.page.locator('dialog input[name=name]').fill('Research')
    await fay.page.locator('dialog button[type=submit]').click()
    await pat.page.locator(`.stage-head[data-stage="${stages[1]}"] h2`, { hasText: 'Research' }).waitFor()
    await fay.page.locator('.personas button[aria-label="Add persona"]').click()
    await fay.page.locator('dialog input[name=name]').fill('Nadia, first-time buyer')
    await fay.page.locator('dialog input[name=occupation]').fill('Nurse, works night shifts')
    await fay.page.locator('dialog textarea[name=goals]').fill('Set up her account in one go')
    await fay.page.locator('dialog textarea[name=frustrations]').fill('Forms that forget what she typed')
    await fay.page.locator('dialog button[type=submit]').click()
    await pat.page.locator('.persona h3', { hasText: 'Nadia' }).waitFor()
    await fay.page.locator(`.lane-head[data-lane="${lanes[3]}"] button[aria-label^="Edit"]`).click()
    await fay.page.locator('dialog textarea[name=question]').fill('What stops them? Is the price clear?')
    await fay.page.locator('dialog button[type=submit]').click()
    await pat.page.locator(`.lane-head[data-lane="${lanes[3]}"] .question`, { hasText: 'Is the price clear?' }).waitFor()
  })

  await step('a change the role may not make is refused by the server and shown as a toast', async () => {
    await pat.page.evaluate((stage) => window.parcours.board.setEmotion(stage, -2), stages[5])
    await pat.page.locator('.toast-error', { hasText: 'Not allowed' }).waitFor()
    // The server writes its value back: the participant's view returns to +2.
    await until(pat.page, (stage) => window.parcours.board.stages.get(stage).get('emotion') === 2, stages[5])
  })

  await addNote(fay.page, stages[0], lanes[3], 'Pop-up hides the offer')
  await addNote(pat.page, stages[2], lanes[3], 'Shipping cost shown late')
  await addNote(pat.page, stages[2], lanes[5], 'No live chat at checkout')
  await note(fay.page, 'No live chat at checkout').waitFor()

  await step('a participant recolours a note for everyone', async () => {
    await note(pat.page, 'No live chat at checkout').click()
    await pat.page.locator('.details .swatch[aria-label="Colour #a0e7a0"]').click()
    await until(fay.page, () => [...document.querySelectorAll('.note')].some((el) =>
      el.textContent.includes('No live chat') && el.style.getPropertyValue('--note') === '#a0e7a0'))
    await pat.page.locator('.details button[aria-label="Close"]').click()
  })

  await step('a participant may not delete someone else\'s note', async () => {
    await note(pat.page, 'Pop-up hides the offer').focus()
    await pat.page.keyboard.press('Delete')
    await pat.page.locator('.toast-error', { hasText: 'only its author' }).waitFor()
    await note(pat.page, 'Pop-up hides the offer').waitFor()
  })

  await step('a viewer reads the board; the server refuses the edits it tries', async () => {
    const vic = await enter('Vic', { token: tokens.viewer })
    await vic.page.locator('.role', { hasText: 'Read only' }).waitFor()
    await note(vic.page, 'Pop-up hides the offer').waitFor()
    if (await vic.page.locator('.add-note').count() !== 0) throw new Error('a viewer is offered to add notes')
    await note(vic.page, 'Pop-up hides the offer').focus()
    await vic.page.keyboard.press('v')
    await vic.page.locator('.toast-error', { hasText: 'Not allowed' }).waitFor()
    // The refused dot is taken back from the viewer's own view, and nobody else ever saw it.
    await note(vic.page, 'Pop-up hides the offer').locator('.vote-count:empty').waitFor({ state: 'attached' })
    await vic.context.close()
  })

  await step('a voting round limits each participant to their dots and shows results by votes', async () => {
    await fay.page.locator('summary', { hasText: 'Workshop' }).click()
    await fay.page.locator('input[name=dots]').fill('2')
    await fay.page.locator('button', { hasText: 'Open a new round' }).click()
    await pat.page.locator('.voting-status', { hasText: '2 of 2 dots left' }).waitFor()
    const vote = note(pat.page, 'Shipping cost shown late').locator('.vote-btn')
    await vote.click()
    await pat.page.locator('.voting-status', { hasText: '1 of 2' }).waitFor()
    await vote.click()
    await pat.page.locator('.voting-status', { hasText: '0 of 2' }).waitFor()
    await note(pat.page, 'No live chat at checkout').locator('.vote-btn').click()
    await pat.page.locator('.toast', { hasText: '0 of 2 dots left' }).waitFor()
    await note(fay.page, 'No live chat at checkout').locator('.vote-btn').click()
    await note(pat.page, 'No live chat at checkout').locator('.vote-count', { hasText: /^1$/ }).waitFor()
    await note(fay.page, 'Shipping cost shown late').locator('.vote-count', { hasText: /^2$/ }).waitFor()
    await fay.page.locator('button', { hasText: 'Close voting' }).click()
    await pat.page.locator('.voting-status', { hasText: 'Voting is closed' }).waitFor()
    await pat.page.locator('.workshop-bar button', { hasText: 'Results' }).click()
    const first = pat.page.locator('dialog.results li').first()
    await first.locator('strong', { hasText: 'Shipping cost shown late' }).waitFor()
    await first.locator('.result-votes', { hasText: '2' }).waitFor()
    await pat.page.locator('dialog.results button', { hasText: 'Close' }).click()
  })

  await step('the shared countdown runs and pauses for everyone', async () => {
    await fay.page.locator('.facilitator input[aria-label="What for"]').fill('Ideas on pain points')
    await fay.page.locator('.facilitator').getByRole('button', { name: 'Start', exact: true }).click()
    await pat.page.locator('.timer[data-state=running]', { hasText: 'Ideas on pain points' }).waitFor()
    await fay.page.locator('.facilitator button', { hasText: 'Pause' }).click()
    await pat.page.locator('.timer[data-state=paused]').waitFor()
    await fay.page.locator('summary', { hasText: 'Workshop' }).click()
  })

  await step('comments and reactions on a note reach the others', async () => {
    await note(pat.page, 'Pop-up hides the offer').click()
    await pat.page.locator('.details .comment-input').fill('Seen in three interviews')
    await pat.page.locator('.details button[type=submit]').click()
    await note(fay.page, 'Pop-up hides the offer').locator('.comment-count', { hasText: '1' }).waitFor()
    await note(fay.page, 'Pop-up hides the offer').click()
    await fay.page.locator('.details .comments li', { hasText: 'Seen in three interviews' }).waitFor()
    await fay.page.locator('.details .reaction', { hasText: '👍' }).click()
    await note(pat.page, 'Pop-up hides the offer').locator('.reaction-summary', { hasText: '👍1' }).waitFor()
  })
  await shot(fay.page, 'workshop.png')

  await step('undo takes back only one\'s own edit', async () => {
    await addNote(pat.page, stages[4], lanes[0], 'Oops, wrong board')
    await addNote(fay.page, stages[4], lanes[1], 'Keep me')
    await note(pat.page, 'Keep me').waitFor()
    await pat.page.locator('button[aria-label="Undo"]').click()
    await note(fay.page, 'Oops, wrong board').waitFor({ state: 'detached' })
    await note(pat.page, 'Keep me').waitFor()
    await pat.page.locator('button[aria-label="Redo"]').click()
    await note(fay.page, 'Oops, wrong board').waitFor()
  })

  await step('keyboard: arrows move focus between notes and cells, Enter edits, Escape leaves', async () => {
    await note(pat.page, 'Shipping cost shown late').focus()
    await pat.page.keyboard.press('ArrowDown') // the cell's add button
    await until(pat.page, () => document.activeElement.classList.contains('add-note'))
    await pat.page.keyboard.press('ArrowUp')
    await until(pat.page, () => document.activeElement.textContent.includes('Shipping cost'))
    await pat.page.keyboard.press('ArrowLeft')
    await until(pat.page, (stage) => document.activeElement.closest('.cell')?.dataset.stage === stage, stages[1])
    await note(pat.page, 'Shipping cost shown late').focus()
    await pat.page.keyboard.press('Enter')
    await pat.page.locator('.note-editor').waitFor()
    await pat.page.keyboard.press('End')
    await pat.page.keyboard.type(' (at checkout)')
    await pat.page.keyboard.press('Escape')
    await until(pat.page, () => document.activeElement.classList.contains('note') && !document.querySelector('.note-editor'))
    await note(fay.page, 'Shipping cost shown late (at checkout)').waitFor()
  })

  await step('participants follow the stage the facilitator shows', async () => {
    await pat.page.setViewportSize({ width: 900, height: 800 })
    await fay.page.setViewportSize({ width: 900, height: 800 })
    await fay.page.locator('label.toggle', { hasText: 'Lead' }).locator('input').check()
    await fay.page.evaluate((stage) => {
      const scroller = document.querySelector('.board-scroll')
      const head = document.querySelector(`.stage-head[data-stage="${stage}"]`)
      scroller.scrollLeft = head.offsetLeft - document.querySelector('.corner').offsetWidth
    }, stages[2])
    await pat.page.locator('.following', { hasText: 'Following Fay' }).waitFor()
    await until(pat.page, (stage) => {
      const scroller = document.querySelector('.board-scroll')
      const head = document.querySelector(`.stage-head[data-stage="${stage}"]`)
      return Math.abs(scroller.scrollLeft - (head.offsetLeft - document.querySelector('.corner').offsetWidth)) < 4
    }, stages[2])
    await fay.page.locator('label.toggle', { hasText: 'Lead' }).locator('input').uncheck()
    await fay.page.setViewportSize({ width: 1400, height: 900 })
  })

  await step('a private brainstorm keeps notes on each device until the facilitator reveals them', async () => {
    await fay.page.locator('summary', { hasText: 'Workshop' }).click()
    await fay.page.locator('button', { hasText: 'Start a private round' }).click()
    await pat.page.locator('.private-banner:not([hidden])').waitFor()
    await pat.page.evaluate(() => document.querySelector('.board-scroll').scrollTo(0, 0))
    await addNote(pat.page, stages[0], lanes[13] ?? lanes.at(-1), 'Secret: loyalty points at sign-up')
    await note(pat.page, 'Secret: loyalty points at sign-up').and(pat.page.locator('.private')).waitFor()
    if (await note(fay.page, 'Secret').count() !== 0) throw new Error('a private note reached the facilitator')
    const stored = await fay.page.evaluate(() => JSON.stringify(window.parcours.board.cards.toJSON()))
    if (stored.includes('Secret')) throw new Error('a private note is in the shared document')
    await fay.page.locator('button', { hasText: 'Reveal all notes' }).click()
    await note(fay.page, 'Secret: loyalty points at sign-up').waitFor()
    await pat.page.locator('.note:not(.private)', { hasText: 'Secret: loyalty points at sign-up' }).waitFor()
    await fay.page.locator('summary', { hasText: 'Workshop' }).click()
  })

  await step('exports download with the participant\'s token', async () => {
    await pat.page.locator('summary', { hasText: 'Export' }).click()
    for (const [label, expected] of [['Markdown', '# '], ['CSV', 'Shipping cost'], ['SVG map', '<svg']]) {
      const href = await pat.page.locator('.menu-item', { hasText: label }).getAttribute('href')
      const response = await pat.page.request.get(new URL(href, base).toString())
      const body = await response.text()
      if (!response.ok() || !body.includes(expected)) throw new Error(`${label} export: ${response.status()} ${body.slice(0, 200)}`)
    }
  })

  await step('the interface follows the browser\'s language and can be switched', async () => {
    const sam = await enter('Sam', { token: tokens.participant2, lang: 'fr-FR', viewport: { width: 820, height: 1180 } })
    await sam.page.locator('label.toggle', { hasText: 'Suivre l\'animateur' }).waitFor()
    await sam.page.locator('#conn', { hasText: 'Connecté' }).waitFor()
    await note(sam.page, 'Secret: loyalty points at sign-up').waitFor()
    // Tablet width: the page itself does not scroll sideways (the board does, inside it).
    await until(sam.page, () => document.documentElement.scrollWidth <= window.innerWidth)
    await shot(sam.page, 'tablet-fr.png')
    await sam.page.locator('.topbar select[aria-label="Langue"]').selectOption('en')
    await sam.page.locator('label.toggle', { hasText: 'Follow the facilitator' }).waitFor()
    await sam.context.close()
  })

  summary.board = await fay.page.evaluate(() => ({
    emotions: window.parcours.board.stageList().map((s) => s.emotion),
    personas: window.parcours.board.personaList().map((p) => p.name)
  }))
  await note(fay.page, 'Pop-up hides the offer').click()
  await fay.page.evaluate(() => document.querySelector('.board-scroll').scrollTo(0, 0))
  await shot(fay.page, 'board-workshop.png')
  await fay.context.close()
  await pat.context.close()
}

/** The history panel's read-only view of a past version. */
const view = (page) => page.locator('.history-view')
const viewNote = (page, text) => view(page).locator('.note', { hasText: text })

async function openHistory (page) {
  await page.locator('.history-toggle').click()
  await page.locator('.history-panel .session .entry').first().waitFor()
}

async function history () {
  const tokens = JSON.parse(process.env.PARCOURS_BROWSER_TOKENS ?? '{}')
  const pat = await enter('Pat', { token: tokens.participant })
  const fay = await enter('Fay', { token: tokens.facilitator })
  const { stages, lanes } = await layout(pat.page)

  await step('a participant fills the board', async () => {
    await addNote(pat.page, stages[0], lanes[0], 'Ads feel pushy')
    await addNote(pat.page, stages[1], lanes[3], 'Price unclear')
    await addNote(pat.page, stages[2], lanes[5], 'Slow delivery')
    await note(fay.page, 'Slow delivery').locator('.note-text', { hasText: /^Slow delivery$/ }).waitFor()
  })

  await step('the facilitator names the board as it is now', async () => {
    await openHistory(fay.page)
    await fay.page.locator('.milestone-form', { hasText: 'Names the board as it is now' }).waitFor()
    await fay.page.locator('.milestone-form input[name=name]').fill('Before the committee')
    await fay.page.locator('.milestone-form button[type=submit]').click()
    await fay.page.locator('.milestone', { hasText: 'Before the committee' }).waitFor()
    await fay.page.locator('.session .flag-chip', { hasText: 'Before the committee' }).first().waitFor()
  })

  await step('the participant edits, moves and deletes notes and adds another', async () => {
    await note(pat.page, 'Price unclear').dblclick()
    await pat.page.keyboard.press('End')
    await pat.page.keyboard.type(' on mobile')
    await pat.page.keyboard.press('Escape')
    await note(pat.page, 'Slow delivery').focus()
    await pat.page.keyboard.press('Alt+ArrowRight')
    await cell(pat.page, stages[3], lanes[5]).locator('.note', { hasText: 'Slow delivery' }).waitFor()
    await note(pat.page, 'Ads feel pushy').focus()
    await pat.page.keyboard.press('Delete')
    await note(pat.page, 'Ads feel pushy').waitFor({ state: 'detached' })
    await addNote(pat.page, stages[3], lanes[0], 'Chat works well')
    await note(fay.page, 'Chat works well').locator('.note-text', { hasText: /^Chat works well$/ }).waitFor({ state: 'attached' })
    await note(fay.page, 'Price unclear on mobile').waitFor({ state: 'attached' })
  })

  await step('the participant sees the timeline, a page at a time, and none of the other roles\' buttons', async () => {
    await openHistory(pat.page)
    const session = pat.page.locator('.history-panel .session').first()
    await session.locator('.session-authors', { hasText: 'Pat' }).waitFor()
    await session.locator('.flag-chip', { hasText: 'Before the committee' }).first().waitFor()
    await session.locator('.entry', { hasText: 'Pat' }).first().waitFor()
    // Every keystroke is an update: far more than one page of entries.
    const first = await session.locator('.entry').count()
    if (first !== 20) throw new Error(`the first page holds ${first} entries, not 20`)
    await session.locator('button.more', { hasText: 'Load more' }).click()
    await until(pat.page, () => document.querySelectorAll('.history-panel .session:first-child .entry').length > 20)
    if (await pat.page.locator('.milestone-form').count() !== 0) throw new Error('a participant is offered to name versions')
    if (await pat.page.locator('.milestone .tools').count() !== 0) throw new Error('a participant is offered to rename milestones')
    await pat.page.locator('.milestone', { hasText: 'Before the committee' }).locator('.milestone-open').click()
    await view(pat.page).locator('.version-banner').waitFor()
    if (await view(pat.page).locator('button.fork, button.restore').count() !== 0) throw new Error('a participant is offered fork or restore')
  })
  await shot(pat.page, 'history-participant.png')

  await step('a past version is read-only: no adding, dragging, voting or editing', async () => {
    await viewNote(pat.page, 'Price unclear').first().waitFor()
    if (await view(pat.page).locator('.add-note').count() !== 0) throw new Error('add buttons on a past version')
    if (await view(pat.page).locator('.note[draggable=true]').count() !== 0) throw new Error('draggable notes on a past version')
    if (await view(pat.page).locator('.vote-btn:not([disabled])').count() !== 0) throw new Error('vote buttons on a past version')
    if (await view(pat.page).locator('.stage-head .tools, .metric:not([disabled])').count() !== 0) throw new Error('tools on a past version')
    await viewNote(pat.page, 'Price unclear').first().dblclick()
    if (await pat.page.locator('.note-editor').count() !== 0) throw new Error('a past version\'s note opened for editing')
    if (await pat.page.locator('main.layout:not(.history-layout)').isVisible()) throw new Error('the live board is still shown')
    await view(pat.page).locator('button.back-live').click()
    await pat.page.locator('main.layout').first().waitFor()
    await view(pat.page).waitFor({ state: 'hidden' })
    await pat.page.locator('.history-toggle').click() // closed
    await pat.page.locator('.history-panel').waitFor({ state: 'hidden' })
  })

  await step('the facilitator opens the named version and sees what changed since, and by whom', async () => {
    await fay.page.locator('.history-panel button[aria-label="Refresh"]').click()
    await fay.page.locator('.milestone', { hasText: 'Before the committee' }).locator('.milestone-open').click()
    await view(fay.page).locator('.version-banner', { hasText: 'the board now' }).waitFor()
    await viewNote(fay.page, 'Ads feel pushy').and(fay.page.locator('.diff-removed')).locator('.diff-tag', { hasText: 'Removed · Pat' }).waitFor()
    const edited = viewNote(fay.page, 'Price unclear').and(fay.page.locator('.diff-edited'))
    await edited.locator('.diff-tag', { hasText: 'Edited · Pat' }).waitFor()
    await edited.locator('.diff-text del', { hasText: /^Price unclear$/ }).waitFor()
    await edited.locator('.diff-text ins', { hasText: /^Price unclear on mobile$/ }).waitFor()
    await edited.locator('.note-text', { hasText: /^Price unclear$/ }).waitFor()
    await viewNote(fay.page, 'Slow delivery').and(fay.page.locator('.diff-moved')).locator('.diff-tag', { hasText: 'Moved · Pat' }).waitFor()
    // Added since: not on this version, drawn as a ghost in its cell.
    await view(fay.page).locator(`.cell[data-stage="${stages[3]}"][data-lane="${lanes[0]}"] .note.ghost.diff-added`, { hasText: 'Chat works well' }).waitFor()
    await view(fay.page).locator('.change-list li', { hasText: 'Note removed from' }).waitFor()
  })
  // Wide enough to show the four stages the changes are in, beside the panel.
  await fay.page.setViewportSize({ width: 1760, height: 1300 })
  await fay.page.evaluate(() => document.querySelector('.history-view .board-scroll').scrollTo(0, 0))
  await shot(fay.page, 'history-version.png')
  await fay.page.setViewportSize({ width: 1400, height: 900 })

  await step('compared with the version before, the view shows what that version itself changed', async () => {
    await view(fay.page).locator('select[name=against]').selectOption('previous')
    await view(fay.page).locator('.diff-legend', { hasText: 'from the version before' }).waitFor()
    // The version named last was the last keystroke of "Slow delivery".
    await viewNote(fay.page, 'Slow delivery').and(fay.page.locator('.diff-edited, .diff-added')).waitFor()
    if (await view(fay.page).locator('.note.diff-removed').count() !== 0) throw new Error('a removal shown against the version before')
    await view(fay.page).locator('select[name=against]').selectOption('head')
    await viewNote(fay.page, 'Ads feel pushy').and(fay.page.locator('.diff-removed')).waitFor()
  })

  await step('the facilitator names an older version, renames that milestone, then deletes it', async () => {
    const older = fay.page.locator('.history-panel .session').first().locator('.entry').nth(12)
    const seq = await older.getAttribute('data-seq')
    await older.click()
    await fay.page.locator('.milestone-form', { hasText: `Names version ${seq}` }).waitFor()
    await fay.page.locator('.milestone-form input[name=name]').fill('Mid-edit')
    await fay.page.locator('.milestone-form button[type=submit]').click()
    await fay.page.locator('.milestone', { hasText: 'Mid-edit' }).locator('.milestone-meta', { hasText: `v${seq}` }).waitFor()
    await fay.page.locator('.milestone', { hasText: 'Mid-edit' }).locator('button[aria-label^="Rename"]').click()
    await fay.page.locator('dialog input[name=name]').fill('Halfway')
    await fay.page.locator('dialog button[type=submit]').click()
    await fay.page.locator('.milestone', { hasText: 'Halfway' }).waitFor()
    await fay.page.locator('.entry .flag-chip', { hasText: 'Halfway' }).waitFor()
    await fay.page.locator('.milestone', { hasText: 'Halfway' }).locator('button[aria-label^="Delete"]').click()
    await fay.page.locator('.milestone', { hasText: 'Halfway' }).waitFor({ state: 'detached' })
  })

  await step('forking the named version opens a new board with its content', async () => {
    await fay.page.locator('.milestone', { hasText: 'Before the committee' }).locator('.milestone-open').click()
    await view(fay.page).locator('.note.diff-removed', { hasText: 'Ads feel pushy' }).waitFor()
    await view(fay.page).locator('button.fork').click()
    await fay.page.waitForURL(/\/b\/browser-history-v\d+-[0-9a-f]{4}\?token=/)
    await fay.page.locator('#conn[data-state=connected]').waitFor()
    await cell(fay.page, stages[0], lanes[0]).locator('.note', { hasText: 'Ads feel pushy' }).waitFor()
    await cell(fay.page, stages[2], lanes[5]).locator('.note', { hasText: 'Slow delivery' }).waitFor()
    await note(fay.page, 'Price unclear').locator('.note-text', { hasText: /^Price unclear$/ }).waitFor()
    if (await note(fay.page, 'Chat works well').count() !== 0) throw new Error('the fork has a note added after its version')
    summary.fork = decodeURIComponent(new URL(fay.page.url()).pathname.split('/').pop())
    // The fork's own history says where it came from.
    await openHistory(fay.page)
    await fay.page.locator('.forked-from', { hasText: boardId }).waitFor()
  })
  await shot(fay.page, 'fork.png')
  await fay.context.close()

  const olga = await enter('Olga', { token: tokens.owner })
  await step('the owner\'s restore is refused while the board moved, then done', async () => {
    await openHistory(olga.page)
    await olga.page.locator('.milestone', { hasText: 'Before the committee' }).locator('.milestone-open').click()
    await view(olga.page).locator('button.restore').waitFor()
    if (await view(olga.page).locator('button.fork').count() !== 0) throw new Error('fork offered to a token that covers no new board')
    // Pat writes once more after the owner looked.
    await addNote(pat.page, stages[4], lanes[1], 'Late idea')
    await olga.page.locator('main.layout .note', { hasText: 'Late idea' }).waitFor({ state: 'attached' })
    await view(olga.page).locator('button.restore').click()
    await olga.page.locator('.toast-error', { hasText: 'The board changed while you were looking' }).waitFor()
    await view(olga.page).locator('.note.ghost.diff-added', { hasText: 'Late idea' }).waitFor()
    await view(olga.page).locator('button.restore').click()
    await olga.page.locator('.toast', { hasText: 'The board is back to version' }).waitFor()
    await view(olga.page).waitFor({ state: 'hidden' })
    await olga.page.locator('.milestone[data-kind=beforeRestore]').waitFor()
  })

  await step('after the restore every participant sees the old content without reloading', async () => {
    for (const p of [pat.page, olga.page]) {
      await cell(p, stages[0], lanes[0]).locator('.note', { hasText: 'Ads feel pushy' }).waitFor()
      await cell(p, stages[2], lanes[5]).locator('.note', { hasText: 'Slow delivery' }).waitFor()
      await note(p, 'Price unclear').locator('.note-text', { hasText: /^Price unclear$/ }).waitFor()
      await note(p, 'Chat works well').waitFor({ state: 'detached' })
      await note(p, 'Late idea').waitFor({ state: 'detached' })
    }
    summary.notes = await shown(pat.page)
  })
  await olga.page.evaluate(() => document.querySelector('.board-scroll').scrollTo(0, 0))
  await shot(olga.page, 'restored.png')

  await step('the history panel follows the interface language', async () => {
    await pat.page.locator('.topbar select[aria-label="Language"]').selectOption('fr')
    await pat.page.locator('.history-toggle', { hasText: 'Historique' }).click()
    await pat.page.locator('.history-panel h2', { hasText: 'Historique' }).waitFor()
    await pat.page.locator('.history-panel h3', { hasText: 'Jalons' }).waitFor()
    await pat.page.locator('.milestone', { hasText: 'Before the committee' }).locator('.milestone-open').click()
    await view(pat.page).locator('.readonly-badge', { hasText: 'Lecture seule' }).waitFor()
    await view(pat.page).locator('button.back-live', { hasText: 'Revenir à la carte en direct' }).waitFor()
  })
  await shot(pat.page, 'history-fr.png')
  await pat.context.close()
  await olga.context.close()
}

async function home () {
  const context = await chromiumBrowser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  page.setDefaultTimeout(STEP_TIMEOUT)
  await step('the home page lists boards and creates one from a template', async () => {
    await page.goto(`${base}/`)
    await page.locator('.board-item a', { hasText: 'Q3 onboarding' }).waitFor()
    await page.locator('#template').selectOption('customer-experience')
    await page.locator('#board-title').fill('Store visit')
    await page.locator('#board-id').fill(`${boardId}-store`)
    await page.locator('.create-board button[type=submit]').click()
    await page.waitForURL(`**/b/${boardId}-store`)
    await page.locator('dialog input[name=name]').fill('Ana')
    await page.locator('dialog button[type=submit]').click()
    await page.locator('.board-title', { hasText: 'Store visit' }).waitFor()
    await page.locator('.stage-head h2', { hasText: 'Afterwards' }).waitFor()
  })
  await context.close()
}

const scenarios = { home, collaboration, workshop, history }
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
