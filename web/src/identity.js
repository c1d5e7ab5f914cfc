// Who this participant is: the access token from the page's URL (if any), the participant id and
// display name, and a colour. Without a token (a server in open mode) the id is random, made once
// and kept in localStorage, and the name is asked once and remembered.

const ID_KEY = 'parcours.participantId'
const NAME_KEY = 'parcours.name'
const COLOUR_KEY = 'parcours.colour'

export const PALETTE = ['#e4572e', '#2a9d8f', '#7b2cbf', '#1d70b8', '#c2185b', '#00796b', '#b45309', '#4f46e5']

/** The token passed as `?token=` to the page, or null. */
export function pageToken () {
  return new URLSearchParams(location.search).get('token')
}

/**
 * The claims of a JWT, read without checking its signature (the server checks it; the page only
 * needs the participant's id, name and role to label its own edits).
 */
export function decodeClaims (token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    const padded = payload + '='.repeat((4 - (payload.length % 4)) % 4)
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return {}
  }
}

export function randomHex (bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('')
}

function stored (key, make) {
  let value = localStorage.getItem(key)
  if (!value) {
    value = make()
    localStorage.setItem(key, value)
  }
  return value
}

/**
 * This participant: `{ id, name, colour, role, token, nameFromToken, scope }`. `name` is empty
 * when it must still be asked. `role` is the token's, or `owner` on an open server (which lets
 * anyone change anything) and for the server's admin key given as the token (which is not a JWT,
 * and which the server takes as owner of every board). `scope` is the token's `board` claim (a
 * board id or a `prefix*`), or null when not limited to some boards.
 */
export function identify () {
  const token = pageToken()
  const claims = token ? decodeClaims(token) : {}
  const adminKey = !!token && token.split('.').length !== 3
  const id = typeof claims.sub === 'string' && claims.sub
    ? claims.sub
    : stored(ID_KEY, () => 'p-' + randomHex(6))
  const nameFromToken = typeof claims.name === 'string' && claims.name !== ''
  const name = nameFromToken ? claims.name : (localStorage.getItem(NAME_KEY) || '')
  const colour = stored(COLOUR_KEY, () => PALETTE[Math.floor(Math.random() * PALETTE.length)])
  const role = typeof claims.role === 'string' ? claims.role : (token && !adminKey ? 'viewer' : 'owner')
  const scope = typeof claims.board === 'string' ? claims.board : null
  return { id, name, colour, role, token, nameFromToken, scope }
}

export function rememberName (name) {
  localStorage.setItem(NAME_KEY, name)
}

export function rememberColour (colour) {
  localStorage.setItem(COLOUR_KEY, colour)
}

/** Whether a role may change stages, lanes, personas and the workshop controls. */
export function canFacilitate (role) {
  return role === 'facilitator' || role === 'owner'
}

/** Whether a role may add and edit notes. */
export function canEdit (role) {
  return role !== 'viewer'
}

/** Whether a role may restore the board to a past version in place. */
export function canRestore (role) {
  return role === 'owner'
}

/**
 * Whether `me` may create a board whose id starts with `boardId` (as a fork of it does): anyone on
 * an open server or with the admin key; with a token, a facilitator or owner whose token covers a
 * prefix of boards (a token for one board covers no new board).
 */
export function canCreateBoardBeside (me, boardId) {
  if (!me.scope) return true
  return canFacilitate(me.role) && me.scope.endsWith('*') && boardId.startsWith(me.scope.slice(0, -1))
}
