// The governance dashboard: a hash router over the pages, and the token
// prompt. Every page uses only the public HTTP/JSON API (docs/http.md).
import './app.css';

import { get, onUnauthenticated, setToken, token } from './api.js';
import { renderBoard } from './board.js';
import { renderObjectives } from './objectives.js';
import { renderStream, renderStreams } from './stream.js';
import { esc, failed } from './ui.js';
import { renderVla } from './vla.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
const nav = document.getElementById('nav');
const signOut = document.getElementById('sign-out');
let cleanup = () => {};
let signedIn = false;

const app = {
  query: new URLSearchParams(),
  setLive(state) {
    live.textContent = state === 'live' ? '● Live' : '◌ Reconnecting…';
    live.dataset.state = state;
  },
  failed(error) {
    if (error && error.status === 401) return;  // the login is shown
    failed(main, error);
  },
};

const ROUTES = [
  [/^\/?$/, (m) => renderBoard(main, app)],
  [/^\/vla\/([a-z][a-z0-9-]*)$/, (m) => renderVla(main, app, m[1])],
  [/^\/streams$/, () => renderStreams(main, app)],
  [/^\/stream\/([a-z][a-z0-9-]*)$/, (m) => renderStream(main, app, m[1])],
  [/^\/objectives$/, () => renderObjectives(main, app)],
];

function route() {
  if (!signedIn) return;
  cleanup();
  cleanup = () => {};
  live.textContent = '';
  delete main.dataset.ready;
  const hash = decodeURIComponent(location.hash.replace(/^#/, ''));
  const [path, query = ''] = hash.split('?');
  app.query = new URLSearchParams(query);
  for (const a of nav.querySelectorAll('a')) {
    const here = a.getAttribute('href') === `#${path || '/'}` ||
      (a.dataset.section && path.startsWith(a.dataset.section));
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const [pattern, render] of ROUTES) {
    const m = pattern.exec(path);
    if (m) {
      cleanup = render(m) || (() => {});
      return;
    }
  }
  main.innerHTML = `<h1>Not found</h1><p>No page ${esc(path)}. <a href="#/">The board</a>.</p>`;
}

function showLogin(message) {
  signedIn = false;
  cleanup();
  cleanup = () => {};
  live.textContent = '';
  nav.hidden = true;
  signOut.hidden = true;
  document.title = 'Sign in · VLA dashboard';
  main.innerHTML = '<form class="login" id="login" aria-labelledby="login-h">' +
    '<h1 id="login-h">Sign in</h1>' +
    '<p>This server asks for a token (one line of its tokens file; ask its administrator). ' +
    'It is kept for this browser tab only.</p>' +
    (message ? `<p class="error" role="alert" id="login-error">${esc(message)}</p>` : '') +
    '<label for="token">Token</label>' +
    '<input id="token" name="token" type="password" autocomplete="off" required>' +
    '<button type="submit">Sign in</button></form>';
  const form = main.querySelector('#login');
  form.querySelector('#token').focus();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setToken(form.token.value.trim());
    start();
  });
}

// Checks the token (or that the server needs none) with one cheap call.
async function start() {
  try {
    await get('/v1/valueStreams', { pageSize: 1 });
  } catch (e) {
    if (e.status === 401) return;  // onUnauthenticated showed the login
    failed(main, e);
    return;
  }
  signedIn = true;
  nav.hidden = false;
  signOut.hidden = !token();
  route();
}

onUnauthenticated((message, sent) => {
  // Several calls in flight may be refused together: one login form.
  if (!sent && main.querySelector('#login')) return;
  showLogin(sent ? `The server refused the token: ${message}` : '');
});

signOut.addEventListener('click', () => {
  setToken('');
  showLogin('');
});

window.addEventListener('hashchange', route);
start();
