// Drives headless Chromium for tests/mermaid/render.sh over its DevTools pipe
// (--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4, so no
// port and no npm package): opens PAGE in a 1024 x 768 window, waits for the
// page's window.RENDERED (page.js: one PASS or FAIL line a diagram), prints
// those lines, and saves each diagram's screenshot as OUT/NAME.png. One
// browser for everything: a Chromium start costs about 3 s here.
//
//   node chromium.js PAGE OUT
'use strict';
const {spawn} = require('child_process');
const fs = require('fs');
const path = require('path');

const [page, out] = process.argv.slice(2);
const log = fs.openSync(path.join(out, 'chromium.log'), 'w');
// Root needs --no-sandbox; a profile of its own keeps ~/.config out of it.
const browser = spawn(
  'chromium',
  [
    '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run',
    '--remote-debugging-pipe', `--user-data-dir=${path.join(out, 'profile')}`, '--window-size=1024,768',
    'about:blank',
  ],
  {stdio: ['ignore', log, log, 'pipe', 'pipe']});
const [toBrowser, fromBrowser] = [browser.stdio[3], browser.stdio[4]];

let nextId = 1;
const pending = new Map();
const listeners = [];
let buffered = '';
fromBrowser.setEncoding('utf8');
fromBrowser.on('data', (chunk) => {
  buffered += chunk;
  for (let end; (end = buffered.indexOf('\0')) >= 0;) {
    const msg = JSON.parse(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    if (msg.id && pending.has(msg.id)) {
      const {resolve, reject, method} = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
      else resolve(msg.result);
    } else if (msg.method) {
      listeners.forEach((l) => l(msg));
    }
  }
});
const send = (method, params = {}, sessionId = undefined) =>
  new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, {resolve, reject, method});
    toBrowser.write(JSON.stringify({id, method, params, sessionId}) + '\0');
  });
const event = (method) => new Promise((resolve) => listeners.push((m) => m.method === method && resolve(m)));

async function main() {
  const {targetId} = await send('Target.createTarget', {url: 'about:blank'});
  const {sessionId} = await send('Target.attachToTarget', {targetId, flatten: true});
  const call = (method, params) => send(method, params, sessionId);
  await call('Page.enable');
  const loaded = event('Page.loadEventFired');
  await call('Page.navigate', {url: `file://${page}`});
  await loaded;
  const evaluated = await call('Runtime.evaluate', {
    expression: 'window.RENDERED',
    awaitPromise: true,
    returnByValue: true,
  });
  if (evaluated.exceptionDetails) throw new Error(`the page: ${evaluated.exceptionDetails.text}`);
  if (!evaluated.result.value) throw new Error('no window.RENDERED: the page\'s scripts did not load');
  const {lines, shots} = evaluated.result.value;
  for (const {name, x, y, width, height} of shots) {
    const {data} = await call('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: true,
      clip: {x, y, width, height, scale: 1},
    });
    fs.writeFileSync(path.join(out, `${name}.png`), Buffer.from(data, 'base64'));
  }
  return lines;
}

const timeout = setTimeout(() => {
  console.log('FAIL page: no result from Chromium within 60 s');
  browser.kill('SIGKILL');
  process.exit(1);
}, 60000);
main()
  .then((lines) => {
    console.log(lines.join('\n'));
    return 0;
  })
  .catch((e) => {
    console.log(`FAIL page: ${e.message}`);
    return 1;
  })
  .then((code) => {
    clearTimeout(timeout);
    send('Browser.close').catch(() => {});
    browser.on('exit', () => process.exit(code));
    setTimeout(() => {
      browser.kill('SIGKILL');
      process.exit(code);
    }, 5000).unref();
  });
