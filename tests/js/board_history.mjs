// The demo board's import and history in headless Chromium (the system's, through playwright-core).
//   node board_history.mjs import <base url> <folder for screenshots> <bad file>... <good file>
//     The home page refuses each bad file with the server's message and opens nothing, then
//     starts a board from the good one and shows its strokes.
//   node board_history.mjs history <base url> <folder for screenshots>
//     Alice draws, a history point is taken, she erases everything, the History panel lists
//     the points with previews, and "Restore this version" brings the strokes back for her and
//     for Bob.
// Prints one JSON object with what the pages saw. Exit status 0 when every step ran (the test
// judges the values), 1 with {"error"} otherwise.
import { chromium } from 'playwright-core'
import path from 'node:path'

const [, , scenario, baseUrl, outDir, ...files] = process.argv
const CHROMIUM = process.env.WHITEBOARD_CHROMIUM || '/usr/bin/chromium'
const WAIT = { timeout: 10_000 }
// A history point is taken at the first snapshot after a change (the test's server snapshots
// every second).
const POINT_WAIT = { timeout: 20_000, polling: 250 }
// Not UTC, so that "local time" is visible in what the panel shows.
const TIMEZONE = 'Asia/Kolkata'
const result = {
  steps: [], page_errors: [], console_errors: [], screenshots: [], timezone: TIMEZONE
}
const step = name => { result.steps.push(name); result.step = name }

const strokes = page => page.locator('svg.board path.ink')
const strokeList = page => strokes(page).evaluateAll(els => els.map(el => ({
  id: el.dataset.id,
  d: el.getAttribute('d'),
  stroke: el.getAttribute('stroke'),
  width: Number(el.getAttribute('stroke-width'))
})).sort((a, b) => (a.id < b.id ? -1 : 1)))
const strokeCount = (page, n) => page.waitForFunction(
  n => document.querySelectorAll('svg.board path.ink').length === n, n, WAIT)

async function newPage (browser, label) {
  const context = await browser.newContext({
    viewport: { width: 1200, height: 760 }, locale: 'en-US', timezoneId: TIMEZONE
  })
  const page = await context.newPage()
  page.on('pageerror', e => result.page_errors.push(`${label}: ${e.message}`))
  // A refused create answers 400/413, which Chromium reports as a console error.
  page.on('console', m => {
    if (m.type() === 'error' && !/status of (400|413)/.test(m.text())) {
      result.console_errors.push(`${label}: ${m.text()}`)
    }
  })
  return page
}

const live = page => page.locator('.status[data-state=connected]').waitFor(WAIT)

async function typeName (page, name) {
  await page.locator('.dialog input').fill(name)
  await page.locator('.dialog button[type=submit]').click()
}

async function chooseFile (page, file) {
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser', WAIT),
    page.getByRole('button', { name: 'Start from an SVG file…' }).click()
  ])
  await chooser.setFiles(file)
  await page.locator('.dialog .chosen', { hasText: path.basename(file) }).waitFor(WAIT)
}

async function drag (page, points, steps = 8) {
  const [first, ...rest] = points
  await page.mouse.move(first.x, first.y)
  await page.mouse.down()
  for (const p of rest) await page.mouse.move(p.x, p.y, { steps })
  await page.mouse.up()
}

async function shot (page, name) {
  const file = path.join(outDir, name)
  await page.screenshot({ path: file })
  result.screenshots.push(file)
}

const roomKeys = page => page.evaluate(
  () => Object.keys(localStorage).filter(k => k.startsWith('whiteboard:room:')))

async function importScenario (browser) {
  const page = await newPage(browser, 'alice')
  await page.goto(`${baseUrl}/`)
  await page.locator('.dialog input').fill('Alice')
  const bad = files.slice(0, -1)
  const good = files[files.length - 1]
  result.refused = []
  for (const file of bad) {
    step(`the home page refuses ${path.basename(file)}`)
    await chooseFile(page, file)
    await page.locator('.dialog button[type=submit]').click()
    const error = page.locator('.dialog .error')
    await error.filter({ hasText: /\S/ }).waitFor(WAIT)
    await page.locator('.dialog button[type=submit]:enabled').waitFor(WAIT)
    result.refused.push({
      file: path.basename(file),
      message: await error.textContent(),
      url: page.url(),
      rooms_kept: await roomKeys(page)
    })
  }
  await shot(page, 'import-refused.png')

  step(`the home page starts a board from ${path.basename(good)}`)
  await chooseFile(page, good)
  await page.locator('.dialog button[type=submit]').click()
  await page.waitForURL(/\/rooms\/[0-9a-f-]{36}$/, WAIT)
  result.invite_url = page.url()
  await live(page)
  const notice = page.locator('.notice[data-imported]')
  await notice.waitFor(WAIT)
  result.notice = await notice.textContent()
  result.imported = Number(await notice.getAttribute('data-imported'))
  await strokeCount(page, result.imported)
  result.strokes = await strokes(page).count()
  result.rooms_kept = await roomKeys(page)
  await shot(page, 'import-board.png')

  step('a reload shows the imported board without the note')
  await page.reload()
  await live(page)
  await strokeCount(page, result.imported)
  result.notice_after_reload = await page.locator('.notice').count()
}

// Polls the API from the page until the newest history point draws exactly what the board's
// export draws now, with `paths` strokes; returns its `at`.
async function waitForPoint (page, roomId, paths) {
  const deadline = Date.now() + POINT_WAIT.timeout
  for (;;) {
    const at = await page.evaluate(async ({ roomId, paths }) => {
      const token = JSON.parse(localStorage.getItem(`whiteboard:room:${roomId}`)).token
      const headers = { authorization: `Bearer ${token}` }
      const base = `/api/rooms/${roomId}`
      const history = await (await fetch(`${base}/history`, { headers })).json()
      const [newest] = history.points || []
      if (!newest || newest.paths !== paths) return null
      const [now, then] = await Promise.all([
        fetch(`${base}/svg`, { headers }).then(r => r.text()),
        fetch(`${base}/svg?at=${encodeURIComponent(newest.at)}`, { headers }).then(r => r.text())
      ])
      return now === then ? newest.at : null
    }, { roomId, paths })
    if (at) return at
    if (Date.now() > deadline) throw new Error(`no history point with ${paths} strokes`)
    await page.waitForTimeout(POINT_WAIT.polling)
  }
}

async function historyScenario (browser) {
  step('alice starts a board and bob joins it')
  const alice = await newPage(browser, 'alice')
  await alice.goto(`${baseUrl}/`)
  await typeName(alice, 'Alice')
  await alice.waitForURL(/\/rooms\/[0-9a-f-]{36}$/, WAIT)
  const roomId = alice.url().slice(-36)
  result.room_id = roomId
  await live(alice)
  const bob = await newPage(browser, 'bob')
  await bob.goto(alice.url())
  await typeName(bob, 'Bob')
  await live(bob)

  step('alice draws two strokes')
  await drag(alice, [{ x: 300, y: 300 }, { x: 500, y: 310 }, { x: 700, y: 300 }])
  await alice.locator('.swatch[data-color="#e03131"]').click()
  await drag(alice, [{ x: 300, y: 500 }, { x: 500, y: 470 }, { x: 700, y: 520 }])
  result.drawn = await strokeList(alice)
  await bob.waitForFunction(
    ds => [...document.querySelectorAll('svg.board path.ink')].map(el => el.getAttribute('d'))
      .sort().join('\n') === ds.sort().join('\n'),
    result.drawn.map(s => s.d), WAIT)

  step('a history point holds the two strokes')
  result.drawn_at = await waitForPoint(alice, roomId, 2)

  step('alice erases everything')
  await alice.locator('.tool[data-tool=eraser]').click()
  // Small steps: the eraser takes what lies under each pointer move.
  await drag(alice, [{ x: 500, y: 250 }, { x: 500, y: 560 }], 80)
  await strokeCount(alice, 0)
  await strokeCount(bob, 0)

  step('a history point holds the empty board')
  result.erased_at = await waitForPoint(alice, roomId, 0)

  step('the History panel lists the points with previews')
  await alice.getByRole('button', { name: 'History', exact: true }).click()
  const panel = alice.getByRole('complementary', { name: 'History', exact: true })
  await panel.locator('li.point').first().waitFor(WAIT)
  await alice.waitForFunction(
    () => document.querySelector('.panel').getAttribute('aria-busy') === 'false', null, WAIT)
  result.toggle_expanded = await alice.getByRole('button', { name: 'History', exact: true })
    .getAttribute('aria-expanded')
  result.api_points = await alice.evaluate(async roomId => {
    const token = JSON.parse(localStorage.getItem(`whiteboard:room:${roomId}`)).token
    const response = await fetch(`/api/rooms/${roomId}/history`, {
      headers: { authorization: `Bearer ${token}` }
    })
    return (await response.json()).points
  }, roomId)
  // The two points of this test are among the newest: their previews are in view.
  for (const at of [result.erased_at, result.drawn_at]) {
    await panel.locator(`li.point[data-at="${at}"] .preview[data-state]`).waitFor(WAIT)
  }
  // Each preview shown is compared, pixel for pixel, with the API's SVG of its point drawn from a
  // data: URL (the page's CSP keeps scripts from reading blob: URLs; a canvas may draw them).
  const token = await alice.evaluate(
    roomId => JSON.parse(localStorage.getItem(`whiteboard:room:${roomId}`)).token, roomId)
  result.listed = await panel.locator('li.point').evaluateAll((items, { roomId, token }) => {
    const pixels = img => {
      const canvas = document.createElement('canvas')
      canvas.width = img.naturalWidth
      canvas.height = img.naturalHeight
      const context = canvas.getContext('2d')
      context.drawImage(img, 0, 0, canvas.width, canvas.height)
      return context.getImageData(0, 0, canvas.width, canvas.height).data
    }
    return Promise.all(items.map(async li => {
      const box = li.querySelector('.preview')
      const img = box.querySelector('img')
      const item = {
        at: li.dataset.at,
        datetime: li.querySelector('time').getAttribute('datetime'),
        time: li.querySelector('time').textContent,
        count: li.querySelector('.count').textContent,
        preview_state: box.dataset.state || null,
        preview_text: box.textContent,
        button: li.querySelector('button.restore').textContent
      }
      if (!img) return item
      const response = await fetch(`/api/rooms/${roomId}/svg?at=${encodeURIComponent(li.dataset.at)}`,
        { headers: { authorization: `Bearer ${token}` } })
      const text = await response.text()
      const expected = new Image()
      expected.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(text)
      await expected.decode()
      const shown = pixels(img)
      const wanted = pixels(expected)
      let ink = 0
      for (let i = 3; i < shown.length; i += 4) if (shown[i] > 0) ink++
      return {
        ...item,
        preview_src: img.src.split(':')[0],
        preview_alt: img.alt,
        preview_ink_pixels: ink,
        preview_is_the_point: shown.length === wanted.length && shown.every((v, i) => v === wanted[i]),
        api_paths: (text.match(/<path /g) || []).length
      }
    }))
  }, { roomId, token })
  await shot(alice, 'history-panel.png')

  step('"Restore this version" brings the two strokes back')
  await panel.locator(`li.point[data-at="${result.drawn_at}"]`)
    .getByRole('button', { name: 'Restore this version' }).click()
  const message = panel.locator('.message[data-kind=done]')
  await message.waitFor(WAIT)
  result.restore_message = await message.textContent()
  await strokeCount(alice, 2)
  await strokeCount(bob, 2)
  result.alice_after_restore = await strokeList(alice)
  result.bob_after_restore = await strokeList(bob)
  await shot(alice, 'history-restored.png')

  step('Escape closes the panel')
  await alice.keyboard.press('Escape')
  await panel.waitFor({ state: 'hidden', ...WAIT })
  result.toggle_expanded_after_close = await alice.getByRole('button', { name: 'History', exact: true })
    .getAttribute('aria-expanded')
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
})
let status = 0
try {
  if (scenario === 'import') await importScenario(browser)
  else if (scenario === 'history') await historyScenario(browser)
  else throw new Error(`unknown scenario ${scenario}: import or history`)
  delete result.step
} catch (e) {
  result.error = `${result.step}: ${e.message}`
  status = 1
  for (const [i, context] of browser.contexts().entries()) {
    for (const page of context.pages()) await shot(page, `failure-${i}.png`).catch(() => {})
  }
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(result) + '\n')
process.exit(status)
