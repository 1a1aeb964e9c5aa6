// Two people on the demo board in headless Chromium (the system's, through playwright-core):
// Alice starts a board from "/", Bob opens her invite link, Alice draws, Bob sees her strokes and
// her cursor, Bob erases one, Alice sees it go. Prints one JSON object with what each page saw.
//   node browser.mjs <server base url> <folder for screenshots>
// Exit status 0 when every step ran (the test judges the values), 1 with {"error"} otherwise.
import { chromium } from 'playwright-core'
import path from 'node:path'

const [, , baseUrl, outDir] = process.argv
const CHROMIUM = process.env.WHITEBOARD_CHROMIUM || '/usr/bin/chromium'
const WAIT = { timeout: 10_000 }
const result = { steps: [], page_errors: [], console_errors: [], screenshots: [] }
const step = name => { result.steps.push(name); result.step = name }

const strokes = page => page.locator('svg.board path.ink')
const strokeList = page => strokes(page).evaluateAll(els => els.map(el => ({
  id: el.dataset.id,
  d: el.getAttribute('d'),
  stroke: el.getAttribute('stroke'),
  width: Number(el.getAttribute('stroke-width'))
})))

async function newPage (browser, label) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } })
  const page = await context.newPage()
  page.on('pageerror', e => result.page_errors.push(`${label}: ${e.message}`))
  page.on('console', m => { if (m.type() === 'error') result.console_errors.push(`${label}: ${m.text()}`) })
  return page
}

async function typeName (page, name) {
  await page.locator('.dialog input').fill(name)
  await page.locator('.dialog button[type=submit]').click()
}

const live = page => page.locator('.status[data-state=connected]').waitFor(WAIT)

async function drag (page, points) {
  const [first, ...rest] = points
  await page.mouse.move(first.x, first.y)
  await page.mouse.down()
  for (const p of rest) await page.mouse.move(p.x, p.y, { steps: 8 })
  await page.mouse.up()
}

async function shot (page, name) {
  const file = path.join(outDir, name)
  await page.screenshot({ path: file })
  result.screenshots.push(file)
}

async function run (browser) {
  step('alice starts a board from the home page')
  const alice = await newPage(browser, 'alice')
  await alice.goto(`${baseUrl}/`)
  await typeName(alice, 'Alice')
  await alice.waitForURL(/\/rooms\/[0-9a-f-]{36}$/, WAIT)
  result.invite_url = alice.url()
  await live(alice)
  result.alice_prompted_after_create = await alice.locator('.backdrop').count() > 0

  step('bob opens the invite link and types his name')
  const bob = await newPage(browser, 'bob')
  await bob.goto(result.invite_url)
  await typeName(bob, 'Bob')
  await live(bob)

  step('alice draws two strokes')
  await drag(alice, [{ x: 300, y: 300 }, { x: 600, y: 420 }])
  await alice.locator('.swatch[data-color="#e03131"]').click()
  await alice.locator('.width input').fill('12')
  await drag(alice, [{ x: 320, y: 560 }, { x: 480, y: 470 }, { x: 640, y: 580 }, { x: 800, y: 480 }])
  await alice.mouse.move(900, 330, { steps: 5 })
  result.alice_strokes = await strokeList(alice)

  step("bob sees alice's strokes")
  // Bob may first see a stroke part-drawn (a version pushed while Alice drew): wait for the last.
  await bob.waitForFunction(
    ds => [...document.querySelectorAll('svg.board path.ink')].map(el => el.getAttribute('d'))
      .join('\n') === ds.join('\n'),
    result.alice_strokes.map(s => s.d), WAIT)
  result.bob_strokes = await strokeList(bob)

  step("bob sees alice's cursor label")
  const label = bob.locator('.cursor .label', { hasText: 'Alice' })
  await label.waitFor(WAIT)
  result.bob_sees_cursor_label = await label.textContent()
  result.bob_badges = await bob.locator('.people .badge').count()

  step("alice sees bob's cursor label")
  await bob.mouse.move(200, 640, { steps: 5 })
  await alice.locator('.cursor .label', { hasText: 'Bob' }).waitFor(WAIT)
  result.alice_sees_cursor_label = 'Bob'
  // The cursor lands where Bob's pointer stopped (board coordinates are the page's here).
  await alice.waitForFunction(
    () => document.querySelector('.cursor').style.transform === 'translate(200px, 640px)', null, WAIT)
  result.alice_sees_bob_at = await alice.locator('.cursor').evaluate(el => el.style.transform)
  await shot(bob, 'board-bob.png')
  await shot(alice, 'board-alice.png')

  step('bob erases the first stroke')
  await bob.locator('.tool[data-tool=eraser]').click()
  await bob.mouse.click(450, 360)
  await alice.waitForFunction(() => document.querySelectorAll('svg.board path.ink').length === 1,
    null, WAIT)
  result.alice_strokes_after_erase = await strokeList(alice)
  result.bob_strokes_after_erase = await strokeList(bob)

  step('the Download SVG link exports the board')
  const href = await bob.locator('a.download').getAttribute('href')
  result.download_href = href
  result.export = await bob.evaluate(async href => {
    const response = await fetch(href)
    const text = await response.text()
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      paths: (text.match(/<path /g) || []).length
    }
  }, href)

  step('a reload goes straight back to the board')
  await alice.reload()
  await live(alice)
  await strokes(alice).first().waitFor(WAIT)
  result.reload_prompted = await alice.locator('.backdrop').count() > 0
  result.strokes_after_reload = await strokes(alice).count()

  step('an unknown room says so')
  const stranger = await newPage(browser, 'stranger')
  await stranger.goto(`${baseUrl}/rooms/not-a-room`)
  await typeName(stranger, 'Carol')
  const error = stranger.locator('.dialog .error')
  await error.filter({ hasText: /\S/ }).waitFor(WAIT)
  result.unknown_room_message = await error.textContent()
  delete result.step
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
})
let status = 0
try {
  await run(browser)
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
