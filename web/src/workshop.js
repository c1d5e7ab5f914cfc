// The workshop around the board: the shared countdown, dot-voting rounds and their results, the
// private brainstorm round, and following the facilitator's view.
//
// The timer and voting keys are the document's `workshop` map (SCHEMA.md §2.6), changed only by
// facilitators. Following is presence, not document: a leading facilitator publishes the stage it
// shows in its awareness state (`lead: { stage }`), and followers scroll to it.

import { h } from './dom.js'
import { t } from './i18n.js'

const FOLLOW_KEY = 'parcours.follow'

export class Workshop {
  constructor (page) {
    this.page = page
    this.board = page.board
    /** Whether this participant follows the facilitator (remembered). */
    this.following = localStorage.getItem(FOLLOW_KEY) !== 'false'
    /** Whether this facilitator leads (publishes the stage it shows). */
    this.leading = false
    /** The leader's stage this view last scrolled to. */
    this.followedStage = null
    this.lastLeadSent = 0
    this.board.workshop.observe(() => this.publishDraftsIfRevealed())
  }

  get w () {
    return this.board.workshop
  }

  isPrivateRound () {
    return this.w.get('brainstormPrivate') === true
  }

  /**
   * Once the facilitator has revealed the round (and this client has synced, so that it knows),
   * publishes this participant's private notes as ordinary cards. A participant who was offline
   * at the reveal publishes when back.
   */
  publishDraftsIfRevealed () {
    if (!this.page.drafts.list().length || !this.page.synced || this.isPrivateRound()) return
    const stages = this.board.stageList().map((s) => s.id)
    const lanes = this.board.laneList().map((l) => l.id)
    if (!stages.length || !lanes.length) return
    // A private note still being typed is published with what it has so far.
    if (this.page.editing?.draft) this.page.stopEdit(false)
    const drafts = this.page.drafts.list()
    this.page.drafts.save([])
    this.board.transact(() => {
      for (const d of drafts) {
        if (!d.text.trim()) continue
        this.board.addCard(stages.includes(d.stage) ? d.stage : stages[0], lanes.includes(d.lane) ? d.lane : lanes[0], d.text,
          { id: d.id, color: d.color, createdAt: d.createdAt })
      }
    })
    this.page.scheduleRender()
  }

  buildBar (bar) {
    const fac = this.page.mayFacilitate
    this.timerEl = h('span', { class: 'timer', role: 'timer', 'aria-live': 'off' })
    this.votingEl = h('span', { class: 'voting-status' })
    this.privateEl = h('span', { class: 'private-banner', hidden: true }, t('brainstormOn'))
    this.followEl = h('span', { class: 'following muted' })
    const followBox = h('label', { class: 'toggle' },
      h('input', {
        type: 'checkbox',
        checked: this.following,
        onchange: (e) => {
          this.following = e.target.checked
          localStorage.setItem(FOLLOW_KEY, String(this.following))
          this.followedStage = null
          this.follow([...this.page.awareness.getStates().entries()])
        }
      }), t('follow'))
    const leadBox = fac ? h('label', { class: 'toggle' },
      h('input', {
        type: 'checkbox',
        checked: this.leading,
        onchange: (e) => {
          this.leading = e.target.checked
          this.page.awareness.setLocalStateField('lead', this.leading ? { stage: this.visibleStage() } : null)
        }
      }), t('present')) : null
    bar.replaceChildren(...[
      this.timerEl,
      this.votingEl,
      h('button', { class: 'small', onclick: () => this.showResults() }, t('results')),
      this.privateEl,
      h('span', { class: 'spacer' }),
      this.followEl,
      followBox,
      leadBox,
      fac ? this.controls() : null].filter(Boolean))
    this.render()
  }

  /** The facilitator's controls: timer, voting round, private brainstorm. */
  controls () {
    const minutes = h('input', { type: 'number', min: 1, max: 240, step: 1, value: Math.round((this.w.get('timerDurationMs') ?? 300000) / 60000), 'aria-label': t('minutes'), class: 'narrow' })
    const label = h('input', { type: 'text', value: this.w.get('timerLabel') ?? '', 'aria-label': t('timerLabel'), placeholder: t('timerLabel') })
    const dots = h('input', { type: 'number', min: 0, max: 99, step: 1, value: this.w.get('votesPerParticipant') ?? 3, 'aria-label': t('votesPerParticipant'), class: 'narrow', name: 'dots' })
    this.pauseBtn = h('button', { onclick: () => this.pauseOrResume() }, t('pause'))
    return h('details', { class: 'menu facilitator' },
      h('summary', {}, t('workshop')),
      h('div', { class: 'menu-list wide' },
        h('fieldset', {}, h('legend', {}, t('timer')),
          h('label', {}, h('span', {}, t('minutes')), minutes),
          h('label', {}, h('span', {}, t('timerLabel')), label),
          h('div', { class: 'row' },
            h('button', {
              class: 'primary',
              onclick: () => {
                const ms = Math.max(1, Number(minutes.value) || 5) * 60000
                this.board.setWorkshop({ timerDurationMs: ms, timerEndsAt: Date.now() + ms, timerRemainingMs: null, timerLabel: label.value.trim() })
              }
            }, t('start')),
            this.pauseBtn,
            h('button', { onclick: () => this.board.setWorkshop({ timerEndsAt: null, timerRemainingMs: null }) }, t('reset')))),
        h('fieldset', {}, h('legend', {}, t('voting')),
          h('label', {}, h('span', {}, t('votesPerParticipant')), dots),
          h('div', { class: 'row' },
            h('button', { class: 'primary', onclick: () => this.board.openVotingRound(Number(dots.value) || 0) }, t('openRound')),
            h('button', { onclick: () => this.board.setWorkshop({ votingOpen: false }) }, t('closeRound')))),
        h('fieldset', {}, h('legend', {}, t('brainstorm')),
          h('div', { class: 'row' },
            h('button', { onclick: () => this.board.setWorkshop({ brainstormPrivate: true, brainstormRevealAt: null }) }, t('brainstormStart')),
            h('button', { class: 'primary', onclick: () => this.board.setWorkshop({ brainstormPrivate: false, brainstormRevealAt: Date.now() }) }, t('brainstormReveal'))))))
  }

  pauseOrResume () {
    const endsAt = this.w.get('timerEndsAt')
    const remaining = this.w.get('timerRemainingMs')
    if (typeof endsAt === 'number') {
      this.board.setWorkshop({ timerRemainingMs: Math.max(0, endsAt - Date.now()), timerEndsAt: null })
    } else if (typeof remaining === 'number') {
      this.board.setWorkshop({ timerEndsAt: Date.now() + remaining, timerRemainingMs: null })
    }
  }

  render () {
    if (!this.timerEl) return
    this.renderTimer()
    const v = this.board.votingState()
    let text
    if (v.frozen) text = t('votingClosed')
    else if (v.open && v.budget > 0) text = `${t('roundOpen', { n: v.round })} · ${t('votesLeft', { n: v.left, total: v.budget })}`
    else if (v.open) text = `${t('roundOpen', { n: v.round })} · ${t('votesFree')}`
    else text = t('votesFree')
    this.votingEl.textContent = text
    this.votingEl.dataset.left = Number.isFinite(v.left) ? String(v.left) : ''
    this.privateEl.hidden = !this.isPrivateRound()
  }

  renderTimer () {
    if (!this.timerEl) return
    const endsAt = this.w.get('timerEndsAt')
    const remaining = this.w.get('timerRemainingMs')
    const label = this.w.get('timerLabel') ?? ''
    let ms = null
    let state = 'idle'
    if (typeof endsAt === 'number') {
      ms = Math.max(0, endsAt - Date.now())
      state = ms === 0 ? 'done' : 'running'
    } else if (typeof remaining === 'number') {
      ms = remaining
      state = 'paused'
    }
    this.timerEl.dataset.state = state
    this.timerEl.hidden = ms === null
    if (this.pauseBtn) this.pauseBtn.textContent = state === 'paused' ? t('resume') : t('pause')
    if (ms === null) return
    const secs = Math.ceil(ms / 1000)
    const clock = `${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`
    this.timerEl.textContent = `⏱ ${label ? label + ' · ' : ''}${state === 'done' ? t('timeUp') : clock}${state === 'paused' ? ' ⏸' : ''}`
  }

  /** The votes of the round, most first, in a dialog. */
  showResults () {
    const v = this.board.votingState()
    const stages = new Map(this.board.stageList().map((s) => [s.id, s.name]))
    const lanes = new Map(this.board.laneList().map((l) => [l.id, l.title]))
    const cards = [...this.board.cards.keys()].map((id) => this.board.card(id)).filter((c) => c && c.voteTotal > 0)
      .sort((a, b) => b.voteTotal - a.voteTotal || a.text.localeCompare(b.text))
    const dlg = h('dialog', { class: 'dialog results' },
      h('h2', {}, v.round ? t('resultsTitle', { n: v.round }) : t('resultsTitleFree')),
      h('ol', {}, cards.map((c) => h('li', {},
        h('span', { class: 'result-votes' }, `● ${c.voteTotal}`), ' ',
        h('span', { class: 'swatch-inline', style: { background: c.color } }), ' ',
        h('strong', {}, c.text || '…'), ' ',
        h('span', { class: 'muted small' }, `${stages.get(c.stage) ?? '?'} × ${lanes.get(c.lane) ?? '?'}`)))),
      h('div', { class: 'dialog-actions' }, h('button', { class: 'primary', onclick: () => dlg.close() }, t('close'))))
    dlg.addEventListener('close', () => dlg.remove())
    document.body.append(dlg)
    dlg.showModal()
  }

  // ----- following the facilitator --------------------------------------------------------------

  /** The stage whose column is at the left of this view. */
  visibleStage () {
    const scroller = this.page.scrollEl
    const left = scroller.getBoundingClientRect().left + (this.page.gridEl.querySelector('.corner')?.offsetWidth ?? 0)
    const heads = [...this.page.gridEl.querySelectorAll('.stage-head')]
    const head = heads.find((el) => el.getBoundingClientRect().right > left + 40) ?? heads[0]
    return head?.dataset.stage ?? null
  }

  onScroll () {
    if (!this.leading) return
    const now = performance.now()
    if (now - this.lastLeadSent < 150) {
      clearTimeout(this.leadTimer)
      this.leadTimer = setTimeout(() => this.onScroll(), 160)
      return
    }
    this.lastLeadSent = now
    const stage = this.visibleStage()
    if (stage !== this.page.awareness.getLocalState()?.lead?.stage) this.page.awareness.setLocalStateField('lead', { stage })
  }

  /** Scrolls to the stage a leading facilitator shows, when following. */
  follow (states) {
    if (!this.followEl) return
    const mine = this.page.doc.clientID
    const leader = states.find(([client, s]) => client !== mine && s?.lead?.stage && (s.user?.role === 'facilitator' || s.user?.role === 'owner'))
    this.followEl.textContent = leader && this.following && !this.leading ? t('following', { name: leader[1].user.name }) : ''
    if (!leader || !this.following || this.leading) return
    const stage = leader[1].lead.stage
    if (stage === this.followedStage) return
    const head = this.page.gridEl.querySelector(`.stage-head[data-stage="${CSS.escape(stage)}"]`)
    if (!head) return
    this.followedStage = stage
    const scroller = this.page.scrollEl
    const corner = this.page.gridEl.querySelector('.corner')?.offsetWidth ?? 0
    scroller.scrollTo({ left: head.offsetLeft - corner, behavior: 'smooth' })
  }
}
